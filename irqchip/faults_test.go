package irqchip

import "testing"

func TestFaults(t *testing.T) {
	type filtered struct {
		dropped bool
		extra   int64
	}
	var f Faults
	if d, e := f.Filter(5); d || e != 0 {
		t.Fatalf("zero Faults: Filter = %v, %d", d, e)
	}
	f.Drop(3, 2)
	f.Drop(3, 1) // adds up
	f.Drop(4, 0) // nothing
	f.Delay(3, 500)
	f.Delay(1, 70)
	if got := f.PendingDrops(3); got != 3 {
		t.Fatalf("PendingDrops(3) = %d, want 3", got)
	}
	steps := []struct {
		cpu  int
		want filtered
	}{
		{3, filtered{true, 500}},
		{1, filtered{false, 70}},
		{3, filtered{true, 500}},
		{4, filtered{false, 0}},
		{3, filtered{true, 500}},
		{3, filtered{false, 500}},
		{3, filtered{false, 500}},
		{9000, filtered{false, 0}},
		{-1, filtered{false, 0}},
	}
	for i, s := range steps {
		d, e := f.Filter(s.cpu)
		if (filtered{d, e}) != s.want {
			t.Errorf("step %d: Filter(%d) = %v, %d, want %+v", i, s.cpu, d, e, s.want)
		}
	}
	f.Delay(3, 0)
	f.Delay(8000, 0) // removing a delay that was never set allocates nothing
	if len(f.delays) != 4 {
		t.Errorf("delays grew to %d", len(f.delays))
	}
	if _, e := f.Filter(3); e != 0 {
		t.Errorf("delay not removed: %d", e)
	}
	f.Drop(1, 1)
	f.Reset()
	if d, e := f.Filter(1); d || e != 0 {
		t.Errorf("after Reset: Filter(1) = %v, %d", d, e)
	}
}
