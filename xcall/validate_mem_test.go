package xcall

import (
	"runtime"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
)

// validatedCSDLoop sends n async calls, each with a csd of its own made
// for it, under a Validator, and returns the heap in use afterwards with
// the kernel and the Validator still alive.
func validatedCSDLoop(t *testing.T, n int) (uint64, *Validator) {
	k := boot(t, "x86-4")
	k.RecordWrites = false
	v := NewValidator()
	v.Attach(k)
	f := &Func{Name: "f", Fn: func(*emu.Context, any) error { return nil }}
	k.M.Spawn(2, "loop", func(c *emu.Context) {
		for i := 0; i < n; i++ {
			if ret := k.SmpCallFunctionSingleAsync(c, 3, k.NewCSD(f, nil)); ret != 0 {
				t.Errorf("call %d: %d", i, ret)
				return
			}
			c.Delay(1000, "busy-waits") // CPU 3 takes the call meanwhile
		}
	})
	if err := k.M.RunUntil(1e12); err != nil {
		t.Fatal(err)
	}
	// The Validator sweeps collected csds as its table grows, whenever
	// the collector has run: how often depends on the rest of the heap's
	// garbage, so collect and sweep once here, as a long run would have.
	runtime.GC()
	for i := 0; i < 100 && v.dead.len() == 0; i++ {
		runtime.Gosched() // cleanups run on a goroutine of their own
	}
	v.sweep()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(k)
	return ms.HeapInuse, v
}

// TestValidatorForgetsCollectedCSDs: a csd made per call and collected
// leaves no state behind, so a validated run of 4 times as many calls
// stays within 2 MiB; and the end-of-run check still sees every csd.
func TestValidatorForgetsCollectedCSDs(t *testing.T) {
	defer func(d int) { denseIDs = d }(denseIDs)
	denseIDs = 1024
	small, _ := validatedCSDLoop(t, 20000)
	big, v := validatedCSDLoop(t, 80000)
	t.Logf("%d KiB after 20000 csds, %d KiB after 80000", small>>10, big>>10)
	if big > small+2<<20 {
		t.Errorf("the heap grew from %d KiB to %d KiB (%d bytes per csd)", small>>10, big>>10, (big-small)/60000)
	}
	if len(v.sparse) > 20000 {
		t.Errorf("the Validator keeps %d sparse csds of 80000", len(v.sparse))
	}
	if errs := v.Finish(false); len(errs) != 0 {
		t.Errorf("violations: %v", errs)
	}
}

// TestValidatorSparseFinish: csds past denseIDs are checked and reported
// as the others are, in ID order, and a locked one is never forgotten.
func TestValidatorSparseFinish(t *testing.T) {
	defer func(d int) { denseIDs = d }(denseIDs)
	denseIDs = 4
	v := NewValidator()
	lock := func(t int64, id int, csd *CSD) Event {
		return Event{T: t, Kind: EvLock, CSD: id, CPU: 0, Dst: -1, Type: CSDTypeSync, csd: csd}
	}
	for i, id := range []int{9, 2, 7} {
		v.KernelEvent(lock(int64(i), id, nil))
	}
	// A locked csd that the kernel dropped: still reported at the end.
	v.KernelEvent(lock(10, 5, &CSD{ID: 5}))
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	v.sweep()
	got := v.Finish(false)
	want := []string{
		"t=10ns csd #2: still locked at the end (locked at 1 ns by CPU 0)",
		"t=10ns csd #5: still locked at the end (locked at 10 ns by CPU 0)",
		"t=10ns csd #7: still locked at the end (locked at 2 ns by CPU 0)",
		"t=10ns csd #9: still locked at the end (locked at 0 ns by CPU 0)",
	}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %q, want %q", got[i], want[i])
		}
	}
}

// len is the number of collected csds not yet swept.
func (d *deadCSDs) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.ids)
}
