package xcall

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
)

func boot(t *testing.T, name string) *Kernel {
	t.Helper()
	spec, err := machines.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	k, err := Boot(spec, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	return k
}

// fn returns a Func that appends "name@cpu" to *log when it runs.
func fn(name string, log *[]string) *Func {
	return &Func{Name: name, Fn: func(c *emu.Context, info any) error {
		*log = append(*log, fmt.Sprintf("%s@%d", name, c.CPU))
		return nil
	}}
}

func logText(k *Kernel) string {
	var b strings.Builder
	for _, l := range k.M.Log() {
		b.WriteString(l.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestSingleReturnValuesAndPlacement(t *testing.T) {
	k := boot(t, "x86-4")
	var log []string
	var rets []int
	var inIRQ []bool
	probe := &Func{Name: "probe", Fn: func(c *emu.Context, info any) error {
		inIRQ = append(inIRQ, !k.InTask(c))
		log = append(log, fmt.Sprintf("probe@%d", c.CPU))
		return nil
	}}
	k.M.Spawn(0, "t", func(c *emu.Context) {
		rets = append(rets,
			k.SmpCallFunctionSingle(c, 2, probe, nil, true),  // remote: handler
			k.SmpCallFunctionSingle(c, 0, probe, nil, true),  // self: inline
			k.SmpCallFunctionSingle(c, 4, probe, nil, true),  // out of range
			k.SmpCallFunctionSingle(c, -1, probe, nil, true), // negative
			k.SmpCallFunctionSingle(c, 3, probe, nil, false), // no wait
		)
	})
	k.M.RunUntil(1e6)
	if got := fmt.Sprint(rets); got != "[0 0 -6 -6 0]" {
		t.Errorf("returns %s", got)
	}
	if got := fmt.Sprint(log); got != "[probe@2 probe@0 probe@3]" {
		t.Errorf("ran %s", got)
	}
	// The self call runs inline (task context with irqs off), the others in the handler.
	if got := fmt.Sprint(inIRQ); got != "[true false true]" {
		t.Errorf("in hardirq: %s", got)
	}
}

func TestSyncRunsBeforeAsyncInOneFlush(t *testing.T) {
	k := boot(t, "x86-4")
	var log []string
	// CPU 1 has interrupts off while CPU 0 queues an async call, then a
	// sync one; one flush must run the sync one first.
	k.M.Spawn(1, "off", func(c *emu.Context) {
		saved := k.LocalIRQSave(c)
		c.Delay(10000, "stall")
		k.LocalIRQRestore(c, saved)
	})
	k.M.Spawn(0, "t", func(c *emu.Context) {
		k.SmpCallFunctionSingle(c, 1, fn("async", &log), nil, false)
		k.SmpCallFunctionSingle(c, 1, fn("sync", &log), nil, true)
	})
	k.M.RunUntil(1e6)
	if got := fmt.Sprint(log); got != "[sync@1 async@1]" {
		t.Errorf("flush order %s, want sync first", got)
	}
	// One IPI only: the second push found the queue non-empty.
	if k.Stats.IPIs != 1 {
		t.Errorf("%d IPIs, want 1", k.Stats.IPIs)
	}
}

func TestRegisterWrites(t *testing.T) {
	for _, tc := range []struct {
		machine string
		many    bool
		want    string
	}{
		{"x86-4", false, "ICR=0x00000002000000fb"},
		{"x86-64", false, "ICR=0x00000004000008fb"}, // cluster: logical id of 2
		{"x86-xapic-8", false, "ICR2=0x0000000004000000 ICR=0x00000000000008fb"},
		{"arm64-8", false, "ICC_SGI1R_EL1=0x0000000001000004"},
		{"arm64-8", true, "ICC_SGI1R_EL1=0x000000000100000e ICC_SGI1R_EL1=0x000000000101000f"},
		{"x86-4", true, "ICR=0x00000000000c00fc"},  // ALLBUT shorthand
		{"x86-64", true, "ICR=0x00000000000c00fc"}, // every other CPU: ALLBUT too
	} {
		k := boot(t, tc.machine)
		var log []string
		k.M.Spawn(0, "t", func(c *emu.Context) {
			if tc.many {
				k.SmpCallFunction(c, fn("f", &log), nil, true)
			} else {
				k.SmpCallFunctionSingle(c, 2, fn("f", &log), nil, true)
			}
		})
		k.M.RunUntil(1e6)
		var got []string
		for _, w := range k.Writes() {
			got = append(got, fmt.Sprintf("%s=0x%016x", w.Reg, w.Value))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s many=%v: writes %v, want %s", tc.machine, tc.many, got, tc.want)
		}
	}
}

func TestCSDLockDebugSchedule(t *testing.T) {
	k := boot(t, "arm64-8") // 8 online CPUs: k = 2
	k.CSDLockDebug = true
	k.CSDLockTimeout = 5000
	k.M.Spawn(1, "stall", func(c *emu.Context) {
		k.LocalIRQSave(c)
		c.Delay(200e9, "stall")
	})
	k.M.Spawn(0, "t", func(c *emu.Context) {
		k.SmpCallFunctionSingle(c, 1, DoNothing, nil, true)
	})
	k.M.RunUntil(150e9)
	var at []string
	for _, l := range k.M.Log() {
		if strings.Contains(l.Text, "non-responsive CSD lock") {
			at = append(at, fmt.Sprint(l.T/1e9))
		}
	}
	// docs/kernel.md#csd-lock-wait-reports: 8 online CPUs, T = 5 s: 5, 25, 55, 95, 145 s.
	if got := strings.Join(at, ","); got != "5,25,55,95,145" {
		t.Errorf("reports at %s s", got)
	}
	if !k.CSDLockIsStuck() || k.Stats.Reports != 5 {
		t.Errorf("stuck=%v reports=%d", k.CSDLockIsStuck(), k.Stats.Reports)
	}
	txt := logText(k)
	for _, want := range []string{
		"smp: csd: Detected non-responsive CSD lock (#1) on CPU#0, waiting 5000000001 ns for CPU#01 do_nothing+0x0/0x10(0x0).",
		"smp: \tcsd: CSD lock (#1) unresponsive.",
		"smp: csd: Re-sending CSD lock (#1) IPI from CPU#00 to CPU#01",
		"NMI backtrace for cpu 1",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Count(txt, "NMI backtrace for cpu 1") != 1 {
		t.Errorf("the target must be dumped once while it runs no flush")
	}
}

func TestHotplugDownUp(t *testing.T) {
	k := boot(t, "x86-4")
	var rets []int
	var states []string
	k.SetHook("cpuhp:smpcfd:dying", func(cpu int, point string) error {
		states = append(states, fmt.Sprintf("%d:%s", cpu, k.CPUState(cpu)))
		return nil
	})
	k.M.Spawn(0, "ctl", func(c *emu.Context) {
		rets = append(rets, k.CPUDown(c, 2))
		rets = append(rets, k.SmpCallFunctionSingle(c, 2, DoNothing, nil, true))
		rets = append(rets, k.CPUDown(c, 2), k.CPUDown(c, 0), k.CPUDown(c, 9))
		rets = append(rets, k.CPUUp(c, 2))
		rets = append(rets, k.SmpCallFunctionSingle(c, 2, DoNothing, nil, true))
	})
	k.M.RunUntil(1e9)
	// down 0, call -ENXIO, down again 0, CPU 0 on x86 -EPERM, bad CPU -EINVAL, up 0, call 0
	if got := fmt.Sprint(rets); got != "[0 -6 0 -1 -22 0 0]" {
		t.Errorf("returns %s", got)
	}
	if fmt.Sprint(states) != "[2:smpcfd:dying 2:smpcfd:dying]" || k.CPUState(2) != "online" || k.NumOnline() != 4 {
		t.Errorf("states %v, now %s, %d online", states, k.CPUState(2), k.NumOnline())
	}
}

func TestBringupFailureRollsBack(t *testing.T) {
	k := boot(t, "arm64-8")
	var rets []int
	k.CPUHPFail(5, "smpcfd:prepare", ENOMEM)
	k.M.Spawn(0, "ctl", func(c *emu.Context) {
		rets = append(rets, k.CPUDown(c, 5), k.CPUUp(c, 5), k.CPUUp(c, 5), k.CPUDown(c, 0), k.CPUUp(c, 0))
	})
	k.M.RunUntil(1e9)
	if got := fmt.Sprint(rets); got != "[0 -12 0 0 0]" {
		t.Errorf("returns %s", got)
	}
	// A failed PREPARE state is only pr_debug'd (kernel/cpu.c:
	// cpuhp_up_callbacks): the log has the messages of the operations
	// that succeeded, on arm64 those of secondary_start_kernel() and
	// cpu_psci_cpu_kill(), and nothing for the failed bring-up.
	want := `[    0.000000] smp: Bringing up secondary CPUs ...
[    0.000000] smp: Brought up 2 nodes, 8 CPUs
[    0.000130] psci: CPU5 killed (polled 0 ms)
[    0.000460] CPU5: Booted secondary processor 0x0000000101 [0x413fd0c1]
[    0.000640] psci: CPU0 killed (polled 0 ms)
[    0.000880] CPU0: Booted secondary processor 0x0000000000 [0x413fd0c1]
`
	if got := logText(k); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}

// x86 prints the bring-up's announce_cpu() line and the dead CPU's
// clean-up line (arch/x86/kernel/smpboot.c), with the "smpboot: " prefix.
func TestHotplugMessagesX86(t *testing.T) {
	k := boot(t, "x86-64")
	var rets []int
	k.M.Spawn(0, "ctl", func(c *emu.Context) { rets = append(rets, k.CPUDown(c, 37), k.CPUUp(c, 37)) })
	k.M.RunUntil(1e9)
	if fmt.Sprint(rets) != "[0 0]" {
		t.Fatalf("returns %v", rets)
	}
	var lines []string
	for _, l := range k.M.Log() {
		if strings.HasPrefix(l.Text, "smpboot: ") {
			lines = append(lines, fmt.Sprintf("CPU%d %s", l.CPU, l.Text))
		}
	}
	want := fmt.Sprintf("[CPU0 smpboot: CPU 37 is now offline CPU0 smpboot: Booting Node %d Processor 37 APIC 0x25]", k.Node(37))
	if got := fmt.Sprint(lines); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}
