package report

import (
	"runtime"
	"runtime/debug"
)

// Identity names the build of xcallsh that is running: its module version,
// its VCS revision when the build recorded one, and the Go release, as in
// "xcallsh v1.2.3 rev 0123abcd (go1.26.8)" or "xcallsh devel (go1.26.8)".
// `xcallsh version` prints it, and every report records it (made-by).
func Identity() string {
	version, rev, modified := "devel", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	id := "xcallsh " + version
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		id += " rev " + rev
		if modified {
			id += "+dirty"
		}
	}
	return id + " (" + runtime.Version() + ")"
}
