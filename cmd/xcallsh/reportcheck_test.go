package main

import (
	"os"
	"path/filepath"
	"regexp"
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
	// Another build's report would carry its own seal; this one, edited,
	// goes without (TestReportEditedLines tests the seal).
	text = regexp.MustCompile(`(?m)^--! header-sum: .*\n`).ReplaceAllString(text, "")
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

// An edit of any "--!" line of a sealed report is found by its header-sum:
// the report is damaged (exit 2), and the message names the header or the
// trailer and, when the replay tells, the kind of line. A report without a
// header-sum (older than it) is replayed as before.
func TestReportEditedLines(t *testing.T) {
	text := makeReport(t, "csd_stall", "--seed", "7")
	contains(t, "report", text, "--! header-sum: ")
	header := `r.lua: damaged report: a "--!" line of its header was edited (the header-sum does not match)`
	trailer := `r.lua: damaged report: a "--!" line of its trailer was edited (the header-sum does not match)`
	edit := func(re, repl string) string {
		t.Helper()
		edited := regexp.MustCompile(re).ReplaceAllString(text, repl)
		if edited == text {
			t.Fatalf("%s: no such line", re)
		}
		return edited
	}
	for _, c := range []struct {
		name, text string
		want       []string
	}{
		// The schedule's decisions are events of the record: another seed
		// draws others, even where the run does not depend on them.
		{"seed", edit(`(?m)^--! seed: 7$`, "--! seed: 8"), []string{header, "and the replay went another way",
			"first difference at event #2, 0.000000000s in the replay:\n  <operator> decision: N=1 V="}},
		{"hash", edit(`(?m)^--! hash: .(.*)$`, "--! hash: 0$1"), []string{header, "the report's hash line was edited"}},
		{"sum", edit(`(?m)^(--! sum: ...)(.)`, "${1}x"), nil},
		{"end", edit(`(?m)^--! end$`, "--! end  "), []string{trailer, "the report's end line was edited"}},
		{"machine", edit(`(?m)^--! machine: x86-4$`, "--! machine: arm64-8"),
			[]string{header, "the report's machine line was edited: it says arm64-8, the machine in the report is x86-4"}},
		{"outcome", edit(`(?m)^--! outcome: ok$`, "--! outcome: failed"),
			[]string{header, "the report's outcome lines were edited: the replay reproduces the trace and checksums, and ends with outcome ok, not failed"}},
		{"made-by", edit(`(?m)^--! made-by: .*$`, "--! made-by: xcallsh v0.1.0 (go1.20)"), []string{header, "the edited line does not change the run"}},
		{"detail", edit(`(?m)^--! detail:$`, "--! detail: boom"), []string{header, "the report's outcome lines were edited"}},
	} {
		if c.name == "sum" {
			// A hex digit for a hex digit, so that the line still parses.
			c.text = regexp.MustCompile(`(?m)^(--! sum: ...).`).ReplaceAllStringFunc(text, func(s string) string {
				if s[len(s)-1] == '0' {
					return s[:len(s)-1] + "1"
				}
				return s[:len(s)-1] + "0"
			})
			c.want = []string{trailer, "the report's sum lines were edited: the replay reproduces the recorded outcome ok"}
		}
		st, out, errOut := xcallsh(t, "", "run", tempFile(t, "r.lua", c.text))
		if st != exitBadArgs {
			t.Errorf("%s: exit %d, want %d\n%s%s", c.name, st, exitBadArgs, out, errOut)
		}
		contains(t, c.name, out, c.want...)
	}
	// An edited schedule-format is refused before the run, as any other
	// format is, and the message says the header was edited.
	edited := edit(`(?m)^--! schedule-format: \d+$`, "--! schedule-format: 1")
	st, out, errOut := xcallsh(t, "", "run", tempFile(t, "r.lua", edited))
	if st != exitBadArgs || out != "" {
		t.Errorf("schedule-format: exit %d, want %d\n%s%s", st, exitBadArgs, out, errOut)
	}
	contains(t, "schedule-format", errOut, "r.lua: cannot replay: this report was made by "+report.Identity()+" (schedule format 1)",
		"\nbut a \"--!\" line of its header was edited (the header-sum does not match): the schedule-format or made-by line may not be the one written\n")
	// Without its header-sum, a report is read as before: an edited
	// checksum the replay does not notice is no divergence.
	old := regexp.MustCompile(`(?m)^--! header-sum: .*\n`).ReplaceAllString(text, "")
	old = regexp.MustCompile(`(?m)^--! end$`).ReplaceAllString(old, "--! end  ")
	if st, out, _ := xcallsh(t, "", "run", tempFile(t, "r.lua", old)); st != exitOK || !strings.Contains(out, "reproduced:") {
		t.Errorf("old report: exit %d\n%s", st, out)
	}
}
