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
// run is sorted. A heap orders the runs by (time, sequence of their head);
// a push at the instant of the run last appended to joins it, so a
// broadcast's IPIs cost O(1) each. Events with another tie go to a plain
// binary heap. Popping compares the two heads, so the order is exactly
// (t, tie, seq) either way.
type eventQueue struct {
	h    []event // events with tie != 0: a binary min-heap
	runs []*run  // a binary min-heap of runs by (t, head seq)
	last *run    // the run last appended to, while it is in runs
	free []*run
	n    int
}

// run is a FIFO of tie-0 events due at time t, in sequence order.
type run struct {
	ev   []event
	head int
}

func (r *run) key() *event { return &r.ev[r.head] }

func (q *eventQueue) len() int { return q.n }

func (q *eventQueue) push(e *event) {
	q.n++
	if e.tie != 0 {
		q.h = append(q.h, *e)
		heapUp(q.h, len(q.h)-1)
		return
	}
	if r := q.last; r != nil && r.ev[len(r.ev)-1].t == e.t {
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
	q.runs = append(q.runs, r)
	runUp(q.runs, len(q.runs)-1)
	q.last = r
}

// peek returns the earliest event; the queue must not be empty.
func (q *eventQueue) peek() *event {
	if len(q.runs) == 0 {
		return &q.h[0]
	}
	e := q.runs[0].key()
	if len(q.h) > 0 && q.h[0].before(e) {
		return &q.h[0]
	}
	return e
}

func (q *eventQueue) pop() event {
	q.n--
	if len(q.runs) > 0 {
		r := q.runs[0]
		if len(q.h) == 0 || !q.h[0].before(r.key()) {
			e := r.ev[r.head]
			r.ev[r.head].ctx = nil
			r.head++
			if r.head == len(r.ev) {
				// The run is done: drop it from the heap of runs.
				last := len(q.runs) - 1
				q.runs[0] = q.runs[last]
				q.runs[last] = nil
				q.runs = q.runs[:last]
				if q.last == r {
					q.last = nil
				}
				r.ev, r.head = r.ev[:0], 0
				q.free = append(q.free, r)
			}
			if len(q.runs) > 0 {
				runDown(q.runs, 0) // a new head (or a new top run)
			}
			return e
		}
	}
	top := q.h[0]
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h[n] = event{}
	q.h = q.h[:n]
	heapDown(q.h, 0)
	return top
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

func runUp(h []*run, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].key().before(h[p].key()) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func runDown(h []*run, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].key().before(h[l].key()) {
			m = r
		}
		if !h[m].key().before(h[i].key()) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
