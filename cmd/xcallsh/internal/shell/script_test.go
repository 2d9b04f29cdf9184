package shell

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
)

// breakpoint() in a sourced script stops there, at top level and inside a
// task; the looking commands work, anything that would change the machine
// is refused; continue goes on; the report of the session replays, and
// breakpoint() does nothing in the replay.
func TestScriptBreakpoint(t *testing.T) {
	script := tempFile(t, "bp.lua", `function greet(info) printk("greet %d", info) end
spawn(0, function()
  smp_call_function_single(2, greet, 1, 1)
  breakpoint()
  smp_call_function_single(2, greet, 2, 1)
end)
run(ms(1))
breakpoint()
x = 42
run(ms(1))
return x
`)
	sh := newTestShell(t, "x86-4", 0)
	first := sh.must(t, "source "+script)
	contains(t, "pause in task", first, "breakpoint() at "+script+":4 on CPU0, after event #")
	contains(t, "dmesg", sh.must(t, "dmesg"), "greet 1")
	if got := sh.must(t, "dmesg"); strings.Contains(got, "greet 2") {
		t.Errorf("greet 2 ran before continue:\n%s", got)
	}
	contains(t, "where", sh.must(t, "where 0"), "CPU0")
	contains(t, "refused", sh.Exec("run 1ms"), "run: the script is paused in breakpoint() at "+script+":4; continue goes on")
	contains(t, "refused lua", sh.Exec("y = 1"), "Lua: the script is paused")
	contains(t, "top level", sh.must(t, "continue"), "greet 2", "breakpoint() at "+script+":8, after event #")
	if x := sh.sess.L.GetGlobal("x").String(); x != "nil" {
		t.Errorf("x = %s before continue", x)
	}
	if got := sh.must(t, "continue"); got != "42\n" {
		t.Errorf("last continue: %q", got)
	}
	contains(t, "no pause left", sh.Exec("continue 1ms"), "no breakpoint hit")
	rep := filepath.Join(t.TempDir(), "bp-report.lua")
	contains(t, "report", sh.must(t, "report "+rep), "it reproduces this session exactly")
	text, _ := os.ReadFile(rep)
	contains(t, "report text", string(text), "breakpoint()")

	// The same script piped through a shell whose session has no pause:
	// the outputs of the two machines are the same.
	again := newTestShell(t, "x86-4", 0)
	again.sess.Breakpoint = nil
	again.must(t, "source "+script)
	again.must(t, "continue 1ms")
	if a, b := again.rec.Log.Hash(), sh.rec.Log.Hash(); a != b {
		t.Errorf("hash with pauses %x, without %x", b, a)
	}
}

// source of a report checks its schedule format as xcallsh run does: a
// report of this format runs; one of another format is refused, naming
// the build that replays it, and nothing of it runs.
func TestSourceReportFormat(t *testing.T) {
	sh := newTestShell(t, "x86-4", 0)
	sh.must(t, "on 0 printk('hello')")
	rep := filepath.Join(t.TempDir(), "r.lua")
	sh.must(t, "report "+rep)
	text, err := os.ReadFile(rep)
	if err != nil {
		t.Fatal(err)
	}
	fresh := newTestShell(t, "x86-4", 0)
	contains(t, "same format", fresh.must(t, "source "+rep), "hello")

	old := strings.Replace(string(text), fmt.Sprintf("--! schedule-format: %d\n", emu.ScheduleFormat), "--! schedule-format: 1\n", 1)
	if old == string(text) {
		t.Fatal("no schedule-format line in the report")
	}
	oldRep := filepath.Join(t.TempDir(), "old.lua")
	if err := os.WriteFile(oldRep, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	other := newTestShell(t, "x86-4", 0)
	got := other.Exec("source " + oldRep)
	contains(t, "other format", got, "source: "+oldRep+": cannot replay: this report was made by",
		fmt.Sprintf("(schedule format 1); this xcallsh replays schedule format %d only", emu.ScheduleFormat))
	if strings.Contains(got, "hello") || other.sess.K.M.Now() != 0 {
		t.Errorf("the refused report ran:\n%s", got)
	}
}
