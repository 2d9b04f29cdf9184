package emu

// eventKind says what an event does when it is popped.
type eventKind uint8

const (
	evWake  eventKind = iota // resume ctx if its wait generation still matches
	evIRQ                    // an interrupt (arg = vector) becomes pending on cpu
	evNMI                    // a non-maskable interrupt becomes pending on cpu
	evFunc                   // call fn on the driver's stack (operator timers, rare)
	evCheck                  // re-examine cpu: take pending interrupts, resume a ready context
)

// event is a small value: the queue holds events, not pointers to them.
type event struct {
	t    int64
	tie  uint32 // 0 on the canonical schedule; a decision otherwise (same-instant order)
	seq  uint64 // assigned when scheduled; the final tie-break
	kind eventKind
	cpu  int32
	arg  int32
	gen  uint32
	ctx  *Context
	fn   func()
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
// Events with tie 0 (every event of the canonical schedule) that are due at
// the same instant share one FIFO, a "run": they arrive in sequence order,
// so a run is already sorted, and a heap orders the runs by time. A
// broadcast's IPIs then cost O(1) each, not O(log n). Events with another
// tie go to a plain binary heap. Popping compares the two heads, so the
// order is exactly (t, tie, seq) either way.
type eventQueue struct {
	h    []event        // events with tie != 0: a binary min-heap
	runs []*run         // a binary min-heap of runs by t
	byT  map[int64]*run // the run of each instant; looked up, never ranged
	free []*run
	n    int
}

// run is the FIFO of tie-0 events due at time t.
type run struct {
	t    int64
	ev   []event
	head int
}

func (q *eventQueue) len() int { return q.n }

func (q *eventQueue) push(e event) {
	q.n++
	if e.tie != 0 {
		q.h = append(q.h, e)
		heapUp(q.h, len(q.h)-1)
		return
	}
	if q.byT == nil {
		q.byT = map[int64]*run{}
	}
	r := q.byT[e.t]
	if r == nil {
		if n := len(q.free); n > 0 {
			r = q.free[n-1]
			q.free = q.free[:n-1]
		} else {
			r = &run{}
		}
		r.t = e.t
		q.byT[e.t] = r
		q.runs = append(q.runs, r)
		runUp(q.runs, len(q.runs)-1)
	}
	r.ev = append(r.ev, e)
}

// peek returns the earliest event; the queue must not be empty.
func (q *eventQueue) peek() *event {
	if len(q.runs) == 0 {
		return &q.h[0]
	}
	r := q.runs[0]
	e := &r.ev[r.head]
	if len(q.h) > 0 && q.h[0].before(e) {
		return &q.h[0]
	}
	return e
}

func (q *eventQueue) pop() event {
	q.n--
	if len(q.runs) > 0 {
		r := q.runs[0]
		if len(q.h) == 0 || !q.h[0].before(&r.ev[r.head]) {
			e := r.ev[r.head]
			r.ev[r.head] = event{}
			r.head++
			if r.head == len(r.ev) {
				// The run is done: drop it from the heap of runs.
				delete(q.byT, r.t)
				last := len(q.runs) - 1
				q.runs[0] = q.runs[last]
				q.runs[last] = nil
				q.runs = q.runs[:last]
				runDown(q.runs, 0)
				r.ev, r.head = r.ev[:0], 0
				q.free = append(q.free, r)
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
		if h[i].t >= h[p].t {
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
		if r := l + 1; r < n && h[r].t < h[l].t {
			m = r
		}
		if h[m].t >= h[i].t {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
