package emu

import "testing"

// The store-visibility events print their name, csd, function, the CPU
// that reads the stores, the delay (drawn, or what a barrier cut short)
// and the barrier; a kind's name parses back.
func TestStoreEventString(t *testing.T) {
	for _, c := range []struct {
		e    Event
		want string
	}{
		{Event{T: 20, CPU: 0, Comm: "t", PID: 100, Flags: [5]byte{'.', '.', '.', '1', '.'}, Kind: EvStoreBuffered,
			Name: "llist_add", CSD: 1, Func: "f", Target: 1, Delay: 2278},
			"20 CPU0 t-100 ...1. store_buffered name=llist_add csd=1 func=f to=1 delay=2278"},
		{Event{T: 25, CPU: 0, Comm: "t", PID: 100, Flags: [5]byte{'d', '.', '.', '1', '.'}, Kind: EvStoreVisible,
			Name: "llist_add", CSD: 1, Func: "f", Target: 1, Delay: 2273, Site: "weak_wrmsr_fence"},
			"25 CPU0 t-100 d..1. store_visible name=llist_add csd=1 func=f to=1 delay=2273 site=weak_wrmsr_fence"},
	} {
		if got := c.e.String(); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
		if k, ok := ParseEventKind(c.e.Kind.String()); !ok || k != c.e.Kind {
			t.Errorf("%s does not parse back", c.e.Kind)
		}
	}
}
