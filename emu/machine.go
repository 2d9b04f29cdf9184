// Package emu is the deterministic engine under xcallsh: a virtual clock, an
// event queue ordered by (time, tie, sequence), CPUs with interrupt state,
// execution contexts that run one at a time as coroutines, waits in virtual
// time, a printk log and a tracepoint bus. It knows nothing of the kernel
// code it runs: package xcall supplies interrupt handlers and tasks.
//
// # Execution model
//
// One host goroutine (the driver) pops events and switches into contexts.
// Every thread (a task, a kworker, ...) runs on a pooled coroutine
// (iter.Pull; a closed machine hands its idle ones on to the next machine
// of the process) and gives control back only when it waits: a busy wait
// (Delay, Spin) keeps its CPU, a sleep (Sleep, Block) frees it. An interrupt
// handler's body runs on the engine's stack until it asks for a coroutine
// (Context.Spend, Context.Continue). Exactly one
// context runs at a time, and nothing reads the host clock, so a Machine
// built from the same inputs and seed executes the same events in the same
// order, byte for byte.
//
// # States
//
// A Context moves Runnable -> Running -> (Waiting -> Running)* -> Done.
// A waiting context is woken by an evWake event carrying its wait generation;
// stale wake-ups (an earlier wait's timeout) carry an old generation and are
// dropped when popped. A busy waiter that is woken while an interrupt handler
// sits on top of it is marked ready and resumes when the handler returns.
//
// Per CPU, contexts form a stack: the running task at the bottom (or none:
// the CPU is idle), preempting kernel threads and interrupt handlers nested
// above it. Only the top runs.
//
// # Doing less, exactly
//
// Four shortcuts save host time without changing what executes, or in
// which order (the order hash and every trace stay the same):
//
//   - a context's own wake-up is executed in place when it would be the very
//     next event and nothing else would run on its CPU first (runInPlace);
//   - a context that must wait, resumed by the driver itself, runs the event
//     loop on its own stack until its wake-up comes (drive);
//   - a handler's entry and exit costs are spent around its body, so its
//     coroutine is held only while the body runs (Config.IRQEntry, ExitAfter);
//   - a handler body starts on the engine's own stack, with no coroutine:
//     it spends time with a continuation (Spend), and takes a pooled
//     coroutine (Continue) only for a part that may wait.
package emu

