package emu

// eventKind says what an event does when it is popped.
type eventKind uint8

const (
	evWake  eventKind = iota // resume ctx if its wait generation still matches
	evIRQ                    // an interrupt (arg = vector) becomes pending on cpu
	evNMI                    // a non-maskable interrupt becomes pending on cpu
	evFunc                   // call fn on the driver's stack (operator timers, rare)
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
}

func (a *event) before(b *event) bool {
	if a.t != b.t {
		return a.t < b.t
	}
	if a.tie != b.tie {
		return a.tie < b.tie
	}
	return a.seq < b.seq
}

// eventQueue orders events by (t, tie, seq).
//
// Events with tie 0 (every event of the canonical schedule) go into runs:
// FIFOs of events due at one instant, appended in sequence order, so each
// run is sorted. A heap orders the runs by (time, sequence of their head),
// kept beside each run's pointer so that ordering them reads no run; a
// push at the instant of the run last appended to joins it, so a
// broadcast's IPIs cost O(1) each. Events with another tie go to a plain
// binary heap. Popping compares the two heads, so the order is exactly
// (t, tie, seq) either way.
type eventQueue struct {
	h     []event   // events with tie != 0: a binary min-heap
	runs  []runHead // a binary min-heap of runs by (t, head seq)
	last  *run      // the run last appended to, while it is in runs
	lastT int64     // last's instant
	free  []*run
	n     int
}

// run is a FIFO of tie-0 events due at one instant, in sequence order.
type run struct {
	ev   []event
	head int
}

// runHead is a run's place in the heap of runs: its instant and the
// sequence number of its first event not yet popped.
type runHead struct {
	t   int64
	seq uint64
	r   *run
}

func (a *runHead) before(b *runHead) bool {
	return a.t < b.t || a.t == b.t && a.seq < b.seq
}

// headBefore reports whether heap event e (tie != 0) precedes the run
// head h: only by time, since at one instant tie 0 comes first.
func headBefore(e *event, h *runHead) bool { return e.t < h.t }

func (q *eventQueue) len() int { return q.n }

func (q *eventQueue) push(e *event) {
	q.n++
	if e.tie != 0 {
		q.h = append(q.h, *e)
		heapUp(q.h, len(q.h)-1)
		return
	}
	if r := q.last; r != nil && q.lastT == e.t {
		// Later in sequence than everything in r: r's head is unchanged.
		r.ev = append(r.ev, *e)
		return
	}
	var r *run
	if n := len(q.free); n > 0 {
		r = q.free[n-1]
		q.free = q.free[:n-1]
	} else {
		r = &run{}
	}
	r.ev = append(r.ev, *e)
	q.runs = append(q.runs, runHead{e.t, e.seq, r})
	runUp(q.runs, len(q.runs)-1)
	q.last, q.lastT = r, e.t
}

// nextT is the time of the earliest event; the queue must not be empty.
func (q *eventQueue) nextT() int64 {
	if len(q.runs) == 0 {
		return q.h[0].t
	}
	t := q.runs[0].t
	if len(q.h) > 0 && q.h[0].t < t {
		return q.h[0].t
	}
	return t
}

// precedes reports whether e, which is not queued, comes before every
// queued event.
func (q *eventQueue) precedes(e *event) bool {
	if len(q.runs) > 0 {
		h := &q.runs[0]
		if e.t > h.t || e.t == h.t && (e.tie != 0 || e.seq > h.seq) {
			return false
		}
	}
	return len(q.h) == 0 || e.before(&q.h[0])
}

func (q *eventQueue) pop() event {
	var e event
	q.popTo(&e)
	return e
}

// popTo moves the earliest event into *e; the queue must not be empty.
func (q *eventQueue) popTo(e *event) {
	q.n--
	if len(q.runs) > 0 {
		h := &q.runs[0]
		if len(q.h) == 0 || !headBefore(&q.h[0], h) {
			r := h.r
			p := &r.ev[r.head]
			*e = *p
			p.ctx = nil
			r.head++
			if r.head < len(r.ev) {
				// A new head, later than the old: sift the run down.
				h.seq = r.ev[r.head].seq
			} else {
				// The run is done: drop it from the heap of runs.
				last := len(q.runs) - 1
				q.runs[0] = q.runs[last]
				q.runs[last] = runHead{}
				q.runs = q.runs[:last]
				if q.last == r {
					q.last = nil
				}
				r.ev, r.head = r.ev[:0], 0
				q.free = append(q.free, r)
			}
			if len(q.runs) > 1 {
				runDown(q.runs, 0)
			}
			return
		}
	}
	*e = q.h[0]
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h[n] = event{}
	q.h = q.h[:n]
	heapDown(q.h, 0)
}

func heapUp(h []event, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].before(&h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func heapDown(h []event, i int) {
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

func runUp(h []runHead, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].before(&h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func runDown(h []runHead, i int) {
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
