package emu

// CPUs: the CPU type, its pending vectors and run queue, what a CPU runs
// next (runCPU, nextOnCPU), preemption by kernel threads, and moving
// threads off a CPU going down (Migrate).

import "math/bits"

// CPU is one emulated CPU's execution state. Its fields are written by the
// contexts running on it, and on its behalf by the driver or a context of
// another CPU (Spawn, Migrate, an interrupt raised): never concurrently,
// since one context runs at a time.
type CPU struct {
	// What every event on the CPU looks at comes first, up to pending, in
	// 64 bytes (layout_test.go checks it).
	IRQsOff bool // local interrupts disabled
	// Parked CPUs (dead, offline) run nothing and take no interrupts;
	// interrupts raised meanwhile stay pending.
	Parked bool
	nmi    bool
	inNMI  bool
	// NeedResched is the idle task's TIF_NEED_RESCHED: set (by the
	// kernel side) when something asks the idle CPU to reschedule; the
	// idle loop sees it once the CPU is back in it, with no handler
	// running, and clears it (OnIdleExit).
	NeedResched bool
	idleWoken   bool // the idle loop runs again (after a handler, WakeIdle): it sees NeedResched
	top         *Context
	npending    int
	Hardirq     int // hard-irq nesting depth
	Preempt     int // preempt_count of what runs (task level)
	runq        []*Context

	pending [4]uint64 // pending vectors 0..255
	ID      int
	m       *Machine // for the record (SetIRQsOff, ClearPending)
	// Softirq is the softirq processing depth (the kernel's SOFTIRQ_OFFSET
	// in preempt_count): 1 while the kernel side runs softirq handlers on
	// the CPU, from irq_exit() or in ksoftirqd. The record reads it
	// (CtxSoftirq, ftrace's 's' and 'H' flags).
	Softirq  int
	inflight int32   // interrupts raised for this CPU that have not arrived yet
	_        [4]byte // to 128 bytes: in a slice of CPUs, each starts on a line
}

func (c *CPU) isPending(v int) bool { return c.pending[v>>6]&(1<<(v&63)) != 0 }

func (c *CPU) setPending(v int) {
	w, b := v>>6, uint64(1)<<(v&63)
	if c.pending[w]&b == 0 {
		c.pending[w] |= b
		c.npending++
	}
}

func (c *CPU) takePending(high bool) int {
	if high {
		for w := 3; w >= 0; w-- {
			if x := c.pending[w]; x != 0 {
				b := 63 - bits.LeadingZeros64(x)
				c.pending[w] &^= 1 << b
				c.npending--
				return w<<6 | b
			}
		}
	} else {
		for w := 0; w < 4; w++ {
			if x := c.pending[w]; x != 0 {
				b := bits.TrailingZeros64(x)
				c.pending[w] &^= 1 << b
				c.npending--
				return w<<6 | b
			}
		}
	}
	return -1
}

// PendingVectors lists the vectors pending on the CPU, ascending.
func (c *CPU) PendingVectors() []int {
	var out []int
	for w := 0; w < 4; w++ {
		for x := c.pending[w]; x != 0; x &= x - 1 {
			out = append(out, w<<6|bits.TrailingZeros64(x))
		}
	}
	return out
}

// InFlight is the number of interrupts raised for the CPU (an IPI on its
// way) that have not arrived yet.
func (c *CPU) InFlight() int { return int(c.inflight) }

// ClearPending drops every pending interrupt (a CPU coming back up).
func (c *CPU) ClearPending() {
	if m := c.m; m != nil && m.rs != nil && m.Recording() {
		m.recCleared(c)
	}
	c.pending = [4]uint64{}
	c.npending = 0
	c.nmi = false
}

// Top is the innermost context on the CPU (nil: idle).
func (c *CPU) Top() *Context { return c.top }

// Task is the innermost thread (not handler) on the CPU (nil: idle).
func (c *CPU) Task() *Context {
	t := c.top
	for t != nil && (t.Kind == KindIRQ || t.Kind == KindNMI) {
		t = t.parent
	}
	return t
}

// Idle reports whether the CPU has nothing to run.
func (c *CPU) Idle() bool { return c.top == nil && len(c.runq) == 0 }

// InIdleTask reports whether the CPU's current task (rq->curr) is its
// idle task: nothing runs, or only interrupt handlers that interrupted
// the idle loop. A handler taken from idle does not make the CPU busy.
func (c *CPU) InIdleTask() bool { return c.Task() == nil }

// RunQueue is the number of tasks waiting for the CPU.
func (c *CPU) RunQueue() int { return len(c.runq) }

// WakeIdle makes cpu's idle loop run its check of CPU.NeedResched now, as
// a polling idle loop does when it reads the flag.
func (m *Machine) WakeIdle(cpu int) {
	m.cpus[cpu].idleWoken = true
	m.kick(cpu)
}

// Unpark lets a parked CPU run again and looks at it at once.
func (m *Machine) Unpark(cpu int) {
	m.cpus[cpu].Parked = false
	m.kick(cpu)
}

