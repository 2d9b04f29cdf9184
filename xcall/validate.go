// This file is the invariant validator (after Go's
// internal/trace testtrace.Validator): a checker that consumes the kernel's
// Event stream and reports every violated invariant of the cross-call
// protocol at once. It mirrors no kernel file; the invariants are those of
// docs/kernel.md: the csd lock (#the-csd-and-its-lock), the send paths
// (#sending) and the flush and what completion means per type
// (#the-flush-order).

package xcall

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"
)

// A Validator checks the cross-call protocol as the kernel's Events show it
// (see Kernel.Events) and collects every violation, each with the virtual
// time and the csd. It is an EventSink; Time checks that the time stamps
// it is given never go backwards.
//
// The invariants, per csd (one "use" of a csd runs from its EvLock to its
// function's run and its unlock):
//
//   - lock: a csd is never locked (claimed for a new use) while it is still
//     locked, nor while its previous use is still queued or dequeued but not
//     yet run. No modelled path needs an exception: the pre-5a18ceca6350
//     path of smp_call_function_single_async (fix async_ebusy off) spins in
//     csd_lock_wait until the csd is unlocked before it locks it again, as
//     the kernel did, and the other senders either spin (csd_lock) or
//     refuse with -EBUSY. IRQ_WORK and TTWU csds carry no lock bit: their
//     EvLock claims them without locking them.
//   - queue: a SYNC or ASYNC csd is queued only while locked, at most once
//     per use, and never while it is still on a queue (no double queueing).
//   - dequeue: only by the flush of the CPU it was queued on.
//   - run: each queued csd runs exactly once, on its target, after that
//     target's flush took it off the queue; a csd that was not queued runs
//     at most once per use, inline on the CPU that locked it (the self
//     call). Many-path local runs carry no csd (CSD 0) and are not tracked.
//   - unlock: only of a locked csd, never while it is still on a queue, by
//     the target CPU if it was queued; a SYNC csd that was queued is
//     unlocked only after its function ran (the SYNC contract,
//     docs/kernel.md#the-csd-and-its-lock).
//   - wait: a synchronous caller returns (EvWaitDone) only on the CPU that
//     locked the csd, after the csd was unlocked and, if it was queued,
//     after its function ran; and only for a SYNC csd, since an ASYNC csd is
//     unlocked before its function runs and its unlock proves nothing. A use
//     that was refused (-ENXIO: locked, unlocked, never queued nor run) may
//     end in EvWaitDone without a run.
//   - time: event, trace and log time stamps never decrease.
//
// Not checked, because no Event carries it: whether an IPI was handled on
// an offline CPU.
//
// Finish adds the end-of-run check (work queued but never run). A
// Validator is used by one goroutine, the emulation's.
type Validator struct {
	csds []csdState // indexed by csd ID, below denseIDs; grown on demand
	// sparse holds the csds from ID denseIDs on: a script that makes a
	// csd per call (csd_init in a loop) makes IDs without end. The state
	// of such a csd is dropped once the csd is collected and its state
	// has nothing left for Finish to report (not queued, dequeued or
	// locked): a collected csd has no events to come, so what the
	// Validator reports does not depend on when the collection happens.
	sparse    map[int]*csdState
	dead      *deadCSDs // IDs of collected sparse csds, not yet swept
	nextSweep int       // sweep when sparse grows to this many entries
	lastT     int64     // the previous time stamp
	seenT     bool
	finished  bool // Finish ran its end-of-run check
	errs      []string
	extra     int // errors beyond maxErrors, counted only
}

// denseIDs is where csd IDs stop indexing Validator.csds: the kernel's own
// csds (per-CPU csd_data, the many path's per-pair csds, the on-stack
// pool) stay below it on machines of up to about 500 CPUs, and their state
// costs 24 MiB at most. A variable for the tests.
var denseIDs = 1 << 18

// deadCSDs collects the IDs of collected csds: runtime cleanups add them
// on their own goroutine, the Validator takes them on the emulation's.
type deadCSDs struct {
	mu  sync.Mutex
	ids []int
}

func (d *deadCSDs) add(id int) {
	d.mu.Lock()
	d.ids = append(d.ids, id)
	d.mu.Unlock()
}

func (d *deadCSDs) take() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := d.ids
	d.ids = nil
	return ids
}

// maxErrors bounds the errors a Validator keeps: a broken run can produce
// one per event.
const maxErrors = 200

// csdState is what the Validator knows of one csd. Written only by the
// Validator's methods.
type csdState struct {
	seen bool

	inUse   bool // an EvLock began a use that has not ended
	locked  bool // the lock bit, as the events show it
	typ     uint32
	lockT   int64
	lockCPU int

	queued bool // on a call_single_queue
	qT     int64
	qCPU   int // the sender
	qDst   int // the target

	dequeued  bool // taken off qDst's queue by its flush, not yet run
	wasQueued bool // this use went through a queue
	ran       bool // this use's function started
	runT      int64
	runCPU    int
}

