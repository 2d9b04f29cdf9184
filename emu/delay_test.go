package emu

import (
	"strings"
	"testing"
)

// A task's Delay makes exactly one event whether its end is executed in
// place (the very next event) or queued behind other CPUs' events, and
// same-instant ends run in the order their delays began (seed 0). The
// queued delay is a busy wait of kind WaitDelay while it lasts.
func TestDelayOneEventInPlaceOrQueued(t *testing.T) {
	m := New(Config{CPUs: 2})
	defer m.Close()
	var r record
	var t0 *Context
	t0 = m.Spawn(0, "t0", func(c *Context) {
		for i := 1; i <= 3; i++ {
			c.Delay(100, "work")
			r.add(m, "cpu0 %d", i)
		}
	})
	m.Spawn(1, "t1", func(c *Context) {
		for i := 1; i <= 2; i++ {
			c.Delay(150, "work")
			r.add(m, "cpu1 %d", i)
		}
	})
	if err := m.RunUntil(120); err != nil {
		t.Fatal(err)
	}
	// At 120 CPU0's second delay (100..200) is queued behind CPU1's
	// first end (150): a busy wait, keeping the CPU.
	if !t0.Waiting() || t0.WaitKind() != WaitDelay || m.CPU(0).Top() != t0 {
		t.Fatalf("at 120: waiting %v, kind %v, on top %v", t0.Waiting(), t0.WaitKind(), m.CPU(0).Top() == t0)
	}
	if err := m.RunUntil(1000); err != nil {
		t.Fatal(err)
	}
	// CPU1's second delay (150..300) began before CPU0's third (200..300).
	want := "100 cpu0 1|150 cpu1 1|200 cpu0 2|300 cpu1 2|300 cpu0 3"
	if got := strings.Join(r.lines, "|"); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Two looks at the CPUs the spawns asked for, and one event per delay.
	if got := m.Executed(); got != 2+5 {
		t.Fatalf("%d events executed, want 7", got)
	}
}

// A delay interrupted by a handler ends when it would have, or when the
// handler returns if that is later; the handler's time counts as the
// delay's (udelay keeps counting while interrupts are taken).
func TestDelayAcrossHandler(t *testing.T) {
	for _, tc := range []struct {
		handler int64
		want    string
	}{
		{30, "50 irq|80 irq done|100 delay done"},
		{80, "50 irq|130 irq done|130 delay done"},
	} {
		m := New(Config{CPUs: 1})
		var r record
		m.OnInterrupt = func(c *Context, v int) {
			r.add(m, "irq")
			if c.Spend(tc.handler, "handler", func(c *Context) { r.add(m, "irq done") }) {
				r.add(m, "irq done")
			}
		}
		m.Spawn(0, "t", func(c *Context) {
			c.Delay(100, "udelay")
			r.add(m, "delay done")
		})
		m.RaiseIRQ(0, 0xfb, 50)
		if err := m.RunUntil(1000); err != nil {
			t.Fatal(err)
		}
		m.Close()
		if got := strings.Join(r.lines, "|"); got != tc.want {
			t.Errorf("handler of %d ns: got %s, want %s", tc.handler, got, tc.want)
		}
	}
}
