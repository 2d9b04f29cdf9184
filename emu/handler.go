package emu

// Entering and leaving contexts: starting an interrupt or NMI handler
// (startHandler, with its entry cost), switching into a context
// (switchTo), running a handler body on the engine's stack
// (runStackless), and retiring a context (beginTail for a handler's exit
// cost, finish).

// startHandler enters the handler of vector (-1: the NMI) on cpu: a
// handler context, recycled if one is free, goes on top of the CPU's
// stack with interrupts off. It returns the handler, ready to run its
// body, or nil while its entry cost (Config.IRQEntry) is still to be
// spent: a wake-up then starts the body.
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
	if m.rs != nil && m.Recording() {
		m.recIRQEntry(cpu, vector)
	}
	// The body starts on the engine's stack (Stackless).
	h.job, h.then = nil, m.handlerJobFn
	if vector >= 0 && m.irqEntry > 0 {
		// Interrupt entry: the CPU is in the handler, interrupts off, but
		// its body starts only after the entry cost; until then it needs
		// no coroutine (the same event a Delay at its start would make).
		e := event{t: m.now + m.irqEntry, kind: evWake, ctx: h, gen: h.gen}
		m.number(&e)
		if !m.runInPlace(h, &e) {
			h.state, h.busy, h.ready, h.waitKind = ctxWaiting, true, false, WaitDelay
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
	c.state, c.busy, c.ready, c.waitKind = ctxWaiting, true, false, WaitDelay
	c.Wait = WaitInfo{What: "returns from an interrupt", Owner: -1}
	m.q.push(&e)
}

// finish retires a context whose job returned.
func (m *Machine) finish(c *Context) {
	cpu := &m.cpus[c.CPU]
	if m.Recording() && (c.Kind == KindIRQ || c.Kind == KindNMI) {
		m.Emit(c.CPU, &Event{Kind: EvIRQExit, Vector: int(c.vector)})
	}
	if cpu.top == c {
		cpu.top = c.parent
	}
	switch c.Kind {
	case KindIRQ, KindNMI:
		cpu.Hardirq--
		cpu.IRQsOff = c.savedIRQsOff
		if c.parent == nil {
			cpu.idleWoken = true // back in the idle loop, which looks at need-resched
		}
		if c.Kind == KindNMI {
			cpu.inNMI = false
		}
	default:
		// A task that ends with interrupts or preemption disabled leaves the
		// CPU clean for the next one (the kernel would warn; callers check).
		// A parked (dead) CPU keeps what its last thread left.
		if !cpu.Parked {
			cpu.SetIRQsOff(false)
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
