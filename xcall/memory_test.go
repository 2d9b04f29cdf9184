package xcall

import (
	"fmt"
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
	k := bootMemory(t, name, model, seed)
	defer k.Close()
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

// bootMemory boots the built-in machine name with seed under the memory
// model; the caller closes it.
func bootMemory(t *testing.T, name, model string, seed uint64) *Kernel {
	t.Helper()
	spec, err := machines.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	k, err := Boot(spec, seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.SetMemory(model); err != nil {
		k.Close()
		t.Fatal(err)
	}
	return k
}

// recordedMemoryRun is memoryRun's two calls (CPU 0 to CPUs 1 and 2) with
// every event of the record kept.
func recordedMemoryRun(t *testing.T, name, model string, seed uint64, fix string, on bool) []emu.Event {
	t.Helper()
	k := bootMemory(t, name, model, seed)
	defer k.Close()
	rec := &evRecorder{}
	k.M.AddRecorder(rec)
	k.CSDLockDebug, k.CSDLockTimeout = true, 100
	k.SetFix(fix, on)
	var log []string
	k.M.Spawn(0, "t", func(c *emu.Context) {
		k.SmpCallFunctionSingle(c, 1, fn("f", &log), nil, true)
		k.SmpCallFunctionSingle(c, 2, fn("g", &log), nil, true)
	})
	k.M.RunUntil(1e9)
	return rec.evs
}

// The record shows store visibility: each delayed llist_add is a
// store_buffered event on the sender, right after its csd_queue and the
// decision that drew its delay (the csd,
// its function, the target, the delay drawn). With the fix, the barrier
// before the IPI write drains it: a store_visible on the sender before
// the ipi_send, naming the barrier and the time the store had left. Without
// the fix no barrier drains it, and the IPI's handler on the target enters
// while the store is still invisible (the IPI overtook it). Seed 0 and sc
// record neither kind.
func TestNativeMemoryRecord(t *testing.T) {
	count := func(evs []emu.Event, k emu.EventKind) int {
		n := 0
		for _, e := range evs {
			if e.Kind == k {
				n++
			}
		}
		return n
	}
	for _, tt := range []struct{ machine, fix, barrier string }{
		{"x86-4", "x2apic_weak_wrmsr_fence", "weak_wrmsr_fence"},
		{"arm64-8", "gicv3_dsb_before_sgi", "dsb(ishst)"},
	} {
		for _, evs := range [][]emu.Event{
			recordedMemoryRun(t, tt.machine, machines.MemoryNative, 0, tt.fix, false),
			recordedMemoryRun(t, tt.machine, machines.MemorySC, 3, tt.fix, false),
		} {
			if n := count(evs, emu.EvStoreBuffered) + count(evs, emu.EvStoreVisible); n != 0 {
				t.Errorf("%s: %d store events at seed 0 or under sc", tt.machine, n)
			}
		}
		buffered, overtaken, drained := 0, 0, 0
		for seed := uint64(1); seed <= 10; seed++ {
			for _, on := range []bool{true, false} {
				evs := recordedMemoryRun(t, tt.machine, machines.MemoryNative, seed, tt.fix, on)
				for i, e := range evs {
					if e.Kind != emu.EvStoreBuffered || e.Name != "llist_add" {
						continue // the unlocks: TestNativeMemoryUnlock
					}
					buffered++
					x := i - 1 // the csd_queue, then decisions only (the delay's)
					for x > 0 && evs[x].Kind == emu.EvDecision {
						x--
					}
					q := evs[x]
					if q.Kind != emu.EvCSDQueue || q.CPU != e.CPU || q.CSD != e.CSD || q.Target != e.Target || q.Func != e.Func ||
						e.Name != "llist_add" || e.Delay <= 0 || e.T < q.T {
						t.Fatalf("%s seed %d: %s after %s", tt.machine, seed, e.String(), q.String())
					}
					visible := e.T + e.Delay
					// The next ipi_send of the sender, and what precedes it.
					j := i + 1
					for j < len(evs) && !(evs[j].Kind == emu.EvIPISend && evs[j].CPU == e.CPU) {
						j++
					}
					if j == len(evs) || evs[j].Targets[0] != e.Target {
						t.Fatalf("%s seed %d: no IPI after %s", tt.machine, seed, e.String())
					}
					send := evs[j]
					var vis *emu.Event
					for x := i + 1; x < j; x++ {
						if evs[x].Kind == emu.EvStoreVisible && evs[x].Name == "llist_add" {
							vis = &evs[x]
						}
					}
					if on {
						if vis == nil || vis.CPU != e.CPU || vis.CSD != e.CSD || vis.Target != e.Target || vis.Site != tt.barrier ||
							vis.T+vis.Delay != visible || vis.Name != e.Name {
							t.Fatalf("%s seed %d fix on: %s, then %v before %s", tt.machine, seed, e.String(), vis, send.String())
						}
						drained++
						continue
					}
					if vis != nil {
						t.Fatalf("%s seed %d fix off: a barrier drained %s", tt.machine, seed, e.String())
					}
					for _, h := range evs[j:] {
						if h.Kind == emu.EvIRQEntry && h.CPU == e.Target && len(h.IDs) > 0 && h.IDs[0] == send.IDs[0] {
							if h.T < visible {
								overtaken++
							}
							break
						}
					}
				}
			}
		}
		if buffered == 0 || overtaken == 0 || drained == 0 {
			t.Errorf("%s: %d stores buffered, %d drained, %d overtaken by their IPI", tt.machine, buffered, drained, overtaken)
		}
	}
}

// csd_unlock()'s release store is buffered under native: the sender
// spinning in csd_lock_wait() sees the csd unlocked only when the store is
// visible, and wakes a wake latency after that (under sc, a wake latency
// after the unlock). (A barrier of the unlocking CPU that drains the store
// earlier does not wake it earlier: docs/memory.md; these runs have none.)
func TestNativeMemoryUnlock(t *testing.T) {
	for _, tt := range []struct{ machine, fix string }{
		{"x86-4", "x2apic_weak_wrmsr_fence"},
		{"arm64-8", "gicv3_dsb_before_sgi"},
	} {
		wake := int64(0)
		if spec, err := machines.Builtin(tt.machine); err != nil {
			t.Fatal(err)
		} else {
			wake = spec.Timing.WakeLatency
		}
		delayed, checked := 0, 0
		for _, model := range []string{machines.MemorySC, machines.MemoryNative} {
			for seed := uint64(0); seed <= 10; seed++ {
				evs := recordedMemoryRun(t, tt.machine, model, seed, tt.fix, true)
				for i, u := range evs {
					if u.Kind != emu.EvCSDUnlock {
						continue
					}
					visible := u.T
					for _, e := range evs[i+1:] {
						if e.Kind == emu.EvStoreBuffered && e.CSD == u.CSD && e.CPU == u.CPU {
							if model == machines.MemorySC || seed == 0 || e.Name != "csd_unlock" || e.T != u.T || e.Target != 0 {
								t.Fatalf("%s %s seed %d: %s after %s", tt.machine, model, seed, e.String(), u.String())
							}
							visible = e.T + e.Delay
							delayed++
						}
						if e.Kind == emu.EvStoreVisible && e.CSD == u.CSD && e.Name == "csd_unlock" {
							t.Fatalf("%s %s seed %d: drained: %s", tt.machine, model, seed, e.String())
						}
						if e.Kind == emu.EvCSDWaitEnd && e.CSD == u.CSD {
							checked++
							if e.CPU != 0 || e.T != visible+wake {
								t.Errorf("%s %s seed %d: %s; the unlock %s visible at %d", tt.machine, model, seed, e.String(), u.String(), visible)
							}
							break
						}
					}
				}
			}
		}
		if delayed == 0 || checked != 2*11*2 { // two calls a run, 11 seeds, two models
			t.Errorf("%s: %d unlocks delayed, %d waits checked", tt.machine, delayed, checked)
		}
	}
}

// A CPU that reads a csd's flag word while another CPU's store buffer
// holds its unlock still sees it locked: the second of two asynchronous
// broadcasts from CPU 0 reuses CPU 0's per-CPU csds, and csd_lock() waits
// in csd_lock_wait() until each target's unlock is visible (the record
// shows that wait); smp_call_function_single_async() on a csd whose
// unlock CPU 0 cannot see yet returns -EBUSY.
func TestNativeMemoryUnlockHidden(t *testing.T) {
	hiddenWaits, ebusy := 0, 0
	for seed := uint64(1); seed <= 20; seed++ {
		k, rec := bootNativeRecorded(t, seed)
		var log []string
		var tries []asyncTry
		acsd := k.NewCSD(fn("a", &log), nil)
		k.M.Spawn(0, "t", func(c *emu.Context) {
			k.SmpCallFunction(c, fn("f", &log), nil, false)
			k.SmpCallFunction(c, fn("g", &log), nil, false)
			for {
				r := k.SmpCallFunctionSingleAsync(c, 1, acsd)
				tries = append(tries, asyncTry{k.M.Now(), r})
				if len(tries) > 100000 {
					t.Errorf("seed %d: the async csd never ran: %v", seed, tries[:20])
					return
				}
				if r == 0 && len(tries) > 1 {
					break
				}
				c.Delay(10, "retry")
			}
		})
		k.M.RunUntil(1e9)
		if len(log) != 2*7+len(tries)-countEBUSY(tries) {
			t.Fatalf("seed %d: ran %v", seed, log)
		}
		evs := rec.evs
		// visible: when each unlock became visible to the other CPUs.
		for i, u := range evs {
			if u.Kind != emu.EvStoreBuffered || u.Name != "csd_unlock" {
				continue
			}
			visible := u.T + u.Delay
			for _, e := range evs[i+1:] {
				if e.Kind == emu.EvStoreVisible && e.CSD == u.CSD && e.Name == "csd_unlock" {
					visible = e.T
					break
				}
				if e.T >= visible {
					break
				}
			}
			// CPU 0 locks the csd again only once the unlock is visible.
			for j, e := range evs[i+1:] {
				if e.Kind == emu.EvCSDLock && e.CSD == u.CSD && e.CPU == 0 {
					if e.T < visible {
						t.Errorf("seed %d: %s before the unlock %s is visible at %d", seed, e.String(), u.String(), visible)
					}
					if b := evs[i+j]; b.Kind == emu.EvCSDWaitEnd && b.CSD == u.CSD && b.T == visible+k.T.WakeLatency {
						hiddenWaits++
					}
					break
				}
			}
			if u.CSD == uint64(acsd.ID) {
				for _, tr := range tries {
					if tr.t >= u.T && tr.t < visible {
						if tr.ret != -EBUSY {
							t.Errorf("seed %d: the async call at %d returned %d, the unlock visible at %d", seed, tr.t, tr.ret, visible)
						}
						ebusy++
					}
				}
			}
		}
		k.Close()
	}
	if hiddenWaits == 0 || ebusy == 0 {
		t.Errorf("%d csd_lock waits for a hidden unlock, %d -EBUSY for one", hiddenWaits, ebusy)
	}
}

// asyncTry is one smp_call_function_single_async(): when, what it returned.
type asyncTry struct {
	t   int64
	ret int
}

func countEBUSY(tries []asyncTry) int {
	n := 0
	for _, tr := range tries {
		if tr.ret == -EBUSY {
			n++
		}
	}
	return n
}

// An unlocking CPU's next llist_add() is a fully ordered cmpxchg: it
// drains the unlock still buffered (store_visible, site llist_add, with
// the time the store had left), in the same instant as its own queueing.
func TestNativeMemoryUnlockDrained(t *testing.T) {
	drained := 0
	for seed := uint64(1); seed <= 20; seed++ {
		k, rec := bootNativeRecorded(t, seed)
		s := k.Spec
		csds := make([]*CSD, s.CPUs)
		var log []string
		relay := &Func{Name: "relay", Fn: func(c *emu.Context, info any) error {
			log = append(log, fmt.Sprintf("relay@%d", c.CPU))
			k.SmpCallFunctionSingleAsync(c, (c.CPU+1)%s.CPUs, csds[c.CPU])
			return nil
		}}
		for i := range csds {
			csds[i] = k.NewCSD(fn("g", &log), nil)
		}
		k.M.Spawn(0, "t", func(c *emu.Context) {
			k.SmpCallFunction(c, relay, nil, false)
			k.SmpCallFunction(c, relay, nil, true)
		})
		k.M.RunUntil(1e9)
		buffered := map[uint64]emu.Event{} // looked up, never iterated
		for i, e := range rec.evs {
			switch {
			case e.Kind == emu.EvStoreBuffered && e.Name == "csd_unlock":
				buffered[e.CSD] = e
			case e.Kind == emu.EvStoreVisible && e.Name == "csd_unlock":
				b, ok := buffered[e.CSD]
				if !ok || e.Site != "llist_add" || b.CPU != e.CPU || e.Delay != b.T+b.Delay-e.T || e.Delay <= 0 {
					t.Fatalf("seed %d: %s after %s", seed, e.String(), b.String())
				}
				// The CPU's own queueing follows in the same instant (the
				// drain is at its llist_add()).
				q := false
				for _, p := range rec.evs[i+1 : min(len(rec.evs), i+4)] {
					q = q || p.CPU == e.CPU && p.T == e.T && (p.Kind == emu.EvStoreBuffered && p.Name == "llist_add" ||
						p.Kind == emu.EvPoint && strings.HasSuffix(p.Name, ":llist_add"))
				}
				if !q {
					t.Errorf("seed %d: %s not at a llist_add of CPU %d", seed, e.String(), e.CPU)
				}
				drained++
			}
		}
		k.Close()
	}
	if drained == 0 {
		t.Error("no unlock drained by a llist_add")
	}
}

// bootNativeRecorded boots arm64-8 under the native memory model at seed,
// with a recorder attached.
func bootNativeRecorded(t *testing.T, seed uint64) (*Kernel, *evRecorder) {
	t.Helper()
	spec, err := machines.Builtin("arm64-8")
	if err != nil {
		t.Fatal(err)
	}
	s := *spec
	s.Memory = machines.MemoryNative
	k, err := Boot(&s, seed)
	if err != nil {
		t.Fatal(err)
	}
	rec := &evRecorder{}
	k.M.AddRecorder(rec)
	return k, rec
}
