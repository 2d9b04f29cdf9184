package xcall

import (
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
)

// __flush_smp_call_function_queue(), written as a resumable sequence of
// steps so that an interrupt handler can run it on the engine's stack
// (emu's Stackless contexts) and take a coroutine only for a callback that
// may wait. The kernel's order is kept exactly: take the whole queue, warn
// once if this CPU is offline, then run SYNC entries (unlock after the
// function), then ASYNC and IRQ_WORK ones (unlock before the function),
// then the remote wake-ups in one batch. Each entry costs T.Callback before
// its function runs.

// flushState is one flush in progress. States are pooled and reused.
type flushState struct {
	k       *Kernel
	list    []*CSD // the dequeued entries, oldest first; run ones are nil
	phase   flushPhase
	j       int  // pass 1 and 2: the entry being run (its cost is spent)
	rest    int  // entries pass 1 left for later passes
	pending bool // the entry at j (or the wake-up batch) is due to run
	entered bool // pass 3: csd_function_entry traced
	cur     *CSD
	ttwu    []*CSD
	warn    bool // warn if this CPU is offline
	vec     int  // the interrupt vector to return from, or -1 (task context)
	resume  func(*emu.Context)
}

type flushPhase uint8

const (
	flushDequeue flushPhase = iota // take the queue
	flushPoint                     // the dequeued hook point, the offline warning
	flushSync                      // pass 1
	flushAsync                     // pass 2
	flushTTWU                      // pass 3
	flushEnd
)

// flushStatus is what a run of steps stopped at.
type flushStatus uint8

const (
	flushSpend     flushStatus = iota // spend the returned cost, then go on
	flushNeedStack                    // go on in a coroutine
	flushDone
)

func (k *Kernel) getFlush(warn bool, vec int) *flushState {
	var st *flushState
	if n := len(k.flushFree); n > 0 {
		st = k.flushFree[n-1]
		k.flushFree = k.flushFree[:n-1]
	} else {
		st = &flushState{k: k}
		st.resume = st.run
	}
	st.phase, st.j, st.rest, st.pending, st.entered, st.cur = flushDequeue, -1, 0, false, false, nil
	st.warn, st.vec = warn, vec
	return st
}

func (k *Kernel) putFlush(st *flushState) {
	// Drop the references the passes left (run SYNC entries are nil
	// already). Element by element: clear() costs more for a list of one.
	for i, e := range st.list {
		if e != nil {
			st.list[i] = nil
		}
	}
	for i := range st.ttwu {
		st.ttwu[i] = nil
	}
	st.list, st.ttwu, st.cur = st.list[:0], st.ttwu[:0], nil
	k.flushFree = append(k.flushFree, st)
}

// flushCallFunctionQueue is __flush_smp_call_function_queue() from task
// context (the idle loop, the dying CPU's stopper): it returns when done.
func (k *Kernel) flushCallFunctionQueue(c *emu.Context, warnCPUOffline bool) {
	k.getFlush(warnCPUOffline, -1).run(c)
}

// run runs the flush from where it stands: to its end, or (on the
// engine's stack) until it must spend time or needs a coroutine, in which
// case it goes on by itself later. A flush started by an interrupt handler
// returns from the interrupt when done.
func (st *flushState) run(c *emu.Context) {
	k := st.k
	for {
		status, d, what := k.flushSteps(c, st)
		switch status {
		case flushSpend:
			if !c.Spend(d, what, st.resume) {
				return
			}
		case flushNeedStack:
			c.Continue(st.resume)
			return
		case flushDone:
			vec := st.vec
			k.putFlush(st)
			if vec >= 0 {
				k.irqReturn(c, vec)
			}
			return
		}
	}
}

// mayRun reports whether f(info) may be called now: always in a
// coroutine; on the engine's stack only if f says it will not wait.
func mayRun(c *emu.Context, f *Func, info any) bool {
	return !c.Stackless() || f == nil || f.Fn == nil || (f.NoWait != nil && f.NoWait(c, info))
}

