package emu

// The coroutine pool: the workers contexts run on (iter.Pull), the
// machine's idle ones, the process's spares shared by machines, and Close,
// which hands idle workers on and stops the others.

import (
	"iter"
	"sync"
)

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
	// Idle coroutines go to the process's spares (as many as fit). The
	// others are stopped, outside the lock: an idle one just ends, one in
	// the middle of a job unwinds it (errKilled), running the job's
	// deferred code.
	stop := m.workers[:0]
	spare.Lock()
	for _, w := range m.workers {
		if w.idle && len(spare.w) < maxSpare {
			spare.w = append(spare.w, w)
		} else {
			stop = append(stop, w)
		}
	}
	spare.Unlock()
	for _, w := range stop {
		w.stop()
	}
	m.workers, m.pool = nil, nil
}

// Closed reports whether Close was called.
func (m *Machine) Closed() bool { return m.closed }
