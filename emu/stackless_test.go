package emu

import (
	"strings"
	"testing"
)

// pingPong runs four CPUs that interrupt each other while spinning on a
// shared wait queue; body is the handler. It returns what ran, and the
// order hash.
func pingPong(t *testing.T, seed uint64, body func(m *Machine, r *record, q *WaitQueue) func(*Context, int)) (string, uint64) {
	t.Helper()
	m := New(Config{CPUs: 4, Seed: seed, IRQEntry: 3})
	defer m.Close()
	var r record
	var q WaitQueue
	m.OnInterrupt = body(m, &r, &q)
	for cpu := 0; cpu < 4; cpu++ {
		m.Spawn(cpu, "t", func(c *Context) {
			for i := 0; i < 10; i++ {
				for o := 1; o < 4; o++ {
					m.RaiseIRQ((c.CPU+o)%4, 0xf0+o, m.Now()+7)
				}
				c.Spin(&q, m.Now()+40, WaitInfo{What: "spins", Owner: -1})
				r.add(m, "cpu%d round %d", c.CPU, i)
			}
		})
	}
	if err := m.RunUntil(1e6); err != nil {
		t.Fatal(err)
	}
	return strings.Join(r.lines, "|"), m.OrderHash()
}

// A handler body written with Spend on the engine's stack executes exactly
// what the same body does with Delay in a coroutine.
func TestStacklessSameAsCoroutine(t *testing.T) {
	inCoroutine := func(m *Machine, r *record, q *WaitQueue) func(*Context, int) {
		return func(c *Context, v int) {
			c.Continue(func(c *Context) {
				r.add(m, "cpu%d irq %#x", c.CPU, v)
				c.Delay(5, "a")
				r.add(m, "cpu%d mid %#x", c.CPU, v)
				c.Delay(int64(v&3), "b")
				q.Wake(m, 2)
				c.ExitAfter(4)
			})
		}
	}
	stackless := func(m *Machine, r *record, q *WaitQueue) func(*Context, int) {
		return func(c *Context, v int) {
			end := func(c *Context) {
				q.Wake(m, 2)
				c.ExitAfter(4)
			}
			mid := func(c *Context) {
				r.add(m, "cpu%d mid %#x", c.CPU, v)
				if c.Spend(int64(v&3), "b", end) {
					end(c)
				}
			}
			r.add(m, "cpu%d irq %#x", c.CPU, v)
			if c.Spend(5, "a", mid) {
				mid(c)
			}
		}
	}
	for _, seed := range []uint64{0, 1, 7} {
		want, wantHash := pingPong(t, seed, inCoroutine)
		got, gotHash := pingPong(t, seed, stackless)
		if got != want || gotHash != wantHash {
			t.Fatalf("seed %d: stackless run differs\ngot  %s (%x)\nwant %s (%x)", seed, got, gotHash, want, wantHash)
		}
		if !strings.Contains(got, "mid") {
			t.Fatalf("seed %d: handlers did not run: %s", seed, got)
		}
	}
}

// Waiting on the engine's stack is a bug in the handler, named as such.
func TestStacklessDelayPanics(t *testing.T) {
	m := New(Config{CPUs: 2})
	defer m.Close()
	m.OnInterrupt = func(c *Context, v int) { c.Delay(10, "mdelay") }
	m.RaiseIRQ(1, 0xfb, 5)
	defer func() {
		r := recover()
		msg, _ := r.(string)
		if !strings.Contains(msg, "irq handler on CPU 1 mdelay on the engine's stack: use Spend, or Continue first") {
			t.Fatalf("panic = %v", r)
		}
	}()
	m.RunUntil(100)
}

// WaitForever on the engine's stack parks the handler on its CPU.
func TestStacklessWaitForever(t *testing.T) {
	m := New(Config{CPUs: 2})
	defer m.Close()
	var r record
	m.OnInterrupt = func(c *Context, v int) {
		r.add(m, "irq")
		c.WaitForever("panicked")
		r.add(m, "never")
	}
	m.RaiseIRQ(1, 0xfb, 5)
	m.Spawn(1, "t", func(c *Context) { r.add(m, "task") })
	m.Spawn(0, "t0", func(c *Context) {
		c.Delay(50, "work")
		r.add(m, "cpu0 done")
	})
	m.RunUntil(100)
	if got, want := strings.Join(r.lines, "|"), "0 task|5 irq|50 cpu0 done"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	top := m.CPU(1).Top()
	if top == nil || top.Kind != KindIRQ || !top.Waiting() || top.Wait.What != "panicked" {
		t.Fatalf("CPU 1 top = %+v", top)
	}
}