// flushSteps runs the flush until the next cost to spend, a callback that
// needs a coroutine, or the end.
func (k *Kernel) flushSteps(c *emu.Context, st *flushState) (flushStatus, int64, string) {
	self := c.CPU
	p := &k.pc[self]
	for {
		if st.pending {
			if !k.flushRunPending(c, st) {
				return flushNeedStack, 0, ""
			}
			st.pending = false
		}
		switch st.phase {
		case flushDequeue:
			p.noBacktrace = false // trigger_backtrace = 1
			n := p.qlen
			if n == 0 {
				st.phase = flushEnd
				continue
			}
			// llist_del_all + llist_reverse_order: oldest first.
			if cap(st.list) < n {
				st.list = make([]*CSD, n)
			}
			st.list = st.list[:n]
			i := n - 1
			for e := p.queue; e != nil; e = e.next {
				st.list[i] = e
				i--
			}
			p.queue, p.qlen = nil, 0
			for _, e := range st.list {
				e.next = nil
				k.emit(EvDequeue, e, self, self)
			}
			st.phase = flushPoint
			if c.Stackless() && k.hasHook("flush_smp_call_function_queue:dequeued") {
				return flushNeedStack, 0, ""
			}
		case flushPoint:
			k.point(c, "flush_smp_call_function_queue:dequeued")
			k.flushOfflineCheck(c, st)
			st.phase = flushSync
		case flushSync:
			for st.j++; st.j < len(st.list); st.j++ {
				e := st.list[st.j]
				if e.Type() != CSDTypeSync {
					st.rest++
					continue
				}
				st.list[st.j] = nil
				st.cur, st.pending = e, true
				return flushSpend, k.T.Callback, "csd_do_func"
			}
			if st.rest == 0 {
				st.phase = flushEnd
				continue
			}
			st.phase, st.j = flushAsync, -1
		case flushAsync:
			for st.j++; st.j < len(st.list); st.j++ {
				e := st.list[st.j]
				if e == nil {
					continue
				}
				switch e.Type() {
				case CSDTypeAsync:
					st.cur, st.pending = e, true
					return flushSpend, k.T.Callback, "csd_do_func"
				case CSDTypeIRQWork:
					st.cur, st.pending = e, true
					return flushSpend, k.T.Callback, "irq_work_single"
				}
			}
			// Pass 3: the remaining entries are remote wake-ups, handed
			// to sched_ttwu_pending() in one batch (there are no sleeping
			// tasks to activate in the model: only the tracepoints and the
			// callback run).
			st.phase, st.j = flushTTWU, 0
			for _, e := range st.list {
				if e != nil && e.Type() == CSDTypeTTWU {
					st.ttwu = append(st.ttwu, e)
				}
			}
			if len(st.ttwu) > 0 {
				st.pending = true
				return flushSpend, k.T.Callback, "sched_ttwu_pending"
			}
		case flushTTWU:
			st.phase = flushEnd
		case flushEnd:
			return flushDone, 0, ""
		}
	}
}

// flushOfflineCheck is the warning for an IPI taken on an offline CPU.
func (k *Kernel) flushOfflineCheck(c *emu.Context, st *flushState) {
	self := c.CPU
	if !st.warn || k.online.Test(self) || k.offlineWarned {
		return
	}
	// Before 9e949a388635 the check looked at the per-CPU queue, which
	// llist_del_all has just emptied, so it never fired.
	if !k.Fix(FixOfflineCheckList) && k.pc[self].queue == nil {
		return
	}
	k.offlineWarned = true
	k.warn(c, "__flush_smp_call_function_queue", fmt.Sprintf("IPI on offline CPU %d", self))
	for _, e := range st.list {
		switch e.Type() {
		case CSDTypeAsync, CSDTypeSync, CSDTypeIRQWork:
			k.printk(self, fmt.Sprintf("smp: IPI callback %s sent to offline CPU", e.Func.Sym()))
		case CSDTypeTTWU:
			k.printk(self, "smp: IPI task-wakeup sent to offline CPU")
		default:
			k.printk(self, fmt.Sprintf("smp: IPI callback, unknown type %d, sent to offline CPU", e.Type()))
		}
	}
}

// flushRunPending runs the entry whose cost was just spent (or the rest of
// the wake-up batch); false, having done nothing more, when its function
// may wait and c has no coroutine.
func (k *Kernel) flushRunPending(c *emu.Context, st *flushState) bool {
	self := c.CPU
	switch st.phase {
	case flushSync:
		e := st.cur
		if !mayRun(c, e.Func, e.Info) {
			return false
		}
		k.record(self, e)
		k.emit(EvRun, e, self, self)
		k.doFunc(c, e.Func, e.Info, e)
		k.csdUnlock(c, e)
		k.record(self, nil)
	case flushAsync:
		e := st.cur
		f, info := e.Func, e.Info
		if !mayRun(c, f, info) {
			return false
		}
		if e.Type() == CSDTypeIRQWork {
			e.flags = 0
			k.emit(EvRun, e, self, self)
			k.doFunc(c, f, info, e)
			return true
		}
		k.record(self, e)
		if k.Fix(FixAsyncUnlockBeforeFunc) {
			k.csdUnlock(c, e)
			k.emit(EvRun, e, self, self)
			k.doFunc(c, f, info, e)
		} else {
			// Before 8053871d0f7f the ASYNC csd was unlocked only after
			// its function returned, like a SYNC one.
			k.emit(EvRun, e, self, self)
			k.doFunc(c, f, info, e)
			k.csdUnlock(c, e)
		}
		k.record(self, nil)
	case flushTTWU:
		if !st.entered {
			st.entered = true
			k.traceFunc(self, "csd_function_entry", symTTWU, st.ttwu[0])
		}
		for ; st.j < len(st.ttwu); st.j++ {
			e := st.ttwu[st.j]
			if !mayRun(c, e.Func, e.Info) {
				return false
			}
			k.emit(EvRun, e, self, self)
			k.call(c, e.Func, e.Info)
		}
		k.traceFunc(self, "csd_function_exit", symTTWU, st.ttwu[0])
	}
	return true
}

// hasHook reports whether a hook is installed at point.
func (k *Kernel) hasHook(point string) bool { return k.hooks[point] != nil }
