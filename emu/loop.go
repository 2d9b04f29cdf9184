package emu

// The event loop: RunUntil and drive, the one loop they share (loop),
// executing an event (loop, dispatch), a wake-up executed in place
// (runInPlace), and what ends a wait (wake, kick).

import "fmt"

// runInPlace executes c's own wake-up event e (already numbered) on the
// spot when the driver would pop it next and resume c at once: it is due
// within the run limit, precedes every queued event, and c's CPU has no
// interrupt to take and no thread waiting to preempt it. The executed
// order, its hash and the clock are exactly as if c had yielded.
func (m *Machine) runInPlace(c *Context, e *event) bool {
	if e.t > m.limit || m.stopped || m.interrupt.Load() {
		return false
	}
	if !m.q.precedes(e) {
		return false
	}
	cpu := &m.cpus[c.CPU]
	if cpu.nmi && !cpu.inNMI || cpu.npending > 0 && !cpu.IRQsOff {
		return false
	}
	if len(cpu.runq) > 0 && cpu.canPreemptNow(c, cpu.runq[0]) {
		return false
	}
	m.execute(e)
	return true
}

// RunUntil executes events up to and including virtual time t, then sets the
// clock to t. It returns early, with the clock at the last event, when the
// machine is stopped (nil error: inspect Stopped) or interrupted
// (ErrInterrupted). It must be called from the driver, never from a context.
func (m *Machine) RunUntil(t int64) error {
	if m.cur != nil {
		panic("emu: RunUntil called from inside a context")
	}
	m.limit = t
	var cpu *CPU
	for {
		end, parked := m.loop(cpu, untilLimit)
		if end == endInterrupted {
			return ErrInterrupted
		}
		if parked == nil {
			break
		}
		cpu = parked // a handler parked: its CPU's loop goes on (runCPU)
	}
	if !m.stopped && m.now < t {
		m.now = t
	}
	m.clock.Store(m.now)
	return nil
}

// drive is the inline driver: c, which must wait and was resumed by the
// driver itself, runs the event loop on its own stack until its own
// wake-up comes, so that a wait resolved by other contexts costs no switch
// back and forth with the driver. It executes exactly what RunUntil would,
// in the same order: first what RunUntil's loop would do right after c
// yields (look at c's CPU), then the events. It returns true when c is to
// go on, false when c must really yield (the run limit, a stop, an
// interrupt, no events left).
func (m *Machine) drive(c *Context) bool {
	m.driving = c
	m.cur = nil
	cpu := &m.cpus[c.CPU]
	for {
		end, parked := m.loop(cpu, untilResumed)
		if parked == nil {
			m.driving, m.cur = nil, c
			return end == endResumed
		}
		cpu = parked // a handler parked: its CPU's loop goes on (runCPU)
	}
}

// until says when the event loop returns, besides a stop (Stop, Close),
// an empty queue or a next event past the run limit.
type until uint8

const (
	// untilLimit is RunUntil's loop. It polls Interrupt every 1024
	// events, and consumes it.
	untilLimit until = iota
	// untilResumed is drive's loop: it also returns when the driving
	// context is resumed (switchTo), and at once when Interrupt was
	// called, leaving the flag for RunUntil's loop to consume once the
	// driving context has yielded to it.
	untilResumed
)

// loopEnd is why the event loop returned.
type loopEnd uint8

const (
	endIdle        loopEnd = iota // stopped, no events left, or the next is past the limit
	endInterrupted                // Interrupt was called
	endResumed                    // the driving context is to go on (untilResumed)
)

