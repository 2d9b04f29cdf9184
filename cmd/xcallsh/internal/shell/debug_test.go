package shell

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
)

// bridge stands in for the model's own emission in these tests: it turns
// each tracepoint hit into a record event (csd_function_entry and
// ipi_send_cpu with their kinds, the others as points), so the debugger's
// mechanics can be tested on a real run.
type bridge struct{ m *emu.Machine }

func (b bridge) Trace(e *emu.TraceEvent) {
	ev := &emu.Event{Kind: emu.EvPoint, Name: e.Name}
	switch e.Name {
	case "csd_function_entry":
		ev.Kind = emu.EvCSDFuncEntry
		if _, rest, ok := strings.Cut(e.Args, "func="); ok {
			ev.Func, _, _ = strings.Cut(rest, ",")
		}
	case "ipi_send_cpu":
		ev.Kind = emu.EvIPISend
	}
	b.m.Emit(e.CPU, ev)
}

func (bridge) Log(*emu.LogLine) {}

func newBridged(t *testing.T, machine string) *testShell {
	sh := newTestShell(t, machine, 0)
	sh.testBoot = func(s *Shell) { s.sess.K.M.AddSink(bridge{s.sess.K.M}) }
	sh.must(t, "restart")
	return sh
}

var eventNo = regexp.MustCompile(`event #(\d+)`)

func TestDebuggerBreakStepBack(t *testing.T) {
	sh := newBridged(t, "arm64-8")
	sh.must(t, "function greet(info) printk('greet %d', info) end")
	sh.must(t, "spawn(0, function() for i = 1, 3 do smp_call_function_single(5, greet, i, 1) end end)")
	contains(t, "break", sh.must(t, "break csd_function_entry cpu=5 if info.func == 'greet'"), "Breakpoint 1: csd_function_entry cpu=5 if info.func == 'greet'")
	hit := sh.must(t, "continue")
	contains(t, "hit", hit, "Breakpoint 1 (csd_function_entry cpu=5 if info.func == 'greet'), event #", "on CPU5", "csd_function_entry", "func=greet")
	if strings.Contains(hit, "greet 1") {
		t.Errorf("the function ran before the stop:\n%s", hit)
	}
	contains(t, "bt", sh.must(t, "bt"), "CPU5", "<IRQ> IPI_CALL_FUNC", "do_handle_IPI")
	contains(t, "queue", sh.must(t, "queue 5"), "call_single_queue of CPU5")
	at := sh.sess.K.M.Recorded()
	st := sh.must(t, "step 4")
	contains(t, "step", st, "greet 1", "csd_function_exit", "stopped after event #"+itoa64(at+4))
	after := sh.sess.K.M.Recorded()
	back := sh.must(t, "back "+itoa64(after-at))
	contains(t, "back", back, "back at event #"+itoa64(at))
	if got := sh.sess.K.M.Recorded(); got != at {
		t.Errorf("back: at event %d, want %d", got, at)
	}
	// The same steps again give the same events.
	if st2 := sh.must(t, "step 4"); st2 != st {
		t.Errorf("step after back:\n%s\nwant\n%s", st2, st)
	}
	// The next hits, then back to the first by reverse-continue.
	second := sh.must(t, "c")
	contains(t, "second hit", second, "Breakpoint 1", "event #12")
	contains(t, "third hit", sh.must(t, "c"), "Breakpoint 1", "greet 2", "event #19")
	contains(t, "rc", sh.must(t, "reverse-continue"), "back at event #12")
	contains(t, "rc again", sh.must(t, "rc"), "back at event #"+itoa64(at))
	contains(t, "goto", sh.must(t, "goto #12"), "at event #12")
	// Enter repeats step, and says so.
	sh.must(t, "s 2")
	sh.interactive = true
	contains(t, "repeat", sh.must(t, ""), "s 2\n", "stopped after event #16")
	sh.interactive = false
	// Lua at a stop first finishes the instant; the report replays the session.
	sh.must(t, "x = now()")
	rep := filepath.Join(t.TempDir(), "dbg.lua")
	contains(t, "report", sh.must(t, "report "+rep), "it reproduces this session exactly")
	text, _ := os.ReadFile(rep)
	contains(t, "report steps", string(text), "-- xcallsh> continue\n", "-- xcallsh> goto #12\n", "-- xcallsh> s 2\nstep(\"step#9\"",
		"-- xcallsh> s 2\nstep(\"step#10\"")
	contains(t, "breakpoints", sh.must(t, "breakpoints"), "   1  yes")
	contains(t, "toggle", sh.must(t, "toggle 1"), "breakpoint 1 is off")
	contains(t, "continue off", sh.must(t, "c 1ms"), "no breakpoint hit; virtual time")
	contains(t, "clear", sh.must(t, "clear 1"), "cleared breakpoint 1")
	contains(t, "bad kind", sh.Exec("break csd_func_entry"), `unknown event kind "csd_func_entry"`)
}

func itoa64(n uint64) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtUint(n)) }

func fmtUint(n uint64) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return fmtUint(n/10) + string(rune('0'+n%10))
}
