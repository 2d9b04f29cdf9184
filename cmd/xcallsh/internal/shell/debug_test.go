package shell

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The session of docs/shell.md: a breakpoint at the first
// csd_function_entry on CPU5 of arm64-8 stops before the function runs;
// where and queue look at the machine there; step, back, continue,
// reverse-continue and goto move through the record; the report replays.
func TestDebuggerBreakStepBack(t *testing.T) {
	sh := newTestShell(t, "arm64-8", 0)
	sh.must(t, "function greet(info) printk('greet %d', info) end")
	sh.must(t, "spawn(0, function() for i = 1, 3 do smp_call_function_single(5, greet, i, 1) end end)")
	contains(t, "break", sh.must(t, "break csd_function_entry cpu=5 if info.func == 'greet'"),
		"Breakpoint 1: csd_function_entry cpu=5 if info.func == 'greet'")
	hit := sh.must(t, "continue")
	want := "Breakpoint 1 (csd_function_entry cpu=5 if info.func == 'greet'), event #18 on CPU5 at 0.000001410s\n" +
		"#18     0.000001410s  CPU5   <idle>-0           d.h..  csd_function_entry csd=1 func=greet type=CSD_TYPE_SYNC\n"
	if hit != want {
		t.Errorf("continue:\n%s\nwant\n%s", hit, want)
	}
	contains(t, "bt", sh.must(t, "bt"), "CPU5 (swapper/5):\nCall Trace:\n <IRQ> IPI_CALL_FUNC\n  __flush_smp_call_function_queue+0x187/0x6b0\n"+
		"  generic_smp_call_function_single_interrupt+0x13/0x20\n  do_handle_IPI+0x2a4/0x2e0\n </IRQ>\n")
	contains(t, "cpu 5", sh.must(t, "cpu 5"), "context:           hardirq IPI_CALL_FUNC", "executing:         csd #1 greet(0x1)")
	contains(t, "csd 1", sh.must(t, "csd 1"), "flags 0x11 (CSD_FLAG_LOCK | CSD_TYPE_SYNC)",
		"CPU0 input_2_1-100 waits in csd_lock_wait() since 0.000000060s", "  locked by CPU0 at 0.000000000s\n",
		"  was queued on CPU5's call_single_queue at 0.000000000s\n", "  its function started on CPU5 at 0.000001410s\n")
	contains(t, "queue", sh.must(t, "queue 5"), "call_single_queue of CPU5 is empty")
	if got := sh.must(t, "dmesg 1"); strings.Contains(got, "greet 1") {
		t.Errorf("greet ran before the stop: %s", got)
	}
	at := sh.sess.K.M.Recorded()
	st := sh.must(t, "step 5")
	contains(t, "step", st, "greet 1", "#19     0.000001410s  CPU5   <idle>-0           d.h..  printk             \"greet 1\"\n",
		"#20 ", "csd_function_exit  csd=1 func=greet", "#21 ", "csd_unlock         csd=1 func=greet type=CSD_TYPE_SYNC", "#23 ", "csd_wait_end", "stopped after event #23 at 0.000001510s")
	if strings.Contains(st, "#24 ") {
		t.Errorf("step 5 ran past event 23:\n%s", st)
	}
	contains(t, "back", sh.must(t, "back 5"), "back at event #18 at 0.000001410s")
	if got := sh.sess.K.M.Recorded(); got != at {
		t.Errorf("back: at event %d, want %d", got, at)
	}
	// The same steps again give the same events.
	if st2 := sh.must(t, "step 5"); st2 != st {
		t.Errorf("step after back:\n%s\nwant\n%s", st2, st)
	}
	// The next hits, then back by reverse-continue.
	contains(t, "second hit", sh.must(t, "c"), "Breakpoint 1", "event #39")
	contains(t, "third hit", sh.must(t, "c"), "Breakpoint 1", "greet 2")
	third := sh.sess.K.M.Recorded()
	contains(t, "rc", sh.must(t, "reverse-continue"), "back at event #39")
	contains(t, "rc again", sh.must(t, "rc"), "back at event #18")
	contains(t, "goto", sh.must(t, "goto #"+strconv.FormatUint(third, 10)), "at event #"+strconv.FormatUint(third, 10))
	contains(t, "goto back", sh.must(t, "goto 1us"), "back at event #")
	contains(t, "breakpoints", sh.must(t, "breakpoints"), "   1  yes")
	contains(t, "toggle", sh.must(t, "toggle 1"), "breakpoint 1 is off")
	// Enter repeats step, and says so.
	sh.must(t, "s 2")
	sh.interactive = true
	contains(t, "repeat", sh.must(t, ""), "s 2\n", "stopped after event #")
	sh.interactive = false
	// Lua at a stop first finishes the instant; the report replays the session.
	sh.must(t, "x = now()")
	rep := filepath.Join(t.TempDir(), "dbg.lua")
	contains(t, "report", sh.must(t, "report "+rep), "it reproduces this session exactly")
	text, _ := os.ReadFile(rep)
	contains(t, "report steps", string(text), "-- xcallsh> continue\n", "-- xcallsh> s 2\n")
	contains(t, "continue off", sh.must(t, "c 1ms"), "no breakpoint hit; virtual time")
	contains(t, "clear", sh.must(t, "clear 1"), "cleared breakpoint 1")
	contains(t, "bad kind", sh.Exec("break csd_func_entry"), `unknown event kind "csd_func_entry" (did you mean csd_function_entry?)`)
}

