package emu

// Emitting the event record from the engine: the IPIs raised and what
// became of them (delivered, merged, dropped when a CPU's pending vectors
// are cleared), handler entry and exit, task switches, idle, wake-ups,
// migrations, the task-level interrupt flag and scheduling decisions.
// Nothing here runs, allocates or draws when nobody records (Recording).

// raised is what the record knows of an interrupt still in the event
// queue: its IPI id and its sender. Kept apart from the event (keyed by
// the event's sequence number) so that the queue's events stay small.
type raised struct {
	id  uint64
	src int
}

// pendingID is an IPI id pending on a CPU, for vector vec (-1: the NMI).
type pendingID struct {
	vec int
	src int
	id  uint64
}

// recState is the engine's bookkeeping for the record, built when the
// first recorder is attached.
type recState struct {
	raised map[uint64]raised // by event seq; looked up, never iterated
	pend   [][]pendingID     // per CPU: the ids of the pending vectors, in arrival order
	last   []*Context        // per CPU: the task last switched in (nil: idle)
}

func (m *Machine) initRec() {
	if m.rs != nil {
		return
	}
	n := len(m.cpus)
	m.rs = &recState{raised: map[uint64]raised{}, pend: make([][]pendingID, n), last: make([]*Context, n)}
	for i := range m.cpus {
		m.rs.last[i] = m.cpus[i].Task()
	}
	m.sched.onDraw = m.recDecision
}

// curCPU is the CPU of the running context, -1 on the driver.
func (m *Machine) curCPU() int {
	if m.cur != nil {
		return m.cur.CPU
	}
	return -1
}

// RaiseIPI makes vector pending on cpu at time t, as RaiseIRQ, for the
// IPI of id id (NewIPIID); vector -1 is an NMI sent as an IPI. The record
// follows the id to its delivery (EvIPIDeliver or EvIPIMerge) and to the
// handler that takes it (EvIRQEntry); the sender is the CPU of the running
// context (-1: the operator).
func (m *Machine) RaiseIPI(cpu int, vector int, t int64, id uint64) {
	if t < m.now {
		t = m.now
	}
	e := event{t: t, kind: evIRQ, cpu: int32(cpu), arg: int32(vector)}
	if vector < 0 {
		e.kind, e.arg = evNMI, 0
	}
	m.number(&e)
	if m.rs != nil && m.Recording() {
		m.rs.raised[e.seq] = raised{id: id, src: m.curCPU()}
	}
	m.cpus[cpu].inflight++
	m.q.push(&e)
}

// recArrive records the arrival of the interrupt of event e on cpu
// (vector -1: the NMI), before it is made pending: EvIPIDeliver, or
// EvIPIMerge when the vector is already pending. An interrupt raised
// without an id (RaiseIRQ) is not an IPI: it is recorded only by the
// handler that takes it.
func (m *Machine) recArrive(cpu *CPU, e *event, vector int) {
	r, ok := m.rs.raised[e.seq]
	if !ok {
		return
	}
	delete(m.rs.raised, e.seq)
	if r.id == 0 {
		return
	}
	kind := EvIPIDeliver
	if vector < 0 && cpu.nmi || vector >= 0 && cpu.isPending(vector) {
		kind = EvIPIMerge
	}
	m.rs.pend[cpu.ID] = append(m.rs.pend[cpu.ID], pendingID{vec: vector, src: r.src, id: r.id})
	m.Emit(cpu.ID, &Event{Kind: kind, ID: r.id, Vector: vector, Source: r.src})
}

// recIRQEntry records a handler of vector (-1: NMI) going on cpu, with the
// ids of every IPI merged into the pending vector it takes.
func (m *Machine) recIRQEntry(cpu *CPU, vector int) {
	var ids []uint64
	p := m.rs.pend[cpu.ID]
	kept := p[:0]
	for _, x := range p {
		if x.vec == vector {
			ids = append(ids, x.id)
		} else {
			kept = append(kept, x)
		}
	}
	m.rs.pend[cpu.ID] = kept
	m.Emit(cpu.ID, &Event{Kind: EvIRQEntry, Vector: vector, IDs: ids})
}

