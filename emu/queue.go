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
	tie  uint32 // 0 for seed 0; a random draw otherwise (same-instant order)
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

// eventQueue is a binary min-heap of events ordered by (t, tie, seq).
type eventQueue struct {
	h []event
}

func (q *eventQueue) len() int { return len(q.h) }

func (q *eventQueue) push(e event) {
	q.h = append(q.h, e)
	i := len(q.h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.h[i].before(&q.h[p]) {
			break
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}

func (q *eventQueue) peek() *event { return &q.h[0] }

func (q *eventQueue) pop() event {
	top := q.h[0]
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h[n] = event{}
	q.h = q.h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q.h[r].before(&q.h[l]) {
			m = r
		}
		if !q.h[m].before(&q.h[i]) {
			break
		}
		q.h[i], q.h[m] = q.h[m], q.h[i]
		i = m
	}
	return top
}