import (
	"errors"
	"fmt"
	"iter"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// Config says how to build a Machine.
type Config struct {
	CPUs int
	Seed uint64
	// HighVectorFirst takes the highest pending vector first (x86 APIC
	// priority); otherwise the lowest (GIC SGIs at equal priority).
	HighVectorFirst bool
	// IRQEntry is the time from taking an interrupt to the start of its
	// handler's body (OnInterrupt), in ns.
	IRQEntry int64
	// Sched chooses how scheduling decisions are made (sched.go).
	Sched SchedConfig
}

// Machine is the live emulation. It is not safe for concurrent use, except
// Interrupt, which may be called from any goroutine.
type Machine struct {
	now   int64
	seq   uint64
	q     eventQueue
	cpus  []CPU
	seed  uint64
	rng   *rand.Rand // the script's own randomness
	sched *sched     // scheduling decisions
	// canonical caches sched.canonical(), read for every event: every
	// decision is 0 (seed 0, no replay), so a tie needs no draw (number).
	canonical bool
	highVec   bool
	irqEntry  int64 // interrupt entry cost (Config.IRQEntry)

	cur          *Context  // the running context; nil on the driver
	pool         []*worker // idle coroutines
	workers      []*worker // every coroutine ever made (for Close)
	nextPID      int
	blocked      []*Context // contexts that slept without a deadline (for Stuck)
	threads      []*Context // every thread spawned (pruned of finished ones by Migrate)
	handlers     []*Context // finished handler contexts, for reuse
	handlerJobFn func(*Context)
	funcs        map[uint64]func() // the functions of queued evFunc events, by sequence number

	// OnInterrupt is the body of every maskable interrupt handler: it runs
	// in a fresh hard-irq context on the interrupted CPU, interrupts off.
	// It starts on the engine's stack (Context.Stackless): it spends time
	// with Spend, and calls Continue before anything else that waits.
	OnInterrupt func(c *Context, vector int)
	// OnNMI is the body of the NMI handler, started the same way.
	OnNMI func(c *Context)

	log   kernelLog
	sinks []TraceSink

	stopped  bool
	stopWhy  error
	executed uint64 // events executed
	order    uint64 // mix (below) folded over the executed (time, seq) order

	interrupt atomic.Bool // set by Interrupt (host side: Ctrl-C, timeouts)
	limit     int64       // the time RunUntil runs to: no wake-up in place past it
	driving   *Context    // the context running the event loop itself (drive), if any
	resumed   bool        // drive: the driving context's wait is over
	closed    bool
}

// ErrInterrupted is returned by RunUntil when Interrupt was called.
var ErrInterrupted = errors.New("interrupted")

// New builds a machine of cfg.CPUs idle CPUs at virtual time 0.
func New(cfg Config) *Machine {
	if cfg.CPUs < 1 {
		cfg.CPUs = 1
	}
	m := &Machine{
		cpus:     make([]CPU, cfg.CPUs),
		seed:     cfg.Seed,
		rng:      rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		highVec:  cfg.HighVectorFirst,
		irqEntry: cfg.IRQEntry,
		sched:    newSched(cfg.Sched, cfg.Seed, cfg.CPUs),
		nextPID:  100,
		order:    fnvOffset,
	}
	for i := range m.cpus {
		m.cpus[i].ID = i
	}
	m.canonical = m.sched.canonical()
	m.handlerJobFn = m.handlerJob
	return m
}

// Now is the virtual time in nanoseconds.
func (m *Machine) Now() int64 { return m.now }

// Seed is the seed the machine was built with.
func (m *Machine) Seed() uint64 { return m.seed }

// NumCPUs is the number of CPUs.
func (m *Machine) NumCPUs() int { return len(m.cpus) }

// CPU returns CPU i.
func (m *Machine) CPU(i int) *CPU { return &m.cpus[i] }

// Current is the running context, or nil when the driver (the operator) runs.
func (m *Machine) Current() *Context { return m.cur }

// Rand is the script's random generator (PCG seeded from the seed; the
// same for every schedule of that seed). math.random draws from it.
func (m *Machine) Rand() *rand.Rand { return m.rng }

// Jitter returns a scheduling decision in 0..max: 0 on the canonical
// schedule (seed 0), drawn or replayed otherwise.
func (m *Machine) Jitter(max int64) int64 { return m.sched.jitter(max) }

// Decisions lists the non-canonical scheduling decisions made so far
// (when the run records them: SchedConfig.Record).
func (m *Machine) Decisions() []Decision { return m.sched.rec }

// Draws is the number of scheduling decisions made so far.
func (m *Machine) Draws() int {
	if m.canonical {
		return m.sched.n + int(m.seq) // number does not count its draws
	}
	return m.sched.n
}

// Executed is the number of events executed so far.
func (m *Machine) Executed() uint64 { return m.executed }

// OrderHash is a hash of the executed (time, seq) order: two runs
// that executed the same events in the same order have the same hash. It
// starts from FNV's 64-bit offset basis and folds in each executed event
// with mix, a multiply-xorshift step; it is not FNV-1a (which hashes bytes
// one at a time), and it is not the trace hash of xcallsh's summary line.
func (m *Machine) OrderHash() uint64 { return m.order }

// Stopped reports whether the machine was stopped (Stop) and why.
func (m *Machine) Stopped() (bool, error) { return m.stopped, m.stopWhy }

// Stop halts the machine: RunUntil returns at the next event boundary and
// does not advance further. A context that calls Stop should then wait
// forever (WaitForever); the machine will not resume it.
func (m *Machine) Stop(why error) {
	if !m.stopped {
		m.stopped, m.stopWhy = true, why
	}
}

// Interrupt asks a running RunUntil to return ErrInterrupted soon. It is
// the one method safe to call from another goroutine.
func (m *Machine) Interrupt() { m.interrupt.Store(true) }

func (m *Machine) schedule(e event) {
	m.number(&e)
	m.q.push(&e)
}

// At calls fn on the driver at virtual time t (not before now). fn runs
// outside any context: it may spawn tasks and raise interrupts, not wait.
func (m *Machine) At(t int64, fn func()) {
	if t < m.now {
		t = m.now
	}
	e := event{t: t, kind: evFunc}
	m.number(&e)
	if m.funcs == nil {
		m.funcs = map[uint64]func(){}
	}
	m.funcs[e.seq] = fn
	m.q.push(&e)
}

// RaiseIRQ makes vector pending on cpu at time t (an IPI arriving).
func (m *Machine) RaiseIRQ(cpu int, vector int, t int64) {
	if t < m.now {
		t = m.now
	}
	m.schedule(event{t: t, kind: evIRQ, cpu: int32(cpu), arg: int32(vector)})
}

// RaiseNMI makes an NMI pending on cpu at time t.
func (m *Machine) RaiseNMI(cpu int, t int64) {
	if t < m.now {
		t = m.now
	}
	m.schedule(event{t: t, kind: evNMI, cpu: int32(cpu)})
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// mix folds v into the running hash h (a multiply-xorshift step: two
// multiplications per value, well mixed, stable across platforms).
func mix(h, v uint64) uint64 {
	h ^= v * 0x9e3779b97f4a7c15
	h *= fnvPrime
	return h ^ h>>29
}

// Pending reports whether any event is scheduled.
func (m *Machine) Pending() bool { return m.q.len() > 0 }

// NextEventTime is the time of the earliest scheduled event (ok false if none).
func (m *Machine) NextEventTime() (int64, bool) {
	if m.q.len() == 0 {
		return 0, false
	}
	return m.q.nextT(), true
}

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
	m.now = e.t
	m.executed++
	m.order = mix(m.order, uint64(e.t)*0xbf58476d1ce4e5b9+e.seq)
	return true
}

// number gives e its sequence number, and its tie for seeds other than 0.
func (m *Machine) number(e *event) {
	m.seq++
	e.seq = m.seq
	if !m.canonical {
		e.tie = m.sched.tie(e)
	}
	// A canonical tie is 0, a draw that Draws counts from m.seq.
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
		goOn, parked := m.driveFrom(cpu)
		if parked == nil {
			m.driving, m.cur = nil, c
			return goOn
		}
		cpu = parked // a handler parked: its CPU's loop goes on (runCPU)
	}
}