// recCleared records the IPIs lost when cpu's pending interrupts are
// cleared (ClearPending: a CPU coming back up).
func (m *Machine) recCleared(cpu *CPU) {
	for _, x := range m.rs.pend[cpu.ID] {
		m.Emit(cpu.ID, &Event{Kind: EvIPIDrop, ID: x.id, Vector: x.vec, Source: x.src, Reason: DropOffline})
	}
	m.rs.pend[cpu.ID] = m.rs.pend[cpu.ID][:0]
}

// idleComm is the idle task's name as sched_switch prints it.
func idleComm(cpu int) string { return "swapper/" + itoa(cpu) }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// prevState is sched_switch's prev_state for a task leaving its CPU:
// "X" it ended, "S" it sleeps (Sleep: an interruptible, timed sleep), "D"
// it blocks (Block: an uninterruptible wait for a WaitQueue), "R" it
// stays runnable (preempted by a kernel thread, yielded, migrated, or the
// idle task).
func prevState(c *Context) string {
	if c == nil {
		return "R"
	}
	switch {
	case c.state == ctxDone:
		return "X"
	case c.state == ctxWaiting && !c.busy && c.waitKind == WaitSleep:
		return "S"
	case c.state == ctxWaiting && !c.busy && c.waitKind == WaitBlock:
		return "D"
	}
	return "R"
}

// recSched records a change of the task cpu runs (EvSchedSwitch), with
// EvIdleExit before a switch from idle and EvIdleEnter after a switch to
// it.
func (m *Machine) recSched(cpu *CPU) {
	next := cpu.Task()
	prev := m.rs.last[cpu.ID]
	if next == prev {
		return
	}
	m.rs.last[cpu.ID] = next
	if prev == nil && m.Recording() {
		// The idle task leaves idle: the event is its, as the switch is.
		e := &Event{Kind: EvIdleExit}
		m.fill(cpu.ID, e)
		e.Comm, e.PID, e.Ctx = "<idle>", 0, CtxIdle
		m.deliverRecord(e)
	}
	e := &Event{Kind: EvSchedSwitch, PrevComm: idleComm(cpu.ID), PrevState: prevState(prev), NextComm: idleComm(cpu.ID)}
	if prev != nil {
		e.PrevComm, e.PrevPID = prev.Name, prev.PID
	}
	if next != nil {
		e.NextComm, e.NextPID = next.Name, next.PID
	}
	m.emitSched(cpu.ID, e, 2)
	if next == nil {
		m.Emit(cpu.ID, &Event{Kind: EvIdleEnter})
	}
}

// recWakeup records t becoming runnable on its CPU (spawned or woken), on
// the CPU of the context that wakes it (the target's when the driver does).
func (m *Machine) recWakeup(t *Context) {
	cpu := m.curCPU()
	if cpu < 0 {
		cpu = t.CPU
	}
	m.emitSched(cpu, &Event{Kind: EvSchedWakeup, TaskComm: t.Name, TaskPID: t.PID, Target: t.CPU}, 2)
}

// recMigrate records t moved from CPU from to CPU to.
func (m *Machine) recMigrate(t *Context, from, to int) {
	m.Emit(from, &Event{Kind: EvSchedMigrate, TaskComm: t.Name, TaskPID: t.PID, Source: from, Target: to})
}

// SetIRQsOff is local_irq_disable() (off) or local_irq_enable() at task
// level: it sets the CPU's interrupt flag and records the change
// (EvIRQsOff, EvIRQsOn). A handler's own masking on entry and exit is not
// one of these.
func (c *CPU) SetIRQsOff(off bool) {
	if c.IRQsOff != off && c.m != nil && len(c.m.recs) != 0 { // small enough to inline
		c.recIRQs(off)
		return
	}
	c.IRQsOff = off
}

// recIRQs sets the flag to off, which it is not, and records the change.
func (c *CPU) recIRQs(off bool) {
	c.IRQsOff = off
	k := EvIRQsOn
	if off {
		k = EvIRQsOff
	}
	c.m.Emit(c.ID, &Event{Kind: k})
}

// recDecision records a scheduling decision drawn (sched.draw, jitter).
func (m *Machine) recDecision(n int, v, max uint64) {
	if !m.Recording() {
		return
	}
	if m.canonical {
		n += int(m.seq) // as Draws counts: every event's tie is a draw of 0
	}
	m.Emit(m.curCPU(), &Event{Kind: EvDecision, N: n, V: v, Max: max})
}
