package emu

// The event queue: events, their (time, tie, sequence) order, and the
// run-based heap that pops them in that order.

// eventKind says what an event does when it is popped.
type eventKind uint8

const (
	evWake  eventKind = iota // resume ctx if its wait generation still matches
	evIRQ                    // an interrupt (arg = vector) becomes pending on cpu
	evNMI                    // a non-maskable interrupt becomes pending on cpu
	evFunc                   // call the function At registered under seq (Machine.funcs), on the driver (operator timers, rare)
	evCheck                  // re-examine cpu: take pending interrupts, resume a ready context
	evExit                   // a handler's exit cost is over: pop it off its CPU
)

// event is a small value (48 bytes, one pointer): the queue holds events,
// not pointers to them.
type event struct {
	t    int64
	seq  uint64 // assigned when scheduled; the final tie-break
	ctx  *Context
	tie  uint32 // 0 on the canonical schedule; a decision otherwise (same-instant order)
	gen  uint32
	cpu  int32
	arg  int32 // evIRQ: the vector
	kind eventKind
	next int32 // in the queue: the slot of the next event of the same run, or -1
}

// earlier is the order of execution: by time, then tie, then sequence.
func earlier(at int64, atie uint32, aseq uint64, bt int64, btie uint32, bseq uint64) bool {
	if at != bt {
		return at < bt
	}
	if atie != btie {
		return atie < btie
	}
	return aseq < bseq
}

func (a *event) before(b *event) bool { return earlier(a.t, a.tie, a.seq, b.t, b.tie, b.seq) }

// eventQueue orders events by (t, tie, seq). Events are pushed in
// sequence order (each is numbered just before it is pushed).
//
// The events sit in a slab of slots, recycled through a free list; a
// binary heap of small pointer-free keys orders them. A key stands for a
// run: a FIFO of events chained through their slots, all due at one
// instant with tie 0 (the canonical schedule), in sequence order. A push
// of a tie-0 event at the instant of the run last appended to joins that
// run at its tail, so a broadcast's IPIs cost O(1) each; any other push
// starts a run of its own. A run's key carries the (t, tie, seq) of its
// first event, so popping the heap's top is exactly (t, tie, seq) order.
type eventQueue struct {
	keys  []qkey  // a binary min-heap of runs
	slots []event // the queued events; free slots have ctx nil
	free  int32   // 1 + the first free slot (chained through next), or 0
	tail  int32   // 1 + the last slot of the run last appended to, or 0
	tailT int64   // that run's instant
	n     int
}

// qkey is a run's place in the heap: its first event's order and slot.
type qkey struct {
	t    int64
	seq  uint64
	tie  uint32
	slot int32
}

func (a *qkey) before(b *qkey) bool { return earlier(a.t, a.tie, a.seq, b.t, b.tie, b.seq) }

func (q *eventQueue) len() int { return q.n }

func (q *eventQueue) push(e *event) {
	q.n++
	var s int32
	if q.free != 0 {
		s = q.free - 1
		q.free = q.slots[s].next
	} else {
		s = int32(len(q.slots))
		q.slots = append(q.slots, event{})
	}
	p := &q.slots[s]
	*p = *e
	p.next = -1
	if e.tie == 0 {
		if q.tail != 0 && q.tailT == e.t {
			// Later in sequence than everything in that run: its key stays.
			q.slots[q.tail-1].next = s
			q.tail = s + 1
			return
		}
		q.tail, q.tailT = s+1, e.t
	}
	q.keys = append(q.keys, qkey{e.t, e.seq, e.tie, s})
	keyUp(q.keys, len(q.keys)-1)
}

// nextT is the time of the earliest event; the queue must not be empty.
func (q *eventQueue) nextT() int64 { return q.keys[0].t }

// precedes reports whether e, which is not queued, comes before every
// queued event.
func (q *eventQueue) precedes(e *event) bool {
	if len(q.keys) == 0 {
		return true
	}
	k := &q.keys[0]
	return earlier(e.t, e.tie, e.seq, k.t, k.tie, k.seq)
}

func (q *eventQueue) pop() event {
	var e event
	q.popTo(&e)
	return e
}

// popTo moves the earliest event into *e; the queue must not be empty.
func (q *eventQueue) popTo(e *event) {
	q.n--
	k := &q.keys[0]
	s := k.slot
	p := &q.slots[s]
	*e = *p
	next := p.next
	p.ctx = nil
	p.next = q.free
	q.free = s + 1
	if q.tail == s+1 {
		q.tail = 0
	}
	if next >= 0 {
		// The run goes on: its key moves to its next event and stays on
		// top. Events are pushed in sequence order (push), so a run of
		// tie 0 made later at the same instant holds only later sequence
		// numbers, and any other run is later in time or tie.
		k.slot, k.seq = next, q.slots[next].seq
		return
	}
	last := len(q.keys) - 1
	q.keys[0] = q.keys[last]
	q.keys = q.keys[:last]
	if last > 1 {
		keyDown(q.keys, 0)
	}
}

func keyUp(h []qkey, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].before(&h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func keyDown(h []qkey, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].before(&h[l]) {
			m = r
		}
		if !h[m].before(&h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
