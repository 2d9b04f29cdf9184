package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
)

// A report of another schedule format is refused before it runs (exit 2,
// nothing on stdout), naming the build that can replay it: every v1
// report, and a v2 report of another format. A report of this format
// replays.
func TestReplayScheduleFormat(t *testing.T) {
	text := makeReport(t, "hello", "--seed", "3")
	contains(t, "report", text, "--!xcallsh report v2\n", fmt.Sprintf("\n--! schedule-format: %d\n", emu.ScheduleFormat))
	if st, out, errOut := xcallsh(t, "", "run", tempFile(t, "r.lua", text)); st != exitOK || !strings.Contains(out, "reproduced:") {
		t.Fatalf("same format: exit %d\n%s%s", st, out, errOut)
	}
	// As an older or newer xcallsh would have written it, sealed or not:
	// the format is refused whatever the seal says.
	unseal := regexp.MustCompile(`(?m)^--! header-sum: .*\n`)
	madeBy := regexp.MustCompile(`(?m)^--! made-by: .*$`)
	format := regexp.MustCompile(`(?m)^--! schedule-format: \d+\n`)
	v1 := strings.Replace(format.ReplaceAllString(unseal.ReplaceAllString(text, ""), ""), "report v2", "report v1", 1)
	v1 = madeBy.ReplaceAllString(v1, "--! made-by: xcallsh v0.9.0 rev 0123abcd5678 (go1.26.8)")
	v3 := format.ReplaceAllString(unseal.ReplaceAllString(text, ""), "--! schedule-format: 3\n")
	v3 = madeBy.ReplaceAllString(v3, "--! made-by: xcallsh devel rev 89abcdef0123 (go1.27.1)")
	for _, c := range []struct{ name, text, want string }{
		{"v1", v1, "/v1.lua: cannot replay: this report was made by xcallsh v0.9.0 rev 0123abcd5678 (go1.26.8) (schedule format 1); " +
			"this xcallsh replays schedule format 2 only\nreplay it with: go run github.com/xcallsh/xcallsh/cmd/xcallsh@v0.9.0 run "},
		{"v1 without made-by", madeBy.ReplaceAllString(v1, "--"), "/v1 without made-by.lua: cannot replay: this report was made by " +
			"an xcallsh older than the made-by line (schedule format 1); this xcallsh replays schedule format 2 only\n" +
			"its made-by line names no release or commit"},
		{"format 3", v3, "(schedule format 3); this xcallsh replays schedule format 2 only\n" +
			"replay it with: go run github.com/xcallsh/xcallsh/cmd/xcallsh@89abcdef0123 run "},
	} {
		file := tempFile(t, c.name+".lua", c.text)
		st, out, errOut := xcallsh(t, "", "run", file)
		quoted := file
		if strings.Contains(file, " ") {
			quoted = "'" + file + "'"
		}
		if st != exitBadArgs || out != "" || !strings.Contains(errOut, c.want) || !strings.HasSuffix(errOut, " run "+quoted+"\n") {
			t.Errorf("%s: exit %d, want %d and %q on stderr\nstdout: %s\nstderr: %s", c.name, st, exitBadArgs, c.want, out, errOut)
		}
		// --seed does not make it replayable.
		if st, _, _ := xcallsh(t, "", "run", file, "--seed", "3"); st != exitBadArgs {
			t.Errorf("%s --seed 3: exit %d", c.name, st)
		}
	}
}

// The trace hash is over the exact events of the record: two runs that
// differ only by one nanosecond of a task's busy wait (no log line, no
// other output differs) have different hashes; the same run twice, the
// same hash.
func TestTraceHashNanosecond(t *testing.T) {
	hash := func(delay int, flags ...string) string {
		t.Helper()
		src := fmt.Sprintf(`spawn(1, "busy", function() ndelay(%d) smp_call_function_single(2, function() end, nil, 1) end)
run(ms(1))
`, delay)
		st, out, errOut := xcallsh(t, "", append([]string{"run", tempFile(t, "ns.lua", src)}, flags...)...)
		if st != exitOK || out != "" && len(flags) == 0 {
			t.Fatalf("ndelay(%d): exit %d\n%s%s", delay, st, out, errOut)
		}
		m := regexp.MustCompile(`, trace ([0-9a-f]{16})\n$`).FindStringSubmatch(errOut)
		if m == nil {
			t.Fatalf("no summary line:\n%s", errOut)
		}
		return m[1]
	}
	a, again, b := hash(1000), hash(1000), hash(1001)
	if a != again {
		t.Errorf("the same run: trace %s, then %s", a, again)
	}
	if a == b {
		t.Errorf("runs one nanosecond apart: the same trace %s", a)
	}
	// Who watches the record does not change it.
	dir := t.TempDir()
	if w := hash(1000, "--timeline", "--trace", filepath.Join(dir, "t.json")); w != a {
		t.Errorf("with a timeline and a Perfetto trace: trace %s, without %s", w, a)
	}
	if w := hash(1000, "--trace", filepath.Join(dir, "t.txt")); w != a {
		t.Errorf("with an ftrace trace: trace %s, without %s", w, a)
	}
}

// The hashes the README and docs/reports.md quote are the ones xcallsh
// prints: a change of what the model records changes them, and the quotes
// must follow.
func TestQuotedHashes(t *testing.T) {
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	st, _, errOut := xcallsh(t, "", "run", filepath.Join("..", "..", "scripts", "hello.lua"))
	summary := errOut[strings.LastIndex(strings.TrimSuffix(errOut, "\n"), "\n")+1:]
	if st != exitOK || !strings.HasPrefix(summary, "xcallsh: x86-4 seed 0: ") {
		t.Fatalf("hello: exit %d\n%s", st, errOut)
	}
	contains(t, "README.md", read("README.md"), "\n"+summary)

	// The shell session of docs/shell.md, as docs/reports.md replays it.
	rep := filepath.Join(t.TempDir(), "stall.lua")
	if st, out, errOut := xcallsh(t, "param csdlock_debug on\nstall 1 6s\n"+
		"function greet() printk(\"greet on CPU %d\", smp_processor_id()) end\n"+
		"on 0 return smp_call_function_single(1, greet, nil, 1)\nreport "+rep+"\n"); st != exitOK {
		t.Fatalf("the shell session: exit %d\n%s%s", st, out, errOut)
	}
	st, out, _ := xcallsh(t, "", "run", rep)
	line := regexp.MustCompile(`(?m)^reproduced: .*$`).FindString(out)
	if st != exitOK || line == "" {
		t.Fatalf("replay: exit %d\n%s", st, out)
	}
	contains(t, "docs/reports.md", read("docs/reports.md"), "\n"+line+"\n")
}
