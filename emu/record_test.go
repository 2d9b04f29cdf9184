package emu

import (
	"fmt"
	"testing"
)

// collect keeps every event recorded.
type collect struct{ evs []Event }

func (c *collect) Record(e *Event) { c.evs = append(c.evs, *e) }

// busyRecorded is busy (sched_test.go) with a recorder attached from the
// start, IPIs raised with ids.
func busyRecorded(seed uint64, record bool) (uint64, []Decision, *collect) {
	m := New(Config{CPUs: 4, Seed: seed, Sched: SchedConfig{Record: true}})
	defer m.Close()
	col := &collect{}
	if record {
		m.AddRecorder(col)
	}
	m.OnInterrupt = func(c *Context, v int) {
		c.Spend(10+m.Jitter(20), "handler", nil)
	}
	for cpu := 0; cpu < 4; cpu++ {
		m.Spawn(cpu, "t", func(c *Context) {
			for i := 0; i < 20; i++ {
				m.RaiseIPI((cpu+1)%4, 0xfb, m.Now()+100, m.NewIPIID())
				m.RaiseIPI((cpu+2)%4, 0xfc, m.Now()+100, m.NewIPIID())
				c.Delay(100, "work")
			}
		})
	}
	m.RunUntil(1e6)
	return m.OrderHash(), m.Decisions(), col
}

// Recording changes no draw and no order; the decisions recorded are
// those the machine keeps (the non-zero ones), with the same numbers; every
// IPI raised is delivered or merged once and taken by exactly one handler.
func TestRecordDecisionsAndIDs(t *testing.T) {
	for _, seed := range []uint64{0, 5} {
		h0, d0, _ := busyRecorded(seed, false)
		h1, d1, col := busyRecorded(seed, true)
		if h0 != h1 || fmt.Sprint(d0) != fmt.Sprint(d1) {
			t.Fatalf("seed %d: recording changed the run", seed)
		}
		var nonzero []Decision
		arrived, taken := map[uint64]int{}, map[uint64]int{}
		entries, exits := 0, 0
		for _, e := range col.evs {
			switch e.Kind {
			case EvDecision:
				if e.V != 0 {
					nonzero = append(nonzero, Decision{e.N, e.V})
				}
			case EvIPIDeliver, EvIPIMerge:
				arrived[e.ID]++
			case EvIRQEntry:
				entries++
				for _, id := range e.IDs {
					taken[id]++
				}
			case EvIRQExit:
				exits++
			}
		}
		if fmt.Sprint(nonzero) != fmt.Sprint(d1) {
			t.Errorf("seed %d: recorded decisions %v, the machine's %v", seed, nonzero, d1)
		}
		if len(arrived) != 160 || len(taken) != 160 {
			t.Errorf("seed %d: %d ids arrived, %d taken, want 160", seed, len(arrived), len(taken))
		}
		for id, n := range arrived {
			if n != 1 || taken[id] != 1 {
				t.Errorf("seed %d: id %d arrived %d times, taken %d", seed, id, n, taken[id])
			}
		}
		if entries != exits {
			t.Errorf("seed %d: %d irq_entry, %d irq_exit", seed, entries, exits)
		}
	}
}
