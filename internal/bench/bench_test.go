package bench

import (
	"testing"
	"time"
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
	}
	for name, body := range bodies {
		if _, err := runN(body, 3); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
