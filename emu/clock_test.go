package emu

import (
	"sync"
	"sync/atomic"
	"testing"
)

// Clock, read from another goroutine while the machine runs, only ever
// moves forward and never passes Now; it equals Now once RunUntil returns;
// and reading it changes nothing: the order hash is the same with a reader
// as without, and the same whether the run goes in one RunUntil or in
// slices (what a driver that samples between slices would do).
func TestClockFromAnotherGoroutine(t *testing.T) {
	run := func(read bool, slices int) uint64 {
		m := New(Config{CPUs: 4, Seed: 3})
		defer m.Close()
		m.OnInterrupt = func(c *Context, v int) { c.Spend(10+m.Jitter(20), "handler", nil) }
		for cpu := 0; cpu < 4; cpu++ {
			cpu := cpu
			m.Spawn(cpu, "t", func(c *Context) {
				for i := 0; i < 2000; i++ {
					m.RaiseIRQ((cpu+1)%4, 0xfb, m.Now()+100)
					c.Delay(100, "work")
				}
			})
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		var back atomic.Int64 // a Clock that went backwards (+1), never
		if read {
			wg.Add(1)
			go func() {
				defer wg.Done()
				last := int64(0)
				for !stop.Load() {
					if c := m.Clock(); c < last {
						back.Store(c + 1)
					} else {
						last = c
					}
				}
			}()
		}
		const end = 1_000_000
		for i := 1; i <= slices; i++ {
			m.RunUntil(end * int64(i) / int64(slices))
			if m.Clock() != m.Now() {
				t.Errorf("after RunUntil: Clock %d, Now %d", m.Clock(), m.Now())
			}
		}
		stop.Store(true)
		wg.Wait()
		if b := back.Load(); b != 0 {
			t.Errorf("Clock went backwards to %d", b-1)
		}
		return m.OrderHash()
	}
	want := run(false, 1)
	for _, c := range []struct {
		read   bool
		slices int
	}{{true, 1}, {false, 7}, {true, 1000}} {
		if got := run(c.read, c.slices); got != want {
			t.Errorf("reader %v, %d slices: order hash %016x, want %016x", c.read, c.slices, got, want)
		}
	}
}
