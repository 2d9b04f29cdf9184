package xcall

import (
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
)

// memoryRun boots name under the native memory model with seed, fix on or
// off, and has CPU 0 make one synchronous call to CPU 1 with csd-lock
// debugging on. It returns whether the call was stranded (a "Detected
// non-responsive CSD lock" report: the IPI found an empty queue and only
// the debug code's re-sent IPI ran the call), the log and the order hash.
func memoryRun(t *testing.T, name, model string, seed uint64, fix string, on bool) (bool, string, uint64) {
	t.Helper()
	spec, err := machines.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	k, err := Boot(spec, seed)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if err := k.SetMemory(model); err != nil {
		t.Fatal(err)
	}
	k.CSDLockDebug, k.CSDLockTimeout = true, 100
	if fix != "" && !k.SetFix(fix, on) {
		t.Fatalf("no fix %q", fix)
	}
	var log []string
	k.M.Spawn(0, "t", func(c *emu.Context) {
		k.SmpCallFunctionSingle(c, 1, fn("f", &log), nil, true)
		k.SmpCallFunctionSingle(c, 2, fn("g", &log), nil, true)
	})
	k.M.RunUntil(1e9)
	if len(log) != 2 {
		t.Fatalf("%s seed %d: the calls ran %d times", name, seed, len(log))
	}
	txt := logText(k)
	return strings.Contains(txt, "Detected non-responsive CSD lock"), txt, k.M.OrderHash()
}

// Under the native memory model, the IPI write may overtake the stores
// that queued the csd on x2APIC without weak_wrmsr_fence (25a068b8e9a4)
// and on GICv3 without the DSB before ICC_SGI1R_EL1 (21ec30c0ef52): the
// handler's llist_del_all finds nothing and the call waits for the
// CSD-lock debug code's re-sent IPI. With the fix, never; on xAPIC (an
// MMIO ICR write, ordered behind the stores), never either.
func TestNativeMemoryStrandsWithoutFix(t *testing.T) {
	for _, tt := range []struct {
		machine, fix string
	}{
		{"x86-4", "x2apic_weak_wrmsr_fence"},
		{"arm64-8", "gicv3_dsb_before_sgi"},
		{"x86-xapic-8", "x2apic_weak_wrmsr_fence"},
	} {
		for _, on := range []bool{false, true} {
			stranded := 0
			for seed := uint64(1); seed <= 20; seed++ {
				if s, _, _ := memoryRun(t, tt.machine, machines.MemoryNative, seed, tt.fix, on); s {
					stranded++
				}
			}
			want := !on && tt.machine != "x86-xapic-8"
			if (stranded > 0) != want {
				t.Errorf("%s, %s %v: %d of 20 seeds stranded a call", tt.machine, tt.fix, on, stranded)
			}
		}
	}
}

// Seed 0 draws no store delay: native is sequential consistency, byte for
// byte, fix on or off.
func TestNativeSeedZeroIsSC(t *testing.T) {
	for _, name := range []string{"x86-4", "arm64-8", "x86-xapic-8"} {
		_, sc, hsc := memoryRun(t, name, machines.MemorySC, 0, "", false)
		for _, on := range []bool{false, true} {
			s, nat, hnat := memoryRun(t, name, machines.MemoryNative, 0, "gicv3_dsb_before_sgi", on)
			if s || nat != sc || hnat != hsc {
				t.Errorf("%s: seed 0 native differs from sc (stranded %v)\n%s\n%s", name, s, nat, sc)
			}
		}
	}
}

func TestSetMemory(t *testing.T) {
	k := boot(t, "x86-4")
	if k.NativeMemory() || k.SetMemory("native") != nil || !k.NativeMemory() || k.SetMemory("weak") == nil || k.SetMemory("sc") != nil || k.NativeMemory() {
		t.Error("SetMemory")
	}
}

// A polling idle target is woken by set_nr_if_polling(), a fully ordered
// cmpxchg: the queueing is visible first, fix or no fix.
func TestNativeMemoryPollIdle(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		spec, err := machines.Builtin("arm64-8")
		if err != nil {
			t.Fatal(err)
		}
		s := *spec
		s.Kernel.Idle = machines.IdlePoll
		s.Memory = machines.MemoryNative
		k, err := Boot(&s, seed)
		if err != nil {
			t.Fatal(err)
		}
		k.CSDLockDebug, k.CSDLockTimeout = true, 100
		k.SetFix("gicv3_dsb_before_sgi", false)
		var log []string
		k.M.Spawn(0, "t", func(c *emu.Context) {
			k.SmpCallFunctionSingle(c, 1, fn("f", &log), nil, true)
		})
		k.M.RunUntil(1e9)
		if len(log) != 1 || strings.Contains(logText(k), "Detected non-responsive") {
			t.Errorf("seed %d: ran %d, log:\n%s", seed, len(log), logText(k))
		}
		k.Close()
	}
}
