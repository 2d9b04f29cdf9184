package emu

import "testing"

func spares() int {
	spare.Lock()
	defer spare.Unlock()
	return len(spare.w)
}

// A closed machine's idle coroutines serve the next machine, on any
// goroutine; a coroutine closed in the middle of a job is unwound, not
// kept.
func TestSpareCoroutines(t *testing.T) {
	run := func(m *Machine) []string {
		var r record
		for cpu := 0; cpu < 2; cpu++ {
			m.Spawn(cpu, "t", func(c *Context) {
				c.Delay(10, "work")
				r.add(m, "done")
			})
		}
		m.RunUntil(100)
		return r.lines
	}
	m1 := New(Config{CPUs: 2})
	first := run(m1)
	before := spares()
	m1.Close()
	if got := spares(); got != min(before+2, maxSpare) {
		t.Fatalf("spares after closing a machine with 2 idle coroutines: %d, want %d", got, min(before+2, maxSpare))
	}

	// A second machine, on another goroutine, runs the same way on them.
	done := make(chan []string)
	taken := make(chan int)
	go func() {
		m2 := New(Config{CPUs: 2})
		defer m2.Close()
		n := spares()
		lines := run(m2)
		taken <- n - spares()
		done <- lines
	}()
	if n := <-taken; n != 2 {
		t.Fatalf("the second machine took %d spare coroutines, want 2", n)
	}
	if second := <-done; len(second) != 2 || second[0] != first[0] || second[1] != first[1] {
		t.Fatalf("on reused coroutines: %q, want %q", second, first)
	}

	// A job still waiting when its machine closes is unwound.
	m3 := New(Config{CPUs: 1})
	unwound := false
	m3.Spawn(0, "sleeper", func(c *Context) {
		defer func() { unwound = true }()
		c.Block(&WaitQueue{}, WaitInfo{What: "waits forever", Owner: -1})
		t.Error("a blocked job resumed")
	})
	m3.RunUntil(10)
	before = spares()
	m3.Close()
	if !unwound {
		t.Fatal("the blocked job was not unwound")
	}
	if got := spares(); got != before {
		t.Fatalf("spares: %d after closing a machine with only a busy coroutine, want %d", got, before)
	}
}
