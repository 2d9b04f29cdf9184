package report

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
)

// A report records the schedule format of the engine that wrote it, and
// its marker says v2.
func TestWriteScheduleFormat(t *testing.T) {
	good := goodReport(t)
	if !strings.HasPrefix(good, "--!xcallsh report v2\n") {
		t.Errorf("marker: %q", good[:30])
	}
	if want := fmt.Sprintf("\n--! block: 1\n--! schedule-format: %d\n", emu.ScheduleFormat); !strings.Contains(good, want) {
		t.Errorf("no %q in\n%s", want, good)
	}
	if _, err := Parse("r.lua", good); err != nil {
		t.Errorf("same format: %v", err)
	}
}

// unsealed is the good report without its seal (the edits below would
// otherwise only make it edited, which the replay judges, not Parse).
func unsealed(t *testing.T) string {
	return regexp.MustCompile(`(?m)^--! header-sum: .*\n`).ReplaceAllString(goodReport(t), "")
}

// A report of another schedule format, every v1 report among them, is
// refused by name with the build that can replay it.
func TestParseOtherScheduleFormat(t *testing.T) {
	good := unsealed(t)
	id := regexp.MustCompile(`(?m)^--! made-by: .*$`)
	format := regexp.MustCompile(`(?m)^--! schedule-format: \d+\n`)
	v1 := func(madeBy string) string {
		s := strings.Replace(format.ReplaceAllString(good, ""), "report v2", "report v1", 1)
		if madeBy == "" {
			return regexp.MustCompile(`(?m)^--! made-by: .*\n`).ReplaceAllString(s, "")
		}
		return id.ReplaceAllString(s, "--! made-by: "+madeBy)
	}
	other := func(n int, madeBy string) string {
		return id.ReplaceAllString(format.ReplaceAllString(good, fmt.Sprintf("--! schedule-format: %d\n", n)), "--! made-by: "+madeBy)
	}
	mod := "go run github.com/xcallsh/xcallsh/cmd/xcallsh"
	for _, c := range []struct {
		name, src string
		format    int
		want      string
	}{
		{"v1, a release", v1("xcallsh v1.2.3 rev 0123abcd5678 (go1.26.8)"), 1,
			"r.lua: cannot replay: this report was made by xcallsh v1.2.3 rev 0123abcd5678 (go1.26.8) (schedule format 1); this xcallsh replays schedule format 2 only\n" +
				"replay it with: " + mod + "@v1.2.3 run r.lua"},
		{"v1, a commit", v1("xcallsh devel rev 0123abcd5678 (go1.26.8)"), 1,
			"(schedule format 1); this xcallsh replays schedule format 2 only\nreplay it with: " + mod + "@0123abcd5678 run r.lua"},
		{"v1, a dirty commit", v1("xcallsh devel rev 0123abcd5678+dirty (go1.26.8)"), 1,
			"replay it with: " + mod + "@0123abcd5678 run r.lua\n(the build that made it had local changes, which that revision lacks)"},
		{"v1, a pseudo-version", v1("xcallsh v0.0.0-20261201120000-0123abcd5678 (go1.26.8)"), 1,
			"replay it with: " + mod + "@v0.0.0-20261201120000-0123abcd5678 run r.lua"},
		{"v1, devel", v1("xcallsh devel (go1.26.8)"), 1,
			"this report was made by xcallsh devel (go1.26.8) (schedule format 1); this xcallsh replays schedule format 2 only\n" +
				"its made-by line names no release or commit, so which xcallsh made it cannot be told; replay it with\n" +
				"an xcallsh from before schedule format 2 (a checkout of a commit before the one that added\n" +
				"emu.ScheduleFormat = 2: git log -S 'ScheduleFormat = 2' -- emu/sched.go): go run ./cmd/xcallsh run r.lua"},
		{"v1, no made-by", v1(""), 1,
			"r.lua: cannot replay: this report was made by an xcallsh older than the made-by line (schedule format 1)"},
		{"v1, a forged rev", v1("xcallsh devel rev 0123abcd;rm (go1.26.8)"), 1, "its made-by line names no release or commit"},
		{"a later format", other(3, "xcallsh v2.0.0 (go1.30.1)"), 3,
			"this report was made by xcallsh v2.0.0 (go1.30.1) (schedule format 3); this xcallsh replays schedule format 2 only\n" +
				"replay it with: " + mod + "@v2.0.0 run r.lua"},
		{"a later format, devel", other(3, "xcallsh devel (go1.30.1)"), 3,
			"replay it with\nan xcallsh whose emu.ScheduleFormat is 3: go run ./cmd/xcallsh run r.lua"},
		{"v2 saying format 1", other(1, "xcallsh devel rev 00112233aabb (go1.26.8)"), 1, "@00112233aabb run r.lua"},
	} {
		if strings.Contains(c.src, "schedule-format: 2") && c.format != 2 {
			t.Fatalf("%s: the edit did not happen", c.name)
		}
		_, err := Parse("r.lua", c.src)
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Format != c.format || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v\nwant a FormatError (format %d) with %q", c.name, err, c.format, c.want)
		}
	}
	// A file name that needs quoting is quoted in the command.
	_, err := Parse("my report.lua", v1("xcallsh v1.2.3 (go1.26.8)"))
	if err == nil || !strings.HasSuffix(err.Error(), "@v1.2.3 run 'my report.lua'") {
		t.Errorf("quoting: %v", err)
	}
}

// Damage is found before the format: a v2 report without its
// schedule-format line, or with a bad one, is damaged; a damaged v1
// report is damaged, not of another format.
func TestParseScheduleFormatDamage(t *testing.T) {
	good := unsealed(t)
	line := lineOf(good, "--! schedule-format:")
	for _, c := range []struct{ name, src, want string }{
		{"missing", regexp.MustCompile(`(?m)^--! schedule-format: \d+\n`).ReplaceAllString(good, ""),
			`damaged report: the header has no "schedule-format" line`},
		{"zero", strings.Replace(good, "--! schedule-format: 2", "--! schedule-format: 0", 1),
			fmt.Sprintf("r.lua:%d: damaged report: schedule-format 0 out of range 1-1048576", line)},
		{"not a number", strings.Replace(good, "--! schedule-format: 2", "--! schedule-format: two", 1),
			fmt.Sprintf(`r.lua:%d: damaged report: schedule-format "two": invalid syntax`, line)},
		{"twice", strings.Replace(good, "--! schedule-format: 2", "--! schedule-format: 2\n--! schedule-format: 2", 1),
			fmt.Sprintf(`r.lua:%d: damaged report: "schedule-format" appears twice (first on line %d)`, line+1, line)},
		{"damaged v1", strings.Replace(strings.Replace(good, "report v2", "report v1", 1), "--! seed: 5", "--! seed: x", 1),
			`damaged report: seed "x": invalid syntax`},
		{"v3", strings.Replace(good, "report v2", "report v3", 1),
			`r.lua:1: damaged report: unsupported report version "v3" (this xcallsh reads v1 and v2)`},
	} {
		_, err := Parse("r.lua", c.src)
		var d *DamagedError
		if !errors.As(err, &d) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want a DamagedError with %q", c.name, err, c.want)
		}
	}
}