// loop is the event loop, shared by RunUntil and drive: it looks at cpu
// first, if not nil, then executes events until it is told to return
// (u). A handler body that parks itself on the engine's stack unwinds to
// here (catchParked): the CPU it parked on is returned, to be looked at
// again, as runCPU's loop would have gone on to do.
func (m *Machine) loop(cpu *CPU, u until) (end loopEnd, parked *CPU) {
	defer m.catchParked(&parked)
	if cpu != nil {
		m.runCPU(cpu)
	}
	for {
		if u == untilResumed && m.resumed {
			m.resumed = false
			return endResumed, nil
		}
		if m.stopped { // Close stops the machine too
			return endIdle, nil
		}
		if (u == untilResumed || m.executed&1023 == 0) && m.interrupt.Load() {
			if u == untilLimit {
				m.interrupt.Store(false)
			}
			return endInterrupted, nil
		}
		if m.q.len() == 0 || m.q.nextT() > m.limit {
			return endIdle, nil
		}
		// Execute the next event (here rather than in a function of its
		// own: one call less per event).
		var e event
		m.q.popTo(&e)
		if e.t < m.now {
			panic(fmt.Sprintf("emu: time went backwards: event at %d, now %d", e.t, m.now))
		}
		m.execute(&e)
		m.dispatch(&e)
	}
}

// catchParked, deferred by the event loop, recovers from a handler body
// that parked itself for good on the engine's stack (errParked), and sets
// *cpu to its CPU. Recovering here, once per loop rather than once per
// piece of a handler body, keeps the deferred call off the path of every
// event. A parking handler sets m.parking just before it panics; without
// it there is nothing to recover (no call of recover on the common path),
// and any other panic goes on.
func (m *Machine) catchParked(cpu **CPU) {
	if !m.parking {
		return
	}
	m.parking = false
	r := recover()
	p, ok := r.(errParked)
	if !ok {
		panic(r)
	}
	m.cur = nil // runStackless's caller: the driver, or a driving context
	*cpu = &m.cpus[p.cpu]
}

// execute moves the clock to e's time and counts e as executed, folding
// its (time, seq) into the order hash: what every event does first,
// popped (loop) or executed in place (runInPlace).
func (m *Machine) execute(e *event) {
	m.now = e.t
	m.executed++
	if m.executed&1023 == 0 {
		m.clock.Store(e.t) // Clock: every 1024 events
	}
	m.order = mix(m.order, uint64(e.t)*0xbf58476d1ce4e5b9+e.seq)
}

// dispatch does what the popped event e stands for (eventKind).
func (m *Machine) dispatch(e *event) {
	switch e.kind {
	case evWake:
		c := e.ctx
		if c.gen != e.gen || c.state != ctxWaiting {
			return
		}
		m.wake(c)
	case evIRQ:
		cpu := &m.cpus[e.cpu]
		cpu.inflight--
		if m.rs != nil && m.Recording() {
			m.recArrive(cpu, e, int(e.arg))
		}
		cpu.setPending(int(e.arg))
		m.runCPU(cpu)
	case evNMI:
		cpu := &m.cpus[e.cpu]
		cpu.inflight--
		if m.rs != nil && m.Recording() {
			m.recArrive(cpu, e, -1)
		}
		cpu.nmi = true
		m.runCPU(cpu)
	case evCheck:
		m.runCPU(&m.cpus[e.cpu])
	case evExit:
		c := e.ctx
		m.finish(c)
		m.runCPU(&m.cpus[c.CPU])
	case evFunc:
		fn := m.funcs[e.seq]
		delete(m.funcs, e.seq)
		fn()
	}
}

// wake ends c's current wait.
func (m *Machine) wake(c *Context) {
	c.gen++ // later wake-ups for the same wait are stale
	cpu := &m.cpus[c.CPU]
	if !c.busy {
		// A sleeping task becomes runnable again on its CPU.
		c.state = ctxRunnable
		cpu.runq = append(cpu.runq, c)
		if m.Recording() {
			m.recWakeup(c)
		}
		m.runCPU(cpu)
		return
	}
	c.ready = true
	if cpu.top == c {
		m.runCPU(cpu)
	}
}

// kick schedules a look at cpu at the current instant.
func (m *Machine) kick(cpu int) {
	m.schedule(event{t: m.now, kind: evCheck, cpu: int32(cpu)})
}
