package xcall

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
)

func TestIdlePollingElidesTheIPI(t *testing.T) {
	spec, _ := machines.Builtin("x86-4")
	spec.Kernel.Idle = "poll"
	k, err := Boot(spec, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	var log []string
	var trace []string
	k.M.AddRecorder(recordFunc(func(e *emu.Event) { trace = append(trace, e.Kind.String()) }))
	var ret int
	k.M.Spawn(0, "t", func(c *emu.Context) {
		ret = k.SmpCallFunctionSingle(c, 3, fn("f", &log), nil, true)
	})
	k.M.RunUntil(1e6)
	if ret != 0 || fmt.Sprint(log) != "[f@3]" {
		t.Fatalf("ret %d, ran %v", ret, log)
	}
	if len(k.Writes()) != 0 || k.Stats.IPIs != 0 {
		t.Errorf("a polling idle CPU got an IPI: %d writes", len(k.Writes()))
	}
	if !strings.Contains(strings.Join(trace, " "), "ipi_elide") {
		t.Errorf("no ipi_elide (sched_wake_idle_without_ipi) in %v", trace)
	}
}

func TestManyCallReusesCfdCSDs(t *testing.T) {
	// Two no-wait many-calls in a row to a CPU that has interrupts off: the
	// second must wait for the first csd (per sender, per target) to be
	// released before it can lock it again (csd_lock).
	k := boot(t, "x86-4")
	var log []string
	var second int64
	k.M.Spawn(2, "off", func(c *emu.Context) {
		saved := k.LocalIRQSave(c)
		c.Delay(1e6, "stall")
		k.LocalIRQRestore(c, saved)
	})
	k.M.Spawn(0, "t", func(c *emu.Context) {
		k.PreemptDisable(c)
		k.SmpCallFunctionMany(c, MaskOf(4, 2), fn("first", &log), nil, false)
		k.SmpCallFunctionMany(c, MaskOf(4, 2), fn("second", &log), nil, false)
		second = k.M.Now()
		k.PreemptEnable(c)
	})
	k.M.RunUntil(1e7)
	if fmt.Sprint(log) != "[first@2 second@2]" {
		t.Fatalf("ran %v", log)
	}
	if second < 1e6 {
		t.Errorf("the second many-call returned at %d ns, before CPU 2 released the first csd (1 ms)", second)
	}
}

func TestCSDDebugHandlingPriorAndThisRequest(t *testing.T) {
	k := boot(t, "x86-4")
	k.CSDLockDebug = true
	k.CSDLockTimeout = 1000
	long := &Func{Name: "long_func", Fn: func(c *emu.Context, info any) error {
		c.Delay(3e9, "long")
		return nil
	}}
	// CPU 2 makes CPU 1 run long_func for 3 s; CPU 0's call queues behind it.
	k.M.Spawn(2, "a", func(c *emu.Context) { k.SmpCallFunctionSingle(c, 1, long, nil, true) })
	k.M.Spawn(0, "b", func(c *emu.Context) {
		c.Delay(1000, "after")
		k.SmpCallFunctionSingle(c, 1, DoNothing, nil, true)
	})
	k.M.RunUntil(5e9)
	txt := logText(k)
	for _, want := range []string{
		"smp: \tcsd: CSD lock (#1) handling this request.",                          // CPU 2 waits on long_func itself
		"smp: \tcsd: CSD lock (#2) handling prior long_func+0x0/0x10(0x0) request.", // CPU 0 waits behind it
		"got unstuck",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(txt, "Re-sending") {
		t.Error("no re-send while the target runs a csd")
	}
}

func TestStopMachineWaitsForPreemptDisabled(t *testing.T) {
	k := boot(t, "x86-4")
	var downAt int64
	k.M.Spawn(2, "holder", func(c *emu.Context) {
		k.PreemptDisable(c)
		c.Delay(5e6, "busy with preemption off")
		k.PreemptEnable(c)
	})
	k.M.Spawn(0, "ctl", func(c *emu.Context) {
		if r := k.CPUDown(c, 1); r != 0 {
			t.Errorf("cpu_down = %d", r)
		}
		downAt = k.M.Now()
	})
	k.M.RunUntil(1e9)
	if downAt < 5e6 {
		t.Errorf("cpu_down finished at %d ns, while CPU 2 still had preemption disabled (5 ms)", downAt)
	}
}

type recordFunc func(e *emu.Event)

func (f recordFunc) Record(e *emu.Event) { f(e) }

func TestWakeUpAllIdleCPUsAndPeek(t *testing.T) {
	k := boot(t, "x86-4")
	k.M.Spawn(2, "busy", func(c *emu.Context) { c.Delay(1e6, "busy") })
	var peek []bool
	k.M.Spawn(1, "t", func(c *emu.Context) {
		k.WakeUpAllIdleCPUs(c)
		peek = append(peek, k.CPUsPeekForPendingIPI(MaskOf(4, 0, 3)))
	})
	k.M.RunUntil(1e5)
	var dst []string
	for _, w := range k.Writes() {
		dst = append(dst, fmt.Sprintf("%#x", w.Value))
	}
	// Reschedule IPIs (0xfd) to the idle CPUs 0 and 3 only, physical x2APIC IDs.
	if got := strings.Join(dst, " "); got != "0xfd 0x3000000fd" {
		t.Errorf("writes %s", got)
	}
	if fmt.Sprint(peek) != "[false]" {
		t.Errorf("peek %v", peek)
	}
}
