package emu

// Contexts: the Context type and its kinds, spawning threads, the waits
// kernel code makes (Delay, Spin, Sleep, Block, WaitForever, ..., typed
// by WaitKind), a handler body's Spend and Continue, and WaitQueue.

import (
	"fmt"
	"slices"
)

// Kind is what a context is.
type Kind uint8

// The kinds of contexts.
const (
	KindTask    Kind = iota // a kernel thread spawned by the script or the kernel
	KindIRQ                 // a hard-irq handler
	KindNMI                 // an NMI handler
	KindStopper             // a stop_machine stopper thread
	KindKworker             // a workqueue worker
)

// rank orders thread kinds for preemption: a higher rank preempts a lower.
func (k Kind) rank() int {
	switch k {
	case KindStopper:
		return 3
	case KindKworker:
		return 2
	case KindTask:
		return 1
	}
	return 0
}

func (k Kind) String() string {
	switch k {
	case KindTask:
		return "task"
	case KindIRQ:
		return "irq"
	case KindNMI:
		return "nmi"
	case KindStopper:
		return "stopper"
	case KindKworker:
		return "kworker"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

type ctxState uint8

const (
	ctxRunnable ctxState = iota // created or woken, not yet running
	ctxRunning                  // the one context the machine is executing
	ctxWaiting                  // suspended in a wait
	ctxDone                     // its job returned
)

func (s ctxState) String() string {
	switch s {
	case ctxRunnable:
		return "runnable"
	case ctxRunning:
		return "running"
	case ctxWaiting:
		return "waiting"
	case ctxDone:
		return "done"
	}
	return fmt.Sprintf("ctxState(%d)", uint8(s))
}

// WaitKind is the kind of wait a context is in: which call put it there,
// and so whether it keeps its CPU (busy waits: the CPU spins or is in a
// handler, interrupts are taken if enabled) or leaves it to other tasks.
type WaitKind uint8

// The kinds of wait.
const (
	WaitNone      WaitKind = iota // not waiting
	WaitDelay                     // Delay, Spend, a handler's entry or exit cost: busy for a time
	WaitSpin                      // Spin: busy until a WaitQueue is woken or a deadline
	WaitSleep                     // Sleep: off the CPU for a time
	WaitBlock                     // Block: off the CPU until a WaitQueue is woken
	WaitForever                   // WaitForever: busy for good (a panicked CPU)
	WaitPreempted                 // PreemptPoint: a higher-ranked kernel thread runs first
	WaitYield                     // Yield, YieldNow: pending interrupts or due events run first
)

// keepsCPU reports whether a wait of kind k keeps the CPU (a busy wait).
// A handler's waits keep it whatever their kind: it cannot leave its CPU.
func (k WaitKind) keepsCPU() bool { return k != WaitSleep && k != WaitBlock }

func (k WaitKind) String() string {
	switch k {
	case WaitNone:
		return "none"
	case WaitDelay:
		return "delay"
	case WaitSpin:
		return "spin"
	case WaitSleep:
		return "sleep"
	case WaitBlock:
		return "block"
	case WaitForever:
		return "forever"
	case WaitPreempted:
		return "preempted"
	case WaitYield:
		return "yield"
	}
	return fmt.Sprintf("WaitKind(%d)", uint8(k))
}

// WaitInfo says what a waiting context waits for, for stuck reports.
type WaitInfo struct {
	What  string // "spins on csd", "sleeps in msleep"
	Num   int    // a number that goes with What ("csd #3"), or 0 for none
	Owner int    // the CPU that must act to end the wait, or -1
}

// Context is one flow of emulated execution on a CPU: a task or a handler.
// Its fields are written by its own code and by the driver while it is
// suspended, never concurrently.
type Context struct {
	// The fields every event reads or writes come first, up to Wait, in
	// one 64-byte line (a Context is a 192-byte allocation, so it starts
	// on a line): a broadcast to 8192 CPUs keeps 8192 handlers in flight,
	// and each of their events would otherwise fetch two or three lines
	// from memory. layout_test.go checks both.
	m            *Machine
	w            *worker
	job          func(*Context)
	then         func(*Context) // stackless handlers: what runs when the current wait ends
	parent       *Context
	CPU          int
	Kind         Kind
	state        ctxState
	ready        bool // wait over (or just started); run when on top
	busy         bool // the current wait keeps the CPU
	savedIRQsOff bool
	waitKind     WaitKind // the kind of the current wait (meaningful while waiting)
	gen          uint32   // wait generation; wake-ups for older waits are stale
	vector       int32    // handlers: the vector taken (-1: NMI)

	Wait WaitInfo
	// Frames is the kernel layer's call stack of this context, outermost
	// first, as %pS strings (for stack dumps).
	Frames []string
	// OnDone is called on the driver when the job has returned.
	OnDone func(*Context)

	tail int64 // handlers: exit cost still to spend after the body (ExitAfter)
	// Local is the binding layer's per-context data (a Lua thread, say).
	Local any
	Name  string
	PID   int
	_     [16]byte // to 192 bytes, a size class whose objects start on a line
}

func (m *Machine) newContext(kind Kind, cpu int, name string, pid int) *Context {
	return &Context{m: m, Kind: kind, CPU: cpu, Name: name, PID: pid}
}

// Spawn creates a task named name on cpu that runs job, queued behind the
// tasks already waiting for that CPU. Tasks on one CPU do not preempt each
// other: one runs until it sleeps or ends.
func (m *Machine) Spawn(cpu int, name string, job func(*Context)) *Context {
	return m.spawn(KindTask, cpu, name, job, false)
}

// SpawnKind is Spawn for kernel threads of other kinds (kworker, stopper).
// With front set the thread is queued ahead of waiting tasks.
func (m *Machine) SpawnKind(kind Kind, cpu int, name string, job func(*Context), front bool) *Context {
	return m.spawn(kind, cpu, name, job, front)
}

func (m *Machine) spawn(kind Kind, cpu int, name string, job func(*Context), front bool) *Context {
	pid := m.nextPID
	m.nextPID++
	c := m.newContext(kind, cpu, name, pid)
	c.job = job
	c.ready = true
	if len(m.threads) == cap(m.threads) {
		// Forget finished threads before the slice grows, so that a
		// script spawning one task (or kworker) after another keeps
		// memory flat; the order of the others stays.
		m.threads = slices.DeleteFunc(m.threads, func(t *Context) bool { return t.state == ctxDone })
	}
	m.threads = append(m.threads, c)
	q := &m.cpus[cpu]
	if front {
		q.runq = append([]*Context{c}, q.runq...)
	} else {
		q.runq = append(q.runq, c)
	}
	if m.Recording() {
		m.recWakeup(c)
	}
	m.kick(cpu)
	return c
}

// Machine is the machine c runs on.
func (c *Context) Machine() *Machine { return c.m }

// Done reports whether c's job has returned.
func (c *Context) Done() bool { return c.state == ctxDone }

// Waiting reports whether c is suspended in a wait.
func (c *Context) Waiting() bool { return c.state == ctxWaiting }

// WaitKind is the kind of c's current wait, or WaitNone if c is not
// waiting.
func (c *Context) WaitKind() WaitKind {
	if c.state != ctxWaiting {
		return WaitNone
	}
	return c.waitKind
}

// Parent is the context c interrupted (handlers), or nil.
// InterruptedIRQsOff is, for an interrupt or NMI handler, whether
// interrupts were disabled in the context it interrupted (what the
// exception saved: x86 EFLAGS.IF, arm64 PSTATE.I).
func (c *Context) InterruptedIRQsOff() bool { return c.savedIRQsOff }

func (c *Context) Parent() *Context { return c.parent }

// cpu is the CPU c runs on.
func (c *Context) cpu() *CPU { return &c.m.cpus[c.CPU] }

// wait suspends c in a wait of kind kind until a wake-up for this wait
// generation arrives (or deadline, if >= 0). Busy waits keep the CPU;
// others leave it.
func (c *Context) wait(kind WaitKind, deadline int64, info WaitInfo) {
	m := c.m
	if m.closed {
		panic(errKilled{})
	}
	if m.cur != c {
		panic("emu: wait called outside the running context")
	}
	if c.w == nil {
		c.waitStackless(kind, deadline, info)
		return
	}
	busy := kind.keepsCPU()
	if c.Kind == KindIRQ || c.Kind == KindNMI {
		busy = true // a handler cannot leave its CPU
	}
	if deadline >= 0 {
		e := event{t: deadline, kind: evWake, ctx: c, gen: c.gen}
		m.number(&e)
		if busy && m.runInPlace(c, &e) {
			// The wake-up would be the very next event, and nothing else
			// would run on this CPU first: execute it here, as the driver
			// would, without the two coroutine switches.
			c.gen++
			return
		}
		m.q.push(&e)
	}
	c.suspend(kind, busy, info)
}

// suspend is the end of wait: c, whose wake-up (if any) is queued, waits
// for it.
func (c *Context) suspend(kind WaitKind, busy bool, info WaitInfo) {
	m := c.m
	c.state = ctxWaiting
	c.busy = busy
	c.waitKind = kind
	c.Wait = info
	if !busy {
		// Leave the CPU; a thread this one preempted continues.
		cpu := c.cpu()
		if cpu.top == c {
			cpu.top = c.parent
		}
		c.parent = nil
	}
	if m.driving != nil || !m.drive(c) {
		c.yield()
	}
	c.state = ctxRunning
	c.Wait = WaitInfo{}
}

// waitStackless is a wait of a handler running on the engine's stack
// (Stackless). Waiting for good parks it: the body unwinds to the engine
// (errParked) and the handler stays on its CPU. Any other wait cannot
// return later on this stack, so it is a bug in the handler body.
func (c *Context) waitStackless(kind WaitKind, deadline int64, info WaitInfo) {
	if deadline < 0 && !c.ready {
		c.state, c.busy, c.waitKind, c.Wait = ctxWaiting, true, kind, info
		c.m.parking = true
		panic(errParked{c.CPU})
	}
	panic(fmt.Sprintf("emu: a %s handler on CPU %d %s on the engine's stack: use Spend, or Continue first", c.Kind, c.CPU, info.What))
}

// errParked unwinds a stackless handler that waits for good, on cpu, to
// the event loop (catchParked).
type errParked struct{ cpu int }

// Stackless reports whether c is a handler body running on the engine's
// own stack, as every handler body starts. It may then spend time only
// through Spend, and must call Continue before anything else that waits
// (Delay, Spin, Yield, ...); WaitForever is allowed.
func (c *Context) Stackless() bool { return c.w == nil }

// Spend keeps the CPU busy for d ns, like Delay, and reports whether the
// time is already spent and the caller should go on. In a coroutine it is
// Delay and returns true. On the engine's stack (Stackless) it returns
// true when the wake-up could be executed in place, and otherwise false:
// the caller must return at once, and then (if not nil) runs, on the
// engine's stack again, when the time is up.
func (c *Context) Spend(d int64, what string, then func(*Context)) bool {
	if d <= 0 {
		return true
	}
	if c.w != nil {
		c.Delay(d, what)
		return true
	}
	m := c.m
	if m.cur != c {
		panic("emu: Spend called outside the running context")
	}
	// The same event, and the same shortcut, as wait's.
	e := event{t: m.now + d, kind: evWake, ctx: c, gen: c.gen}
	m.number(&e)
	if m.runInPlace(c, &e) {
		c.gen++
		return true
	}
	m.q.push(&e)
	c.state, c.busy, c.waitKind, c.then = ctxWaiting, true, WaitDelay, then
	c.Wait = WaitInfo{What: what, Owner: -1}
	return false
}

// Continue runs job as the rest of c's body in a coroutine, where it may
// wait like any context. On the engine's stack the caller must return at
// once: job starts, on a pooled coroutine, as soon as it does. In a
// coroutine Continue simply calls job.
func (c *Context) Continue(job func(*Context)) {
	if c.w != nil {
		job(c)
		return
	}
	c.job = job // a handler without a coroutine has a job only after Continue
}

// yield hands control back to the driver.
func (c *Context) yield() {
	if !c.w.yield(struct{}{}) || c.m.closed {
		panic(errKilled{})
	}
}

// Delay keeps the CPU busy for d ns (udelay, mdelay, the cost of a step).
// Interrupts are taken meanwhile if enabled; the delay ends at now+d or when
// the last handler returns, whichever is later.
func (c *Context) Delay(d int64, what string) {
	if d <= 0 {
		return
	}
	m := c.m
	end := m.now + d
	if c.w != nil && m.cur == c && !m.closed {
		// wait's busy wait with a deadline, inline: the wake-up is
		// executed in place when it is the very next event, as it is for
		// most of a kernel path's costs.
		e := event{t: end, kind: evWake, ctx: c, gen: c.gen}
		m.number(&e)
		if m.runInPlace(c, &e) {
			c.gen++
			return
		}
		m.q.push(&e)
		c.suspend(WaitDelay, true, WaitInfo{What: what, Owner: -1})
	}
	for m.now < end {
		// A thread migrated off a dying CPU resumes early: wait out the rest.
		c.wait(WaitDelay, end, WaitInfo{What: what, Owner: -1})
	}
}

// PreemptPoint is a point where a higher-ranked kernel thread waiting for
// the CPU (a stopper, a kworker) takes over, if preemption and interrupts
// are enabled; c continues after it.
func (c *Context) PreemptPoint() {
	if len(c.cpu().runq) != 0 { // small enough to inline: no call when no thread waits
		c.preemptPoint()
	}
}

func (c *Context) preemptPoint() {
	cpu := c.cpu()
	if !cpu.canPreemptNow(c, cpu.runq[0]) {
		return
	}
	c.ready = true
	c.busy = true
	c.wait(WaitPreempted, -1, WaitInfo{What: "preempted", Owner: -1})
}

// ExitAfter, called by a handler body just before it returns, keeps the
// CPU in the handler for d more ns (the interrupt exit) without keeping
// the body's coroutine: the same as a final Delay(d), cheaper.
func (c *Context) ExitAfter(d int64) {
	if c.Kind == KindIRQ || c.Kind == KindNMI {
		c.tail = d
	} else {
		c.Delay(d, "irq exit")
	}
}

// YieldNow lets every event already due at this instant run first, then
// continues (used after operator hooks, so what they started runs now).
func (c *Context) YieldNow() {
	c.wait(WaitYield, c.m.now, WaitInfo{What: "yields", Owner: -1})
}

// Spin keeps the CPU busy until q is woken or until deadline (if >= 0);
// the caller re-checks its condition. Interrupts are taken meanwhile if
// enabled.
func (c *Context) Spin(q *WaitQueue, deadline int64, info WaitInfo) {
	q.add(c)
	c.wait(WaitSpin, deadline, info)
}

// Sleep leaves the CPU for d ns (msleep): another task may run, or the CPU
// idles and takes interrupts.
func (c *Context) Sleep(d int64, what string) {
	c.wait(WaitSleep, c.m.now+d, WaitInfo{What: what, Owner: -1})
}

// Block leaves the CPU until q is woken (wait_for_completion).
func (c *Context) Block(q *WaitQueue, info WaitInfo) {
	q.add(c)
	c.m.noteBlocked(c)
	c.wait(WaitBlock, -1, info)
}

// WaitForever suspends c for good, keeping its CPU (a panicked CPU).
func (c *Context) WaitForever(what string) {
	c.wait(WaitForever, -1, WaitInfo{What: what, Owner: -1})
}

// Yield lets the CPU take pending interrupts (after interrupts were
// re-enabled) and then continues.
func (c *Context) Yield() {
	cpu := c.cpu()
	if cpu.npending == 0 && !cpu.nmi {
		return
	}
	c.gen++
	c.ready = true
	c.busy = true
	c.wait(WaitYield, -1, WaitInfo{What: "interrupted", Owner: -1})
}

// WaitQueue is a set of contexts waiting for one condition.
type WaitQueue struct {
	w []waiter
}

type waiter struct {
	c   *Context
	gen uint32
}

func (q *WaitQueue) add(c *Context) { q.w = append(q.w, waiter{c, c.gen}) }

// Len is the number of registered waiters (some may be stale).
func (q *WaitQueue) Len() int { return len(q.w) }

// Wake ends the wait of every context waiting on q, after d ns (the time a
// store takes to reach a spinning CPU). Waiters whose wait already ended
// are skipped.
func (q *WaitQueue) Wake(m *Machine, d int64) {
	for i, w := range q.w {
		if w.c.gen == w.gen && w.c.state != ctxDone {
			m.schedule(event{t: m.now + d, kind: evWake, ctx: w.c, gen: w.gen})
		}
		q.w[i].c = nil // one at a time: clear() costs more for a queue of one
	}
	q.w = q.w[:0]
}

// noteBlocked remembers a context that sleeps without a deadline, so Stuck
// can name it; finished or woken entries are pruned here.
func (m *Machine) noteBlocked(c *Context) {
	live := m.blocked[:0]
	for _, b := range m.blocked {
		if b.state == ctxWaiting && !b.busy && b != c {
			live = append(live, b)
		}
	}
	m.blocked = append(live, c)
}
