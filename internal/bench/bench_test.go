package bench

import (
	"testing"
	"time"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/xcall"
)

// Measure grows n until a run takes the bench time, and counts only what
// runs while the timer does: not the setup before ResetTimer, not the
// allocations after StopTimer.
func TestMeasure(t *testing.T) {
	var sink [][]byte
	body := func(n int, h Harness) error {
		time.Sleep(2 * time.Millisecond) // setup, not counted
		h.ResetTimer()
		for range n {
			sink = append(sink, make([]byte, 64))
		}
		h.StopTimer()
		sink = append(sink, make([]byte, 1<<20)) // teardown, not counted
		sink = sink[:0]
		h.ReportMetric(float64(n), "ops")
		return nil
	}
	d := 5 * time.Millisecond
	r, err := Measure(body, d)
	if err != nil {
		t.Fatal(err)
	}
	if r.T < d || r.N < 2 {
		t.Errorf("N %d in %v, want a run of at least %v", r.N, r.T, d)
	}
	if a := r.AllocsPerOp(); a < 1 || a > 2 {
		t.Errorf("%d allocs/op, want 1 (and the slice's growth)", a)
	}
	if b := r.BytesPerOp(); b < 64 || b > 1024 {
		t.Errorf("%d B/op: the teardown was counted?", b)
	}
	if r.Metrics["ops"] != float64(r.N) {
		t.Errorf("metrics %v, want ops %d", r.Metrics, r.N)
	}
}

// Every body runs once without an error (a Result's per-op figures are
// the callers' business).
func TestBodies(t *testing.T) {
	bodies := map[string]Body{
		"CallSingleSync": CallSingleSync, "Broadcast": Broadcast(BroadcastSizes[0]), "Stall": Stall,
		"Boot": Boot(BootSizes[0]), "ChannelRoundTrip": ChannelRoundTrip,
		"LuaCallSingleSync": LuaCallSingleSync, "LuaCallSingleSyncWork": LuaCallSingleSyncWork, "Torture": Torture,
		"SessionNew": SessionNew, "ExploreRun": ExploreRun,
		"CallSingleSyncNoCost": CallSingleSyncNoCost, "BroadcastNoCost": BroadcastNoCost(BroadcastSizes[0]),
	}
	for name, body := range bodies {
		if _, err := runN(body, 3); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// With every timed step free (noCost), the calls' only events are the
// ones no merging could remove: docs/performance.md's floor rests on it.
// A single call is seven events (four executed in place), and two free:
// the IPI's arrival and the sender's wake-up by csd_unlock(). A broadcast
// to 63 targets is five per target and two of the sender's, and free one
// arrival per target and the sender's wake-up.
func TestNoCostEvents(t *testing.T) {
	single := func(k *xcall.Kernel, c *emu.Context) { k.SmpCallFunctionSingle(c, 1, nop, nil, true) }
	bcast := func(k *xcall.Kernel, c *emu.Context) { k.SmpCallFunction(c, nop, nil, true) }
	x86 := func() *machines.Spec {
		s, err := machines.Builtin("x86-4")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	wide := func() *machines.Spec { return machines.Synthetic(machines.ArchX86, "x2apic", "cluster", 64, 0) }
	for _, tc := range []struct {
		name string
		spec func() *machines.Spec
		call func(*xcall.Kernel, *emu.Context)
		free bool
		want uint64
	}{
		{"single", x86, single, false, 7},
		{"single, free", x86, single, true, 2},
		{"broadcast", wide, bcast, false, 5*63 + 2},
		{"broadcast, free", wide, bcast, true, 63 + 1},
	} {
		spec := tc.spec()
		if tc.free {
			noCost(spec)
		}
		k, err := xcall.Boot(spec, 0)
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		k.M.Spawn(0, "caller", func(c *emu.Context) {
			tc.call(k, c) // the first call allocates the csds
			before := k.M.Executed()
			tc.call(k, c)
			n = k.M.Executed() - before
		})
		if err := k.M.RunUntil(1e9); err != nil {
			t.Fatal(err)
		}
		k.Close()
		if n != tc.want {
			t.Errorf("%s: %d events per call, want %d", tc.name, n, tc.want)
		}
	}
}
