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

// Every subcommand, by name, answers every way of asking for help with its
// own usage on stdout, nothing on stderr, exit 0: `xcallsh help CMD`, and
// -h, -help, --help among its flags, before or after its arguments. The
// table names every subcommand, so a new one fails here until it is added.
func TestHelpEverySubcommand(t *testing.T) {
	for _, tc := range []struct {
		name string   // as `xcallsh help NAME` spells it
		args []string // a valid command line of it, before the help flag
	}{
		{"shell", []string{"-m", "x86-4"}},
		{"run", []string{"run", "hello"}},
		{"explore", []string{"explore", "hello"}},
		{"torture", []string{"torture", "--duration", "1s"}},
		{"bench", []string{"bench"}},
		{"litmus", []string{"litmus", "../../scripts/litmus/SB.litmus"}},
		{"scenarios", []string{"scenarios"}},
		{"machines", []string{"machines"}},
		{"version", []string{"version"}},
		{"help", []string{"help"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := findSubcommand(tc.name)
			if tc.name == "shell" {
				c = shellCommand()
			}
			if c == nil {
				t.Fatalf("no subcommand %q", tc.name)
			}
			want := c.usage()
			if !strings.HasPrefix(want, "usage: "+c.synopsis()+"\n\n"+c.summary+"\n") {
				t.Errorf("usage does not open with the synopsis and summary:\n%s", want)
			}
			lines := c.flagLines()
			if c.hasFlags() != (len(lines) > 0) || len(lines) > 0 && !strings.Contains(want, "\nflags:\n") {
				t.Errorf("flags: hasFlags %v, %d lines, usage:\n%s", c.hasFlags(), len(lines), want)
			}
			for _, l := range lines {
				if !strings.Contains(want, "\n  "+l+"\n") {
					t.Errorf("flag line %q missing from the usage", l)
				}
			}
			calls := [][]string{{"help", tc.name}}
			for _, h := range []string{"-h", "-help", "--help"} {
				calls = append(calls, append(append([]string(nil), tc.args...), h))
				if len(tc.args) > 1 && tc.name != "shell" {
					// Before the arguments too.
					calls = append(calls, append([]string{tc.args[0], h}, tc.args[1:]...))
				}
			}
			for _, args := range calls {
				st, out, errOut := xcallsh(t, "", args...)
				if st != exitOK || errOut != "" || out != want {
					t.Errorf("%q: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", args, st, errOut, out, want)
				}
			}
		})
	}
	var names []string
	for _, c := range subcommands() {
		names = append(names, c.name)
	}
	if got, want := strings.Join(names, ","), ",run,explore,torture,bench,litmus,scenarios,machines,version,help"; got != want {
		t.Errorf("subcommands %s; the table above has %s", got, want)
	}
}
