package xcall

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
)

// Every FixID has an entry, names are unique, and an unknown name is
// refused everywhere rather than read as applied.
func TestFixes(t *testing.T) {
	spec, err := machines.Builtin("x86-4")
	if err != nil {
		t.Fatal(err)
	}
	k, err := Boot(spec, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	for i, f := range Fixes {
		id := FixID(i)
		if f.Name == "" || f.Commit == "" || f.Title == "" {
			t.Errorf("fix %d: empty entry %+v", i, f)
		}
		if got, ok := LookupFix(f.Name); !ok || got != id || id.String() != f.Name {
			t.Errorf("LookupFix(%q) = %v, %v", f.Name, got, ok)
		}
		if !k.Fix(id) {
			t.Errorf("%v off at boot", id)
		}
		if !k.SetFix(f.Name, false) || k.Fix(id) {
			t.Errorf("%v: SetFix(off) did not take", id)
		}
		if on, ok := k.FixApplied(f.Name); on || !ok {
			t.Errorf("FixApplied(%q) = %v, %v after turning it off", f.Name, on, ok)
		}
	}
	if IsFix("no_such_fix") || k.SetFix("no_such_fix", true) {
		t.Error("an unknown fix was accepted")
	}
	if on, ok := k.FixApplied("no_such_fix"); on || ok {
		t.Errorf("FixApplied(unknown) = %v, %v", on, ok)
	}
}

// clock_backward_check (9fbaa44114ca): a waiter whose clock steps back
// below the start of its wait, 2 ms into it. kernel/smp.c's format
// strings: "csd: %s non-responsive CSD lock (#%d) on CPU#%d, waiting %lld
// ns for CPU#%02d %pS(%ps).\n" and "sched_clock on CPU %d went backward by
// %llu ns\n", both pr_alert with the "smp: " prefix.
func TestClockBackward(t *testing.T) {
	for _, tt := range []struct {
		fix          bool
		step         int64
		want, absent []string
	}{
		{true, -3e6,
			[]string{"[    0.002000] smp: sched_clock on CPU 0 went backward by 1000060 ns"},
			[]string{"csd:"}},
		{false, -3e6,
			[]string{
				"[    0.002000] smp: csd: Detected non-responsive CSD lock (#1) on CPU#0, waiting -1000060 ns for CPU#01 f+0x0/0x10(0x0).",
				"[    0.002000] smp: \tcsd: CSD lock (#1) unresponsive.",
				"[    0.002000] Sending NMI from CPU 0 to CPUs 1:",
				"[    0.050000] smp: csd: CSD lock (#1) got unstuck on CPU#00, CPU#01 released the lock.",
			},
			[]string{"went backward"}},
		// A step back smaller than the time waited wraps nothing.
		{false, -1e6, nil, []string{"csd:", "went backward"}},
		{true, -1e6, nil, []string{"csd:", "went backward"}},
		// A step forward past the timeout reports at once.
		{true, 5e9,
			[]string{"[    0.002000] smp: csd: Detected non-responsive CSD lock (#1) on CPU#0, waiting 5001999940 ns for CPU#01 f+0x0/0x10(0x0)."},
			[]string{"went backward"}},
	} {
		k := boot(t, "x86-4")
		k.CSDLockDebug, k.CSDLockTimeout = true, 5000
		k.SetFix("clock_backward_check", tt.fix)
		var log []string
		k.M.Spawn(1, "stall", func(c *emu.Context) {
			was := k.LocalIRQSave(c)
			c.Delay(50e6, "stall")
			k.LocalIRQRestore(c, was)
		})
		k.M.Spawn(0, "t", func(c *emu.Context) {
			k.SmpCallFunctionSingle(c, 1, fn("f", &log), nil, true)
		})
		k.M.RunUntil(2e6)
		k.SkewClock(0, tt.step)
		k.M.RunUntil(60e6)
		txt := logText(k)
		for _, w := range tt.want {
			if !strings.Contains(txt, w+"\n") {
				t.Errorf("fix %v, step %d: log lacks %q:\n%s", tt.fix, tt.step, w, txt)
			}
		}
		for _, n := range tt.absent {
			if strings.Contains(txt, n) {
				t.Errorf("fix %v, step %d: log has %q:\n%s", tt.fix, tt.step, n, txt)
			}
		}
		if len(log) != 1 {
			t.Errorf("fix %v, step %d: the call ran %d times", tt.fix, tt.step, len(log))
		}
	}
}

// The cluster x2APIC masks follow the CPUs: a CPU leaves its cluster's
// mask when it dies and joins it again when it comes back up; a CPU whose
// bring-up failed never joined, and with 7a22e03b0c02 its rollback is
// harmless.
func TestX2APICClusterMasks(t *testing.T) {
	k := boot(t, "x86-64")
	if k.x2c == nil || k.x2c.masks[17] == nil || k.x2c.masks[17] != k.x2c.masks[31] || k.x2c.masks[17] == k.x2c.masks[0] {
		t.Fatal("CPUs 16-31 must share one cluster mask, apart from CPU 0's")
	}
	m := k.x2c.masks[17]
	var ret []int
	k.M.Spawn(0, "ctl", func(c *emu.Context) {
		ret = append(ret, k.CPUDown(c, 17))
		if m.bits&k.x2apicBit(17) != 0 || m.bits&k.x2apicBit(16) == 0 {
			t.Error("CPU 17 still in its cluster mask after going down")
		}
		ret = append(ret, k.CPUUp(c, 17))
		if m.bits&k.x2apicBit(17) == 0 {
			t.Error("CPU 17 not back in its cluster mask")
		}
		ret = append(ret, k.CPUDown(c, 18))
		k.CPUHPFail(18, "cpu:bringup", 22)
		ret = append(ret, k.CPUUp(c, 18))
	})
	k.M.RunUntil(1e9)
	if fmt.Sprint(ret) != "[0 0 0 -22]" || m.bits != 0xfffb || k.Panicked() != "" {
		t.Errorf("returns %v, cluster 1's mask %#x, panic %q", ret, m.bits, k.Panicked())
	}
	if !strings.Contains(logText(k), "smpboot: do_boot_cpu failed(-22) to wakeup CPU#18\n") {
		t.Error("no do_boot_cpu line")
	}
}
