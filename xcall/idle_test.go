package xcall

// The idle task, with kernel/sched/core.c and kernel/sched/idle.c as the
// oracle: an interrupt taken from idle leaves rq->curr the idle task
// (wake_up_if_idle still reschedules it, once: need-resched stays set
// until the idle loop runs again), poll idle keeps its polling flag set
// under that interrupt (set_nr_if_polling succeeds, no IPI), and leaving
// the idle loop drains the call queue (do_idle: flush before
// schedule_idle).

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
)

// writes lists the register writes' values from index from on.
func writesFrom(k *Kernel, from int) string {
	var out []string
	for _, w := range k.Writes()[from:] {
		out = append(out, fmt.Sprintf("CPU%d:%#x", w.CPU, w.Value))
	}
	return strings.Join(out, " ")
}

// slowFunc spends d ns in the handler that runs it.
func slowFunc(d int64) *Func {
	return &Func{Name: "slow", Fn: func(c *emu.Context, info any) error { c.Delay(d, "slow"); return nil }}
}

// A CPU that handles an interrupt from idle still has the idle task as
// rq->curr: wake_up_if_idle sends it the reschedule IPI; called again
// while need-resched is still set, it sends nothing to anyone; once the
// CPUs are back in their idle loops, it sends again.
func TestWakeUpIfIdleUnderInterrupt(t *testing.T) {
	k := boot(t, "x86-4")
	k.M.Spawn(0, "t", func(c *emu.Context) {
		k.SmpCallFunctionSingle(c, 3, slowFunc(20000), nil, false)
	})
	var busy []bool
	var n1, n2 int
	k.M.Spawn(1, "w", func(c *emu.Context) {
		c.Sleep(5000, "wait") // CPU 3 is in the call-function handler now
		busy = append(busy, k.M.CPU(3).Hardirq > 0, k.M.CPU(3).InIdleTask())
		n1 = len(k.Writes())
		k.WakeUpAllIdleCPUs(c)
		k.WakeUpAllIdleCPUs(c) // need-resched is set everywhere: nothing
		n2 = len(k.Writes())
		c.Sleep(100000, "wait") // every CPU back in its idle loop
		k.WakeUpAllIdleCPUs(c)
	})
	k.M.RunUntil(1e6)
	if fmt.Sprint(busy) != "[true true]" {
		t.Fatalf("CPU 3 in a handler from idle: hardirq, idle task = %v", busy)
	}
	// Physical x2APIC: destination in bits 32+, RESCHEDULE_VECTOR 0xfd.
	if got, want := writesFrom(k, n1), "CPU1:0xfd CPU1:0x2000000fd CPU1:0x3000000fd CPU1:0xfd CPU1:0x2000000fd CPU1:0x3000000fd"; got != want {
		t.Errorf("reschedule IPIs %s, want %s", got, want)
	}
	if n2-n1 != 3 {
		t.Errorf("the second wake_up_all_idle_cpus wrote %d times (need-resched was set: 0)", n2-n1-3)
	}
	for cpu := 0; cpu < 4; cpu++ {
		if k.M.CPU(cpu).NeedResched {
			t.Errorf("CPU %d: need-resched still set in its idle loop", cpu)
		}
	}
}