// NewValidator returns a Validator that has seen nothing.
func NewValidator() *Validator { return &Validator{} }

// Attach subscribes v to k's kernel events. It does not attach to the
// event record, so validating costs no recording.
func (v *Validator) Attach(k *Kernel) {
	k.Events = append(k.Events, v)
}

// Errors returns the violations found so far, in the order they were found.
func (v *Validator) Errors() []string {
	out := append([]string(nil), v.errs...)
	if v.extra > 0 {
		out = append(out, fmt.Sprintf("... and %d more violations", v.extra))
	}
	return out
}

func (v *Validator) errorf(t int64, csd int, format string, args ...any) {
	if len(v.errs) >= maxErrors {
		v.extra++
		return
	}
	where := ""
	if csd != 0 {
		where = fmt.Sprintf(" csd #%d", csd)
	}
	v.errs = append(v.errs, fmt.Sprintf("t=%dns%s: %s", t, where, fmt.Sprintf(format, args...)))
}

// Time is the time-monotonicity hook: every stamp the run produces passes
// through it. what names the stamp's source in the report; it is called
// only on a violation, so that the common case formats nothing.
func (v *Validator) Time(t int64, what func() string) {
	if v.seenT && t < v.lastT {
		v.backwards(t, what())
	}
	v.lastT, v.seenT = t, true
}

// backwards reports a stamp at t, earlier than the one before it. The step
// is reported once: later stamps compare with this one.
func (v *Validator) backwards(t int64, what string) {
	v.errorf(t, 0, "time went backwards: %s at %d ns after something at %d ns", what, t, v.lastT)
}

func (v *Validator) state(id int, csd *CSD) *csdState {
	if id >= denseIDs {
		return v.sparseState(id, csd)
	}
	if id >= len(v.csds) {
		n := min(max(2*len(v.csds), id+1, 8), denseIDs)
		v.csds = append(v.csds, make([]csdState, n-len(v.csds))...)
	}
	s := &v.csds[id]
	s.seen = true
	return s
}

// sparseState is state for IDs from denseIDs on. csd, when the event
// carries it, is watched so that its state can go once it is collected.
func (v *Validator) sparseState(id int, csd *CSD) *csdState {
	if s, ok := v.sparse[id]; ok {
		return s
	}
	if v.sparse == nil {
		v.sparse, v.dead, v.nextSweep = map[int]*csdState{}, &deadCSDs{}, 1024
	}
	if len(v.sparse) >= v.nextSweep {
		v.sweep()
		v.nextSweep = max(2*len(v.sparse), 1024)
	}
	s := &csdState{seen: true}
	v.sparse[id] = s
	if csd != nil {
		runtime.AddCleanup(csd, v.dead.add, id)
	}
	return s
}

// sweep drops the state of collected csds that Finish has nothing to say
// about.
func (v *Validator) sweep() {
	n := len(v.sparse)
	for _, id := range v.dead.take() {
		if s, ok := v.sparse[id]; ok && !s.queued && !s.dequeued && !s.locked {
			delete(v.sparse, id)
		}
	}
	if len(v.sparse) < n/4 {
		// A Go map keeps its size: copy what is left into a small one.
		small := make(map[int]*csdState, len(v.sparse))
		for id, s := range v.sparse {
			small[id] = s
		}
		v.sparse = small
	}
}

// typeName names a csd type as the kernel's constants do.
func typeName(t uint32) string {
	switch t {
	case CSDTypeAsync:
		return "ASYNC"
	case CSDTypeSync:
		return "SYNC"
	case CSDTypeIRQWork:
		return "IRQ_WORK"
	case CSDTypeTTWU:
		return "TTWU"
	}
	return fmt.Sprintf("type 0x%x", t)
}

// usesLock reports whether csds of type t carry CSD_FLAG_LOCK.
func usesLock(t uint32) bool { return t == CSDTypeSync || t == CSDTypeAsync }

// KernelEvent implements EventSink.
func (v *Validator) KernelEvent(ev Event) { v.check(&ev) }

