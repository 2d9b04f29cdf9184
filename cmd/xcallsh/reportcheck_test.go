package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/report"
)

// makeReport writes a report of `xcallsh run args...` and returns its text.
func makeReport(t *testing.T, args ...string) string {
	t.Helper()
	rep := filepath.Join(t.TempDir(), "r.lua")
	if st, _, errOut := xcallsh(t, "", append([]string{"run", "--report", rep}, args...)...); st != exitOK {
		t.Fatalf("%q: exit %d\n%s", args, st, errOut)
	}
	text, err := os.ReadFile(rep)
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

// A report records the build that made it. Another build's report
// replays as any other; when the replay diverges, the verdict names both
// builds. A report without the line (older than it) still replays.
func TestReportMadeBy(t *testing.T) {
	text := makeReport(t, "hello", "--seed", "3")
	line := "--! made-by: " + report.Identity() + "\n"
	contains(t, "report", text, line)
	other := "--! made-by: xcallsh v0.1.0 rev 0123abcd (go1.20)\n"
	for _, c := range []struct {
		name, text string
		status     int
		want       string
	}{
		{"another build", strings.Replace(text, line, other, 1), exitOK, "reproduced"},
		{"no made-by", strings.Replace(text, line, "", 1), exitOK, "reproduced"},
		{"another build, diverged", strings.Replace(strings.Replace(text, line, other, 1), `printk("greet: hello`, `printk("greet: HELLO`, 1),
			exitFailed, "the report was made by xcallsh v0.1.0 rev 0123abcd (go1.20); this replay ran on " + report.Identity()},
	} {
		st, out, errOut := xcallsh(t, "", "run", tempFile(t, "r.lua", c.text))
		if st != c.status || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d, want %d and %q\n%s%s", c.name, st, c.status, c.want, out, errOut)
		}
	}
}

// A replay under another --seed than the report's own is never
// "reproduced": the seed is named as the difference, exit 1. The report's
// own seed, given explicitly, reproduces.
func TestReplayOtherSeed(t *testing.T) {
	file := tempFile(t, "r.lua", makeReport(t, "hello", "--seed", "7"))
	st, out, _ := xcallsh(t, "", "run", file, "--seed", "0")
	if st != exitFailed || !strings.Contains(out, "diverged: the report was made with seed 7; this replay used --seed 0\n") {
		t.Errorf("--seed 0: exit %d\n%s", st, out)
	}
	if st, out, _ := xcallsh(t, "", "run", file, "--seed", "7"); st != exitOK || !strings.Contains(out, "reproduced:") {
		t.Errorf("--seed 7: exit %d\n%s", st, out)
	}
}