// runCPU runs whatever cpu should run now, until nothing on it can proceed.
func (m *Machine) runCPU(cpu *CPU) {
	for !m.stopped {
		c := m.nextOnCPU(cpu)
		if m.rs != nil && m.Recording() {
			m.recSched(cpu)
		}
		if c == nil {
			return
		}
		m.switchTo(c)
		if m.resumed {
			// c is the driving context, to go on at once (switchTo): it
			// runs, so nothing else on this CPU can, and the record saw
			// the CPU as it is now.
			return
		}
		if c.state == ctxDone {
			if c.tail > 0 {
				m.beginTail(c)
			} else {
				m.finish(c)
			}
		}
	}
}

// nextOnCPU picks the context cpu runs next, starting an interrupt handler
// or a queued task if that is what comes next. nil: nothing to do now.
// runCPU records what it picked (recSched) itself, so that this stays one
// call on the engine's hottest path.
func (m *Machine) nextOnCPU(cpu *CPU) *Context {
	if cpu.Parked {
		return nil
	}
	top := cpu.top
	if cpu.nmi || cpu.npending > 0 {
		interruptible := top == nil || top.state == ctxWaiting
		if cpu.nmi && !cpu.inNMI && interruptible && m.OnNMI != nil {
			cpu.nmi = false
			return m.startHandler(cpu, -1)
		}
		if cpu.npending > 0 && !cpu.IRQsOff && interruptible && m.OnInterrupt != nil {
			return m.startHandler(cpu, cpu.takePending(m.highVec))
		}
	}
	if top != nil {
		if len(cpu.runq) > 0 && cpu.canPreempt(top, cpu.runq[0]) {
			p := cpu.popRunq()
			p.parent = top
			cpu.top = p
			return p
		}
		if top.ready {
			return top
		}
		return nil
	}
	woken := cpu.idleWoken
	cpu.idleWoken = false
	if (woken && cpu.NeedResched) || len(cpu.runq) > 0 {
		// The idle loop leaves its loop (do_idle): need-resched is
		// consumed, and the kernel side runs what the idle task does
		// before schedule_idle() (it may queue a thread to do it, ahead
		// of the others). A halted CPU sees need-resched only once an
		// interrupt woke it; a polling one when WakeIdle says it read it.
		cpu.NeedResched = false
		if m.OnIdleExit != nil {
			m.OnIdleExit(cpu.ID)
		}
	}
	if len(cpu.runq) > 0 {
		t := cpu.popRunq()
		t.parent = nil
		cpu.top = t
		return t
	}
	return nil
}

func (cpu *CPU) popRunq() *Context {
	t := cpu.runq[0]
	copy(cpu.runq, cpu.runq[1:])
	cpu.runq[len(cpu.runq)-1] = nil
	cpu.runq = cpu.runq[:len(cpu.runq)-1]
	return t
}

// canPreempt reports whether kernel thread p may preempt top now: top is
// a thread at a preemption point (in a wait or about to continue) with
// preemption and interrupts enabled, and p outranks it (a stopper outranks
// everything, a kworker outranks script tasks).
func (cpu *CPU) canPreempt(top, p *Context) bool {
	if top.state != ctxWaiting && !top.ready {
		return false
	}
	return cpu.canPreemptNow(top, p)
}

func (cpu *CPU) canPreemptNow(top, p *Context) bool {
	if cpu.Preempt != 0 || cpu.IRQsOff || cpu.Hardirq != 0 || cpu.Softirq != 0 {
		return false // softirq processing counts in preempt_count too
	}
	return p.Kind.rank() > top.Kind.rank()
}

// Migrate moves every thread of CPU from (queued, sleeping, or preempted
// under a kernel thread) to CPU to, as the scheduler does for a CPU going
// offline. Threads of kind keep (the outgoing CPU's own kernel threads)
// stay. It must be called on the driver or from a context of another CPU
// than the threads it moves.
func (m *Machine) Migrate(from, to int, keep func(*Context) bool) {
	src, dst := &m.cpus[from], &m.cpus[to]
	var stay []*Context
	for _, t := range src.runq {
		if keep != nil && keep(t) {
			stay = append(stay, t)
			continue
		}
		t.CPU = to
		dst.runq = append(dst.runq, t)
		if m.Recording() {
			m.recMigrate(t, from, to)
		}
	}
	src.runq = stay
	// Preempted threads under the top of the CPU's stack.
	var below *Context
	for t := src.top; t != nil; {
		next := t.parent
		if t.Kind.rank() > 0 && !(keep != nil && keep(t)) && t != src.top {
			if below != nil {
				below.parent = next
			}
			t.parent = nil
			t.CPU = to
			t.ready = true
			dst.runq = append(dst.runq, t)
			if m.Recording() {
				m.recMigrate(t, from, to)
			}
		} else {
			below = t
		}
		t = next
	}
	live := m.threads[:0]
	for _, t := range m.threads {
		if t.state == ctxDone {
			continue
		}
		live = append(live, t)
		if t.CPU == from && t.state == ctxWaiting && !t.busy && !(keep != nil && keep(t)) {
			t.CPU = to
			if m.Recording() {
				m.recMigrate(t, from, to)
			}
		}
	}
	m.threads = live
	m.kick(to)
}