// Poll idle: a CPU handling an interrupt from idle still polls, so a call
// to it sets need-resched instead of sending an IPI; its idle loop runs
// the call once the handler returns, in task context.
func TestPollIdleUnderInterruptElides(t *testing.T) {
	spec, _ := machines.Builtin("x86-4")
	spec.Kernel.Idle = "poll"
	k, err := Boot(spec, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	var trace []string
	k.M.AddRecorder(recordFunc(func(e *emu.Event) {
		if e.Kind == emu.EvIPIElide { // sched_wake_idle_without_ipi
			trace = append(trace, fmt.Sprintf("%d CPU%d %s to=%d", e.T, e.CPU, e.Kind, e.Target))
		}
	}))
	// CPU 3 runs a task when the first call comes, so it gets an IPI; the
	// task ends before the IPI arrives, which is then taken from idle.
	k.M.Spawn(3, "brief", func(c *emu.Context) { c.Delay(500, "brief") })
	k.M.Spawn(0, "t", func(c *emu.Context) {
		k.SmpCallFunctionSingle(c, 3, slowFunc(20000), nil, false)
	})
	var log []string
	var inTask []bool
	var elided []bool
	probe := &Func{Name: "probe", Fn: func(c *emu.Context, info any) error {
		log = append(log, fmt.Sprintf("probe@%d t=%d", c.CPU, k.M.Now()))
		inTask = append(inTask, k.InTask(c))
		return nil
	}}
	k.M.Spawn(1, "w", func(c *emu.Context) {
		c.Sleep(5000, "wait")
		n := len(k.Writes())
		k.SmpCallFunctionSingle(c, 3, probe, nil, false)
		elided = append(elided, len(k.Writes()) == n, k.M.CPU(3).NeedResched)
	})
	k.M.RunUntil(1e6)
	if got := writesFrom(k, 0); got != "CPU0:0x3000000fb" {
		t.Errorf("writes %s: only the first call's IPI", got)
	}
	if fmt.Sprint(elided) != "[true true]" {
		t.Errorf("second call: no IPI, need-resched set = %v", elided)
	}
	if got := strings.Join(trace, "\n"); got != "5020 CPU1 ipi_elide to=3" {
		t.Errorf("trace:\n%s", got)
	}
	if len(log) != 1 || fmt.Sprint(inTask) != "[true]" {
		t.Fatalf("probe ran %v, in task %v: once, from the idle loop", log, inTask)
	}
	// After the handler: IPI at 1000 + entry 350 + callback 100 + 20000
	// + exit; the idle loop's flush a callback cost later.
	if !strings.HasPrefix(log[0], "probe@3 t=2") {
		t.Errorf("probe ran at %s, not after the handler", log[0])
	}
}

// A callback whose IPI was lost runs when its CPU leaves idle for another
// reason: here a thread woken there; the waiter is released then, and the
// flush runs in the idle task (swapper, pid 0) before the thread.
func TestLostIPIRunsWhenIdleExits(t *testing.T) {
	k, r := recordOn(t, "x86-4")
	k.Faults.Drop(2, 1)
	var log []string
	var ret = -1
	k.M.Spawn(0, "t", func(c *emu.Context) { ret = k.SmpCallFunctionSingle(c, 2, fn("f", &log), nil, true) })
	k.M.Spawn(1, "waker", func(c *emu.Context) {
		c.Sleep(50000, "later")
		k.M.Spawn(2, "other", func(c *emu.Context) { log = append(log, "other@2") })
	})
	k.M.RunUntil(1e6)
	if ret != 0 || fmt.Sprint(log) != "[f@2 other@2]" {
		t.Fatalf("ret %d, ran %v", ret, log)
	}
	checkRecord(t, r.show(emu.EvIPISend, emu.EvIPIDrop, emu.EvCSDFuncEntry, emu.EvCSDWaitEnd, emu.EvSchedSwitch), `0 cpu0 sched_switch swapper/0:0 [R] => t:100
0 cpu1 sched_switch swapper/1:0 [R] => waker:101
0 cpu1 sched_switch waker:101 [S] => swapper/1:0
20 cpu0 ipi_send targets=[2] ids=[1] vec=251 site=smp_call_function_single+0x118/0x1a0
60 cpu2 ipi_drop id=1 vec=251 from=0 reason=0
50000 cpu1 sched_switch swapper/1:0 [R] => waker:101
50000 cpu1 sched_switch waker:101 [X] => swapper/1:0
50000 cpu2 sched_switch swapper/2:0 [R] => swapper/2:0
50050 cpu2 csd_function_entry csd=1 func=f
50050 cpu2 sched_switch swapper/2:0 [X] => other:102
50050 cpu2 sched_switch other:102 [X] => swapper/2:0
50150 cpu0 csd_wait_end csd=1 to=2
50150 cpu0 sched_switch t:100 [X] => swapper/0:0
`)
}

// Work queued on a CPU while it was offline (its IPI is cleared by the
// bring-up) runs once the AP's idle loop is woken by the hotplug thread's
// wake-up, so later calls to it do not wait on its csd.
func TestOfflineWorkRunsAfterCPUUp(t *testing.T) {
	for _, m := range recordMachines {
		t.Run(m, func(t *testing.T) {
			k := boot(t, m)
			var log []string
			var rets []int
			k.M.Spawn(0, "ctl", func(c *emu.Context) {
				rets = append(rets, k.CPUDown(c, 3))
				k.InjectCSD(3, fn("stale", &log), nil)
				rets = append(rets, k.CPUUp(c, 3))
				for i := 0; i < 2; i++ {
					rets = append(rets, k.SmpCallFunctionSingle(c, 3, fn("later", &log), nil, false))
					c.Sleep(10000, "next")
				}
				rets = append(rets, k.SmpCallFunctionSingle(c, 3, fn("sync", &log), nil, true))
			})
			k.M.RunUntil(1e9)
			if fmt.Sprint(rets) != "[0 0 0 0 0]" || fmt.Sprint(log) != "[stale@3 later@3 later@3 sync@3]" {
				t.Fatalf("returns %v, ran %v", rets, log)
			}
			if s := k.M.Stuck(); s != "" {
				t.Errorf("stuck: %s", s)
			}
		})
	}
}
