package main

import (
	"flag"
	"io"
	"strings"
	"testing"
)

// Every flag of every subcommand is in its help, in `xcallsh help CMD`, in
// `xcallsh CMD --help` (which exit 0) and in `xcallsh help`.
func TestHelpListsEveryFlag(t *testing.T) {
	st, all, _ := xcallsh(t, "", "help")
	if st != exitOK {
		t.Fatalf("help: exit %d", st)
	}
	for _, c := range subcommands() {
		name := c.name
		if name == "" {
			name = "shell"
		}
		st, help, errOut := xcallsh(t, "", "help", name)
		if st != exitOK || errOut != "" {
			t.Errorf("help %s: exit %d\n%s", name, st, errOut)
		}
		if !strings.Contains(all, c.synopsis()) || !strings.Contains(help, c.synopsis()) {
			t.Errorf("help %s: no %q", name, c.synopsis())
		}
		args := []string{c.name}
		if c.name == "" { // xcallsh --help alone is the whole usage
			args = []string{"--seed", "0"}
		}
		st, dashHelp, errOut := xcallsh(t, "", append(args, "--help")...)
		if st != exitOK || errOut != "" || dashHelp != help {
			t.Errorf("%s --help: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", name, st, errOut, dashHelp, help)
		}
		c.flags(io.Discard).VisitAll(func(f *flag.Flag) {
			spelled := "--" + f.Name
			if len(f.Name) == 1 {
				spelled = "-" + f.Name
			}
			for _, text := range []string{help, all} {
				if !containsWord(text, spelled) {
					t.Errorf("%s: flag %s missing from the help:\n%s", name, spelled, text)
				}
			}
		})
	}
	for _, args := range [][]string{{"-h"}, {"--help"}} {
		if st, out, _ := xcallsh(t, "", args...); st != exitOK || out != all {
			t.Errorf("%v: exit %d, output differs from help", args, st)
		}
	}
	if st, _, errOut := xcallsh(t, "", "help", "nosuch"); st != exitBadArgs || !strings.Contains(errOut, `unknown command "nosuch"`) {
		t.Errorf("help nosuch: exit %d\n%s", st, errOut)
	}
}

// containsWord reports whether text has word followed by a space, comma or
// line end.
func containsWord(text, word string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], word)
		if j < 0 {
			return false
		}
		end := i + j + len(word)
		if end == len(text) || strings.ContainsRune(" ,\n", rune(text[end])) {
			return true
		}
		i = end
	}
}