// driveFrom is drive's loop, after a look at cpu. A handler body that
// parks itself on the engine's stack unwinds to here (catchParked): the
// CPU it parked on is returned, to be looked at again, as runCPU's loop
// would have gone on to do.
func (m *Machine) driveFrom(cpu *CPU) (goOn bool, parked *CPU) {
	defer m.catchParked(&parked)
	m.runCPU(cpu)
	for {
		if m.resumed {
			m.resumed = false
			return true, nil
		}
		if m.stopped || m.closed || m.interrupt.Load() || m.q.len() == 0 || m.q.nextT() > m.limit {
			return false, nil
		}
		m.step()
	}
}

// catchParked, deferred by the event loops (RunUntil's and drive's),
// recovers from a handler body that parked itself for good on the
// engine's stack (errParked), and sets *cpu to its CPU. Recovering here,
// once per loop rather than once per piece of a handler body, keeps the
// deferred call off the path of every event. Any other panic goes on.
func (m *Machine) catchParked(cpu **CPU) {
	if r := recover(); r != nil {
		p, ok := r.(errParked)
		if !ok {
			panic(r)
		}
		m.cur = nil // runStackless's caller: the driver, or a driving context
		*cpu = &m.cpus[p.cpu]
	}
}

// step executes the next event.
func (m *Machine) step() {
	var e event
	m.q.popTo(&e)
	if e.t < m.now {
		panic(fmt.Sprintf("emu: time went backwards: event at %d, now %d", e.t, m.now))
	}
	m.now = e.t
	m.executed++
	m.order = mix(m.order, uint64(e.t)*0xbf58476d1ce4e5b9+e.seq)
	m.dispatch(&e)
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
		interrupted, parked := m.runFrom(cpu, t)
		if interrupted {
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
	return nil
}

// runFrom is RunUntil's loop, after a look at cpu if not nil; a parked
// handler unwinds to it as to driveFrom.
func (m *Machine) runFrom(cpu *CPU, t int64) (interrupted bool, parked *CPU) {
	defer m.catchParked(&parked)
	if cpu != nil {
		m.runCPU(cpu)
	}
	for !m.stopped {
		if m.executed&1023 == 0 && m.interrupt.Load() {
			m.interrupt.Store(false)
			return true, nil
		}
		if m.q.len() == 0 || m.q.nextT() > t {
			break
		}
		m.step()
	}
	return false, nil
}

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
		cpu.setPending(int(e.arg))
		m.runCPU(cpu)
	case evNMI:
		cpu := &m.cpus[e.cpu]
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

// runCPU runs whatever cpu should run now, until nothing on it can proceed.
func (m *Machine) runCPU(cpu *CPU) {
	for !m.stopped {
		c := m.nextOnCPU(cpu)
		if c == nil {
			return
		}
		m.switchTo(c)
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
func (m *Machine) nextOnCPU(cpu *CPU) *Context {
	if cpu.Parked {
		return nil
	}
	top := cpu.top
	interruptible := top == nil || top.state == ctxWaiting
	if cpu.nmi && !cpu.inNMI && interruptible && m.OnNMI != nil {
		cpu.nmi = false
		return m.startHandler(cpu, -1)
	}
	if cpu.npending > 0 && !cpu.IRQsOff && interruptible && m.OnInterrupt != nil {
		return m.startHandler(cpu, cpu.takePending(m.highVec))
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
	if cpu.Preempt != 0 || cpu.IRQsOff || cpu.Hardirq != 0 {
		return false
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
		}
	}
	m.threads = live
	m.kick(to)
}

func (m *Machine) startHandler(cpu *CPU, vector int) *Context {
	kind := KindIRQ
	if vector < 0 {
		kind = KindNMI
		cpu.inNMI = true
	}
	var h *Context
	if n := len(m.handlers); n > 0 {
		// Recycle: stale references (wait queues, queued wake-ups) carry
		// older generations, and gen only grows, so they stay stale.
		h = m.handlers[n-1]
		m.handlers = m.handlers[:n-1]
		h.Kind, h.CPU, h.state, h.ready, h.busy = kind, cpu.ID, ctxRunnable, false, false
	} else {
		h = m.newContext(kind, cpu.ID, "irq", 0)
	}
	h.vector = int32(vector)
	h.parent = cpu.top
	h.savedIRQsOff = cpu.IRQsOff
	cpu.IRQsOff = true
	cpu.Hardirq++
	cpu.top = h
	// The body starts on the engine's stack (Stackless).
	h.job, h.then = nil, m.handlerJobFn
	if vector >= 0 && m.irqEntry > 0 {
		// Interrupt entry: the CPU is in the handler, interrupts off, but
		// its body starts only after the entry cost; until then it needs
		// no coroutine (the same event a Delay at its start would make).
		e := event{t: m.now + m.irqEntry, kind: evWake, ctx: h, gen: h.gen}
		m.number(&e)
		if !m.runInPlace(h, &e) {
			h.state, h.busy, h.ready = ctxWaiting, true, false
			h.Wait = WaitInfo{What: "enters an interrupt", Owner: -1}
			m.q.push(&e)
			return nil
		}
		// The entry is over at once (the next event was its end).
		h.gen++
	}
	h.ready = true
	return h
}

// beginTail retires a handler whose body returned with an exit cost
// (ExitAfter): its coroutine goes back to the pool at once, and the CPU
// stays in the handler until the exit event.
func (m *Machine) beginTail(c *Context) {
	if w := c.w; w != nil {
		c.w = nil
		m.release(w)
	}
	e := event{t: m.now + c.tail, kind: evExit, ctx: c}
	m.number(&e)
	c.tail = 0
	if m.runInPlace(c, &e) {
		m.finish(c) // the next event was the end of the exit
		return
	}
	c.state, c.busy, c.ready = ctxWaiting, true, false
	c.Wait = WaitInfo{What: "returns from an interrupt", Owner: -1}
	m.q.push(&e)
}

// finish retires a context whose job returned.
func (m *Machine) finish(c *Context) {
	cpu := &m.cpus[c.CPU]
	if cpu.top == c {
		cpu.top = c.parent
	}
	switch c.Kind {
	case KindIRQ, KindNMI:
		cpu.Hardirq--
		cpu.IRQsOff = c.savedIRQsOff
		if c.Kind == KindNMI {
			cpu.inNMI = false
		}
	default:
		// A task that ends with interrupts or preemption disabled leaves the
		// CPU clean for the next one (the kernel would warn; callers check).
		// A parked (dead) CPU keeps what its last thread left.
		if !cpu.Parked {
			cpu.IRQsOff = false
			cpu.Preempt = 0
		}
	}
	if w := c.w; w != nil {
		c.w = nil
		m.release(w)
	}
	if c.OnDone != nil {
		c.OnDone(c)
	}
	if c.Kind == KindIRQ || c.Kind == KindNMI {
		c.parent, c.Local, c.Frames, c.Wait, c.OnDone = nil, nil, c.Frames[:0], WaitInfo{}, nil
		m.handlers = append(m.handlers, c)
	}
}

// handlerJob is the body of every handler context.
func (m *Machine) handlerJob(c *Context) {
	if c.vector < 0 {
		m.OnNMI(c)
	} else {
		m.OnInterrupt(c, int(c.vector))
	}
}

// switchTo runs c until it waits or ends.
func (m *Machine) switchTo(c *Context) {
	if c.w == nil && c.job == nil {
		m.runStackless(c)
		return
	}
	if c == m.driving {
		// c is running the event loop itself (drive) and is already on
		// its own stack: tell the loop to return instead of switching.
		c.ready = false
		c.state = ctxRunning
		m.resumed = true
		return
	}
	if c.w == nil {
		c.w = m.getWorker()
		c.w.ctx = c
	}
	c.ready = false
	c.state = ctxRunning
	prev := m.cur
	m.cur = c
	c.w.next()
	m.cur = prev
}

// runStackless runs the next piece of a handler body on the current
// stack, the engine's: no coroutine, no switch. The piece ends the body,
// parks it (WaitForever), spends time with a continuation (Spend), or asks
// for a coroutine to go on in (Continue), which is then resumed at once.
func (m *Machine) runStackless(c *Context) {
	fn := c.then
	c.then = nil
	c.ready = false
	c.state = ctxRunning
	m.cur = c
	if fn != nil {
		// A body that parks itself for good (WaitForever) unwinds past
		// here to the event loop's catchParked.
		fn(c)
	}
	m.cur = nil // the event loop runs with no current context
	switch {
	case c.state == ctxWaiting:
	case c.job != nil: // Continue
		m.switchTo(c) // a coroutine runs c.job
	default:
		c.state = ctxDone
	}
}

// worker is a pooled coroutine that runs context jobs one after another.
type worker struct {
	next  func() (struct{}, bool)
	stop  func()
	yield func(struct{}) bool
	ctx   *Context
	idle  bool // between jobs, in its machine's pool
}

// errKilled unwinds a context whose machine was closed.
type errKilled struct{}

// spare holds the idle coroutines of closed machines, for the next
// machine of the process to take. A coroutine's stack has grown to what
// contexts need; a fresh one grows it again, copying it each time, which
// was a quarter of the cost of booting a machine and running a short
// scenario on it (explore does that for every run). Machines on several
// goroutines (explore's workers) share it; a coroutine is used by one
// machine at a time.
var spare struct {
	sync.Mutex
	w []*worker
}

// maxSpare bounds the idle coroutines the process keeps.
const maxSpare = 64

// release puts w, whose job is over, in the machine's pool.
func (m *Machine) release(w *worker) {
	w.ctx = nil
	w.idle = true
	m.pool = append(m.pool, w)
}

func (m *Machine) getWorker() *worker {
	var w *worker
	if n := len(m.pool); n > 0 {
		w = m.pool[n-1]
		m.pool = m.pool[:n-1]
	} else {
		spare.Lock()
		if n := len(spare.w); n > 0 {
			w = spare.w[n-1]
			spare.w[n-1] = nil
			spare.w = spare.w[:n-1]
		}
		spare.Unlock()
		if w == nil {
			w = newWorker()
		}
		m.workers = append(m.workers, w)
	}
	w.idle = false
	return w
}

func newWorker() *worker {
	w := &worker{}
	w.next, w.stop = iter.Pull(func(yield func(struct{}) bool) {
		w.yield = yield
		for {
			if !w.run() {
				return
			}
			if !yield(struct{}{}) {
				return
			}
		}
	})
	return w
}

// run runs the current job; false when the machine is being closed.
func (w *worker) run() (ok bool) {
	c := w.ctx
	defer func() {
		if r := recover(); r != nil {
			if _, killed := r.(errKilled); killed {
				ok = false
				return
			}
			panic(r)
		}
	}()
	c.job(c)
	c.state = ctxDone
	return true
}

// Close releases the machine's coroutines. The machine cannot run again.
func (m *Machine) Close() {
	if m.closed {
		return
	}
	m.closed = true
	m.stopped = true
	if len(m.workers) == 0 {
		return
	}
	// Idle coroutines go to the process's spares (as many as fit); the
	// others are in the middle of a job, which stop unwinds (errKilled),
	// running the job's deferred code: outside the lock.
	busy := m.workers[:0]
	spare.Lock()
	for _, w := range m.workers {
		if w.idle && len(spare.w) < maxSpare {
			spare.w = append(spare.w, w)
		} else {
			busy = append(busy, w)
		}
	}
	spare.Unlock()
	for _, w := range busy {
		w.stop()
	}
	m.workers, m.pool = nil, nil
}

// Closed reports whether Close was called.
func (m *Machine) Closed() bool { return m.closed }

// CPU is one emulated CPU's execution state. Fields are written only by the
// contexts running on this CPU and by the driver on their behalf.
type CPU struct {
	// What every event on the CPU looks at comes first, in 64 bytes.
	IRQsOff bool // local interrupts disabled
	// Parked CPUs (dead, offline) run nothing and take no interrupts;
	// interrupts raised meanwhile stay pending.
	Parked   bool
	nmi      bool
	inNMI    bool
	top      *Context
	npending int
	Hardirq  int // hard-irq nesting depth
	Preempt  int // preempt_count of what runs (task level)
	runq     []*Context

	pending [4]uint64 // pending vectors 0..255
	ID      int
	_       [24]byte // to 128 bytes: in a slice of CPUs, each starts on a line
}

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

// ClearPending drops every pending interrupt (a CPU coming back up).
func (c *CPU) ClearPending() {
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

// RunQueue is the number of tasks waiting for the CPU.
func (c *CPU) RunQueue() int { return len(c.runq) }

// Unpark lets a parked CPU run again and looks at it at once.
func (m *Machine) Unpark(cpu int) {
	m.cpus[cpu].Parked = false
	m.kick(cpu)
}

// AsOperator runs fn as if on the driver, with the world stopped: the
// running context (if any) is suspended in place. fn may spawn tasks and
// raise interrupts; it must not wait or run the machine.
func (m *Machine) AsOperator(fn func()) {
	prev := m.cur
	m.cur = nil
	defer func() { m.cur = prev }()
	fn()
}