// Breakpoints on IPIs, by vector name, on cpuhp states and at a time; ipis
// shows an IPI in flight by its id.
func TestDebuggerKinds(t *testing.T) {
	sh := newTestShell(t, "x86-4", 0)
	sh.must(t, "spawn(0, function() smp_call_function_single(2, function() end, nil, 1) end)")
	sh.must(t, "b ipi_send vector=CALL_FUNCTION_SINGLE_VECTOR")
	contains(t, "ipi_send", sh.must(t, "c"), "ipi_send", "targets=2 ids=1 vector=CALL_FUNCTION_SINGLE_VECTOR")
	contains(t, "ipis", sh.must(t, "ipis"), "     1     0     2  CALL_FUNCTION_SINGLE_VECTOR", "on its way")
	sh.must(t, "clear all")
	sh.must(t, "b ipi_deliver cpu=2")
	sh.must(t, "c")
	contains(t, "pending", sh.must(t, "ipis"), "pending since")
	sh.must(t, "clear all")
	sh.must(t, "b @2ms")
	contains(t, "time", sh.must(t, "c"), "Breakpoint 3 (@2ms) at 0.002000000s")
	contains(t, "bad state", sh.Exec("b cpuhp:smpcfd:dead"), `no cpuhp state "smpcfd:dead"`)
	sh.must(t, "b cpuhp:smpcfd:dying")
	sh.must(t, "spawn(0, function() cpu_down(3) end)")
	contains(t, "cpuhp", sh.must(t, "c"), "Breakpoint 4 (cpuhp:smpcfd:dying)", "cpuhp_enter", "smpcfd:dying")
}

// Ctrl-C stops a long continue between events; the session goes on.
func TestDebuggerInterrupt(t *testing.T) {
	sh := newTestShell(t, "x86-4", 0)
	sh.must(t, "param csdlock_debug on")
	sh.must(t, "stall 1 100000s")
	sh.must(t, "spawn(0, function() smp_call_function_single(1, function() end, nil, 1) end)")
	// A condition that takes host time, so that the continue runs for
	// seconds and Ctrl-C comes mid-run, but little enough that an instant
	// (a stall report's printk lines, each testing it) ends well within
	// DefaultEscalate, after which Ctrl-C stops harder. The test waits
	// longer than that before escalating: it checks the gentle stop, not
	// how fast a loaded host (-race, a busy CI machine) answers.
	sh.must(t, "b printk if (function() local x = 0 for i = 1, 2000 do x = x + i end return x < 0 end)()")
	sh.Shell.SetEscalate(10 * time.Second)
	finished := make(chan struct{})
	go func() {
		// One Ctrl-C, pressed once the command runs: Interrupt ignores
		// a press while the shell is idle, so press until one is taken.
		for !sh.Shell.stopped.Load() {
			select {
			case <-finished:
				return
			case <-time.After(20 * time.Millisecond):
				sh.Shell.Interrupt()
			}
		}
	}()
	out := sh.Exec("continue 100000s")
	close(finished)
	contains(t, "interrupted", out, "interrupted at ")
	contains(t, "cpus", sh.must(t, "cpus 1"), "stall-100")
	sh.must(t, "clear all")
	contains(t, "goes on", sh.must(t, "continue 1ms"), "virtual time")
}
