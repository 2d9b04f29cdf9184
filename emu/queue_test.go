package emu

import (
	"math/rand/v2"
	"sort"
	"testing"
)

// The queue pops in (t, tie, seq) order whatever mix of runs it holds,
// with pushes interleaved with pops: each pop is the minimum of a plain
// list holding the same events, nextT is that minimum's time, and an event
// about to be pushed precedes the queue exactly when it precedes each of
// them.
func TestQueueOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		var q eventQueue
		var ref []event
		var seq uint64
		now := int64(0)
		for i := 0; i < 400; i++ {
			if r.IntN(3) == 0 && q.len() > 0 {
				got := q.pop()
				m := 0
				for k := range ref {
					if ref[k].before(&ref[m]) {
						m = k
					}
				}
				if got.seq != ref[m].seq {
					t.Fatalf("round %d: popped seq %d, want %d", round, got.seq, ref[m].seq)
				}
				ref = append(ref[:m], ref[m+1:]...)
				now = got.t
				continue
			}
			seq++
			e := event{t: now + int64(r.IntN(4)), seq: seq}
			if r.IntN(4) == 0 {
				e.tie = uint32(r.IntN(3))
			}
			// Before queueing it, e would run first exactly when it
			// precedes every queued event (runInPlace's question).
			first := true
			for k := range ref {
				if !e.before(&ref[k]) {
					first = false
				}
			}
			if got := q.precedes(&e); got != first {
				t.Fatalf("round %d: precedes(seq %d) = %v, want %v", round, e.seq, got, first)
			}
			q.push(&e)
			ref = append(ref, e)
			m := 0
			for k := range ref {
				if ref[k].before(&ref[m]) {
					m = k
				}
			}
			if q.nextT() != ref[m].t {
				t.Fatalf("round %d: nextT %d, want %d", round, q.nextT(), ref[m].t)
			}
		}
		if q.len() != len(ref) {
			t.Fatalf("len %d, want %d", q.len(), len(ref))
		}
	}
}

// Without interleaved pops the queue is a plain sort.
func TestQueueSorts(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var q eventQueue
	var all []event
	for i := 0; i < 5000; i++ {
		e := event{t: int64(r.IntN(50)), seq: uint64(i + 1)}
		if r.IntN(5) == 0 {
			e.tie = uint32(1 + r.IntN(4))
		}
		q.push(&e)
		all = append(all, e)
	}
	sort.Slice(all, func(a, b int) bool { return all[a].before(&all[b]) })
	for i, w := range all {
		if g := q.pop(); g.seq != w.seq {
			t.Fatalf("pop %d: seq %d, want %d", i, g.seq, w.seq)
		}
	}
}