// check is KernelEvent on an event read in place (the kernel calls it
// directly: emitTo).
func (v *Validator) check(e *Event) {
	// Time, without building its closure for every event:
	if v.seenT && e.T < v.lastT {
		v.backwards(e.T, fmt.Sprintf("%s of csd #%d by CPU %d", e.Kind, e.CSD, e.CPU))
	}
	v.lastT, v.seenT = e.T, true
	if e.CSD == 0 {
		// A many-path local run: func runs inline and no csd exists.
		if e.Kind != EvRun || e.Dst != -1 {
			v.errorf(e.T, 0, "%s on CPU %d without a csd", e.Kind, e.CPU)
		}
		return
	}
	if e.CSD < 0 {
		v.errorf(e.T, 0, "%s on CPU %d with invalid csd id %d", e.Kind, e.CPU, e.CSD)
		return
	}
	var s *csdState
	if e.CSD < len(v.csds) { // a known dense ID: state's common case, inline
		s = &v.csds[e.CSD]
		s.seen = true
	} else {
		s = v.state(e.CSD, e.csd)
	}
	switch e.Kind {
	case EvLock:
		v.lock(e, s)
	case EvQueue:
		v.queue(e, s)
	case EvDequeue:
		v.dequeue(e, s)
	case EvRun:
		v.run(e, s)
	case EvUnlock:
		v.unlock(e, s)
	case EvWaitDone:
		v.waitDone(e, s)
	default:
		v.errorf(e.T, e.CSD, "unknown event kind %d on CPU %d", e.Kind, e.CPU)
	}
}

func (v *Validator) lock(e *Event, s *csdState) {
	switch {
	case s.locked:
		v.errorf(e.T, e.CSD, "locked by CPU %d while still locked (locked at %d ns by CPU %d): a csd reused while in use",
			e.CPU, s.lockT, s.lockCPU)
	case s.queued:
		v.errorf(e.T, e.CSD, "claimed by CPU %d while still queued on CPU %d (queued at %d ns)", e.CPU, s.qDst, s.qT)
	case s.dequeued:
		v.errorf(e.T, e.CSD, "claimed by CPU %d before its previous function ran (dequeued by CPU %d)", e.CPU, s.qDst)
	}
	s.inUse = true
	s.locked = usesLock(e.Type)
	s.typ = e.Type
	s.lockT, s.lockCPU = e.T, e.CPU
	// queued and dequeued stay: they are where the csd is, not what the
	// new use did (a claim of a queued csd is reported above).
	s.wasQueued, s.ran = false, false
}

func (v *Validator) queue(e *Event, s *csdState) {
	switch {
	case s.queued:
		v.errorf(e.T, e.CSD, "queued on CPU %d by CPU %d while still queued on CPU %d (queued at %d ns by CPU %d)",
			e.Dst, e.CPU, s.qDst, s.qT, s.qCPU)
	case s.dequeued:
		v.errorf(e.T, e.CSD, "queued on CPU %d by CPU %d before its previous queueing ran", e.Dst, e.CPU)
	case !s.inUse:
		v.errorf(e.T, e.CSD, "queued on CPU %d by CPU %d without being locked or claimed first", e.Dst, e.CPU)
	case s.wasQueued:
		v.errorf(e.T, e.CSD, "queued twice in one use: on CPU %d by CPU %d, after CPU %d at %d ns",
			e.Dst, e.CPU, s.qDst, s.qT)
	case usesLock(e.Type) && !s.locked:
		v.errorf(e.T, e.CSD, "%s csd queued on CPU %d by CPU %d while unlocked", typeName(e.Type), e.Dst, e.CPU)
	}
	if e.Dst < 0 {
		v.errorf(e.T, e.CSD, "queued by CPU %d on no CPU (dst %d)", e.CPU, e.Dst)
	}
	s.inUse = true
	s.typ = e.Type // the many-path ORs CSD_TYPE_SYNC in after csd_lock
	s.queued, s.dequeued, s.wasQueued = true, false, true
	s.qT, s.qCPU, s.qDst = e.T, e.CPU, e.Dst
}

func (v *Validator) dequeue(e *Event, s *csdState) {
	switch {
	case !s.queued:
		v.errorf(e.T, e.CSD, "dequeued by CPU %d but not queued", e.CPU)
		return
	case s.qDst != e.CPU:
		v.errorf(e.T, e.CSD, "queued for CPU %d but dequeued by CPU %d", s.qDst, e.CPU)
	}
	s.queued, s.dequeued = false, true
}

