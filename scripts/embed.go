// Package scripts holds the built-in scenarios: Lua scripts embedded in the
// binary so that `xcallsh run NAME` works from any directory.
package scripts

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.lua
var files embed.FS

// Scenario is one built-in scenario.
type Scenario struct {
	Name        string // file name without .lua
	Description string // the first comment line
	Source      string
}

// All lists the built-in scenarios by name.
func All() []Scenario {
	entries, _ := fs.ReadDir(files, ".")
	var out []Scenario
	for _, e := range entries {
		if s, ok := Lookup(strings.TrimSuffix(e.Name(), ".lua")); ok {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup finds a built-in scenario by name.
func Lookup(name string) (Scenario, bool) {
	b, err := files.ReadFile(name + ".lua")
	if err != nil {
		return Scenario{}, false
	}
	src := string(b)
	desc := ""
	for _, line := range strings.Split(src, "\n") {
		if t, ok := strings.CutPrefix(line, "--"); ok {
			desc = strings.TrimSpace(t)
			break
		}
	}
	return Scenario{Name: name, Description: desc, Source: src}, true
}
