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
//
// # Files
//
//   - machine.go: Config, Machine, New, the operator's entry points (At,
//     RaiseIRQ, RaiseNMI, Stop, Interrupt) and numbering events;
//   - loop.go: the event loop (RunUntil, drive), executing events, and
//     the wake-up executed in place;
//   - cpu.go: CPUs, their pending vectors and run queues, what a CPU runs
//     next, preemption, Migrate;
//   - handler.go: starting handlers, switching into contexts, handler
//     bodies on the engine's stack, retiring contexts;
//   - pool.go: the coroutines contexts run on, and Close;
//   - context.go: Context, its waits (WaitKind) and WaitQueue;
//   - queue.go: the event queue; sched.go: scheduling decisions
//     (Strategy); storebuf.go: the store-visibility decision of a native
//     memory model; stuck.go: stuck detection; log.go: printk;
//     shell_support.go: the shell's one hook;
//   - record.go: the event record's types, Recorder and Emit;
//     record_emit.go: what the engine records in it; record_string.go:
//     an event on one line, for tests and golden files;
//   - inspect.go: read-only accessors for debuggers (the shell's cpu, where).
package emu

import (
	"errors"
	"math/rand/v2"
	"sync/atomic"
)

// Config says how to build a Machine.
type Config struct {
	CPUs int
	Seed uint64
	// HighVectorFirst takes the highest pending vector first (x86 APIC
	// priority); otherwise the lowest (GIC SGIs at equal priority).
	HighVectorFirst bool
	// IRQEntry is the time from taking a maskable interrupt to the start
	// of its handler's body (OnInterrupt), in ns. An NMI handler's body
	// starts at once.
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
	threads      []*Context // every thread spawned (finished ones pruned by spawn and Migrate)
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
	// OnIdleExit, if set, is called when an idle CPU with nothing on it
	// (no handler, no thread) leaves its idle loop: a thread is runnable
	// there, or CPU.NeedResched was set. It runs on the driver, before
	// the CPU picks its next thread, and may spawn a thread at the front
	// of the CPU's run queue to run first (the idle task's own work).
	OnIdleExit func(cpu int)

	log    kernelLog
	recs   []Recorder // the event record's readers (record.go)
	recSeq uint64     // events recorded
	ipiSeq uint64     // IPI ids handed out (NewIPIID)
	rs     *recState  // the engine's bookkeeping for the record (record_emit.go)

	stopped  bool
	stopWhy  error
	executed uint64 // events executed
	order    uint64 // mix (below) folded over the executed (time, seq) order

	interrupt atomic.Bool // set by Interrupt (host side: Ctrl-C, timeouts)
	limit     int64       // the time RunUntil runs to: no wake-up in place past it
	driving   *Context    // the context running the event loop itself (drive), if any
	resumed   bool        // drive: the driving context's wait is over
	parking   bool        // a stackless handler is unwinding to the event loop (errParked)
	closed    bool

	clock atomic.Int64 // now, published for other goroutines (Clock)
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
		m.cpus[i].m = m
	}
	m.canonical = m.sched.canonical()
	m.handlerJobFn = m.handlerJob
	return m
}

// Now is the virtual time in nanoseconds.
func (m *Machine) Now() int64 { return m.now }

// Clock is the virtual time as last published, in nanoseconds: safe to
// call from any goroutine while the machine runs (a progress display
// reads it), unlike Now. The machine publishes its clock every 1024
// events and when RunUntil returns, so Clock may lag Now by up to 1023
// events. Reading it changes nothing in the run.
func (m *Machine) Clock() int64 { return m.clock.Load() }

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
func (m *Machine) Jitter(max int64) int64 {
	if max <= 0 {
		return 0 // no draw: sched.jitter's own first test, inlined
	}
	return m.sched.jitter(max)
}

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
	m.cpus[cpu].inflight++
	m.schedule(event{t: t, kind: evIRQ, cpu: int32(cpu), arg: int32(vector)})
}

// RaiseNMI makes an NMI pending on cpu at time t.
func (m *Machine) RaiseNMI(cpu int, t int64) {
	if t < m.now {
		t = m.now
	}
	m.cpus[cpu].inflight++
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

// number gives e its sequence number, and its tie for seeds other than 0.
func (m *Machine) number(e *event) {
	m.seq++
	e.seq = m.seq
	if !m.canonical {
		m.drawTie(e)
	}
	// A canonical tie is 0, a draw that Draws counts from m.seq.
}

// drawTie is number's draw for seeds other than 0, out of line so that
// number inlines at its many call sites.
func (m *Machine) drawTie(e *event) { e.tie = m.sched.tie(e) }

// AsOperator runs fn as if on the driver, with the world stopped: the
// running context (if any) is suspended in place. fn may spawn tasks and
// raise interrupts; it must not wait or run the machine.
func (m *Machine) AsOperator(fn func()) {
	prev := m.cur
	m.cur = nil
	defer func() { m.cur = prev }()
	fn()
}