func (v *Validator) run(e *Event, s *csdState) {
	if e.Dst < 0 {
		// Inline run on the caller (generic_exec_single's self case).
		switch {
		case s.queued || s.dequeued:
			v.errorf(e.T, e.CSD, "run inline on CPU %d while queued for CPU %d", e.CPU, s.qDst)
		case s.ran:
			v.errorf(e.T, e.CSD, "ran twice: inline on CPU %d, after CPU %d at %d ns", e.CPU, s.runCPU, s.runT)
		case !s.inUse:
			v.errorf(e.T, e.CSD, "run inline on CPU %d without being locked first", e.CPU)
		case s.lockCPU != e.CPU:
			v.errorf(e.T, e.CSD, "run inline on CPU %d but locked by CPU %d", e.CPU, s.lockCPU)
		}
	} else {
		switch {
		case s.dequeued && s.qDst != e.CPU:
			v.errorf(e.T, e.CSD, "ran on CPU %d but was queued for CPU %d", e.CPU, s.qDst)
		case s.dequeued:
		case s.queued:
			v.errorf(e.T, e.CSD, "ran on CPU %d while still on the queue of CPU %d (not dequeued)", e.CPU, s.qDst)
		case s.ran:
			v.errorf(e.T, e.CSD, "ran twice: on CPU %d, after CPU %d at %d ns", e.CPU, s.runCPU, s.runT)
		default:
			v.errorf(e.T, e.CSD, "ran on CPU %d without being queued", e.CPU)
		}
		if e.Dst != e.CPU {
			v.errorf(e.T, e.CSD, "ran on CPU %d from the queue of CPU %d", e.CPU, e.Dst)
		}
	}
	s.queued, s.dequeued = false, false
	s.ran, s.runT, s.runCPU = true, e.T, e.CPU
	if !usesLock(s.typ) && !s.locked {
		s.inUse = false // IRQ_WORK: done once it ran
	}
}

func (v *Validator) unlock(e *Event, s *csdState) {
	if !s.locked {
		v.errorf(e.T, e.CSD, "unlocked by CPU %d while not locked", e.CPU)
	}
	switch {
	case s.queued:
		v.errorf(e.T, e.CSD, "unlocked by CPU %d while still queued on CPU %d: it could be reused while queued",
			e.CPU, s.qDst)
	case s.wasQueued && e.CPU != s.qDst:
		v.errorf(e.T, e.CSD, "unlocked by CPU %d, but it was queued for CPU %d", e.CPU, s.qDst)
	case s.wasQueued && s.typ == CSDTypeSync && !s.ran:
		v.errorf(e.T, e.CSD, "SYNC csd unlocked by CPU %d before its function ran", e.CPU)
	}
	s.locked = false
}

func (v *Validator) waitDone(e *Event, s *csdState) {
	switch {
	case !s.inUse:
		v.errorf(e.T, e.CSD, "a waiter on CPU %d returned for a csd that was never locked", e.CPU)
	case s.locked:
		v.errorf(e.T, e.CSD, "a synchronous caller on CPU %d returned while the csd is still locked", e.CPU)
	case s.wasQueued && !s.ran:
		v.errorf(e.T, e.CSD, "a synchronous caller on CPU %d returned before its function ran on CPU %d", e.CPU, s.qDst)
	case s.wasQueued && s.typ != CSDTypeSync:
		v.errorf(e.T, e.CSD, "a caller on CPU %d waited on an %s csd: its unlock does not mean its function finished",
			e.CPU, typeName(s.typ))
	case e.CPU != s.lockCPU:
		v.errorf(e.T, e.CSD, "a waiter on CPU %d returned for a csd locked by CPU %d", e.CPU, s.lockCPU)
	}
}

// Finish ends the stream and returns every violation. Unless allowPending,
// it also reports each csd still queued, taken off a queue but not run, or
// still locked: work the run lost, or a csd nobody can use again.
//
// Whether work may legitimately be pending is the caller's call, because
// only the caller knows how the run ended. Pass allowPending = true when the
// run stopped mid-flight: it panicked, is stuck, failed with an error,
// still has events scheduled (an IPI on its way, a CPU in an irq-off delay),
// or was meant to lose work (IPIs dropped without a re-send, a fix turned
// off). Pass false when the machine went quiet on its own: then nothing may
// be left on any call_single_queue, and no csd may stay locked. The
// end-of-run check runs at most once; events may follow Finish (a script
// that goes on running), and Errors or another Finish report them.
func (v *Validator) Finish(allowPending bool) []string {
	if !allowPending && !v.finished {
		v.finished = true
		ids := make([]int, 0, len(v.csds)+len(v.sparse))
		for id := range v.csds {
			ids = append(ids, id)
		}
		ids = append(ids, slices.Sorted(maps.Keys(v.sparse))...)
		for _, id := range ids {
			var s *csdState
			if id < len(v.csds) {
				s = &v.csds[id]
			} else {
				s = v.sparse[id]
			}
			switch {
			case !s.seen:
			case s.queued:
				v.errorf(v.lastT, id, "queued at %d ns by CPU %d for CPU %d, never ran", s.qT, s.qCPU, s.qDst)
			case s.dequeued:
				v.errorf(v.lastT, id, "dequeued by CPU %d, never ran", s.qDst)
			case s.locked:
				v.errorf(v.lastT, id, "still locked at the end (locked at %d ns by CPU %d)", s.lockT, s.lockCPU)
			}
		}
	}
	return v.Errors()
}
