package xcall

import (
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
)

// The flush of a CPU's call_single_queue. Compare Linux's kernel/smp.c:
// __flush_smp_call_function_queue() and flush_smp_call_function_queue().
// The kernel's order is kept: take the whole queue, warn once if this CPU
// is offline, run the SYNC entries (unlock after the function), then the
// ASYNC and IRQ_WORK ones (unlock before the function), then hand the
// remote wake-ups to sched_ttwu_pending() in one batch, which wakes their
// tasks. Each entry, and the
// batch, costs T.Callback before its function runs.
//
// Why steps and not one function: an IPI handler's body starts on the
// engine's stack (emu's Stackless contexts, see Context.Spend and
// Context.Continue). There it may spend time only through Spend, which
// may return to the engine and call back later, and it must take a
// coroutine (Continue) before running a callback that may wait. So the
// flush is a chain of steps, as gVisor writes a task's run states: each
// step does one part of the kernel function and returns the step that
// comes next. Between two steps the flush may spend a cost (after) or
// move to a coroutine (inCoroutine); run does both, and the flush resumes
// at the step returned. A step with nothing of the kind between it and
// the next may call the next itself and return what that returns. flush_ref_test.go holds the same flush written as
// one straight-line function, and its tests check that both give the same
// runs.

// flushState is one flush in progress. States are pooled and reused.
type flushState struct {
	k    *Kernel
	next flushStep // what runs when the flush goes on; nil: it is over

	// Set by a step for run: spend cost (named what) before next, or
	// run next in a coroutine.
	cost          int64
	what          string
	needCoroutine bool

	list []*CSD // llist_del_all(), oldest first; the entries pass 1 ran are nil
	i    int    // the entry the current pass is at (pass 3: in ttwu)
	rest int    // how many entries pass 1 left
	cur  *CSD   // the entry whose cost was just spent
	ttwu []*CSD // pass 3's batch

	warn   bool // warn_cpu_offline
	vec    int  // the interrupt vector to return from, or -1 (task context)
	resume func(*emu.Context)
}

// A flushStep is one part of the flush: it does its work and returns the
// step that comes next, or nil when the flush is over.
type flushStep func(f *flushState, c *emu.Context) flushStep

// after returns next, to run once cost ns of what are spent.
func (f *flushState) after(cost int64, what string, next flushStep) flushStep {
	f.cost, f.what = cost, what
	return next
}

// inCoroutine returns next, to run in a coroutine: it may wait.
func (f *flushState) inCoroutine(next flushStep) flushStep {
	f.needCoroutine = true
	return next
}

// flushQueue is __flush_smp_call_function_queue(warnCPUOffline), called
// from the IPI handler for vector vec, or from task context (the idle
// loop, the dying CPU's stopper) with vec -1. A task's flush is over when
// flushQueue returns; a handler's may go on later, on the engine's stack
// or in a coroutine, and ends with the return from the interrupt.
func (k *Kernel) flushQueue(c *emu.Context, warnCPUOffline bool, vec int) {
	if k.flushOracle != nil {
		k.flushOracle(c, warnCPUOffline, vec)
		return
	}
	enterFlush(c, vec) // run leaves it
	k.getFlush(warnCPUOffline, vec).run(c)
}

// enterFlush pushes the frame of the flush's caller, where a Call Trace
// taken inside the flush returns to: the IPI handler's (vec >= 0) or the
// idle loop's.
func enterFlush(c *emu.Context, vec int) {
	if vec >= 0 {
		Enter(c, frameFlushInterrupt)
	} else {
		Enter(c, frameFlushTask)
	}
}

// flushDoFunc is the flush's csd_do_func(): a Call Trace taken inside the
// function shows the return address in __flush_smp_call_function_queue().
func (k *Kernel) flushDoFunc(c *emu.Context, f *Func, info any, csd *CSD) {
	Enter(c, frameFlushQueue)
	k.doFunc(c, f, info, csd)
	Leave(c)
}

// flushCallFunctionQueue is __flush_smp_call_function_queue() from task
// context: it returns when done.
func (k *Kernel) flushCallFunctionQueue(c *emu.Context, warnCPUOffline bool) {
	k.flushQueue(c, warnCPUOffline, -1)
}

// run runs the flush from where it stands: to its end, or (on the
// engine's stack) until it must spend time or needs a coroutine, in which
// case it goes on by itself later. A flush started by an interrupt handler
// returns from the interrupt when done.
func (f *flushState) run(c *emu.Context) {
	for f.next != nil {
		if f.cost != 0 {
			d := f.cost
			f.cost = 0
			if !c.Spend(d, f.what, f.resume) {
				return
			}
		}
		if f.needCoroutine {
			f.needCoroutine = false
			c.Continue(f.resume)
			return
		}
		f.next = f.next(f, c)
	}
	k, vec := f.k, f.vec
	k.putFlush(f)
	Leave(c) // enterFlush's frame
	if vec >= 0 {
		k.irqReturn(c, vec)
	}
}

// flushTakeQueue allows backtraces again and takes the whole queue, oldest
// first. Compare Linux's kernel/smp.c:__flush_smp_call_function_queue():
// trigger_backtrace, llist_del_all(), llist_reverse_order().
func flushTakeQueue(f *flushState, c *emu.Context) flushStep {
	k, self := f.k, c.CPU
	p := &k.pc[self]
	p.noBacktrace = false
	var hq *CSD // the native memory model: what self cannot see stays queued
	hn := 0
	if k.sbuf.n > 0 {
		hq, hn = k.splitHidden(p, self)
	}
	n := p.qlen
	if n == 0 {
		p.queue, p.qlen = hq, hn
		return nil
	}
	if cap(f.list) < n {
		f.list = make([]*CSD, n)
	}
	f.list = f.list[:n]
	i := n - 1
	for e := p.queue; e != nil; e = e.next {
		f.list[i] = e
		i--
	}
	p.queue, p.qlen = hq, hn
	for _, e := range f.list {
		e.next = nil
		k.emit(EvDequeue, e, self, self)
	}
	if c.Stackless() && k.hasHook("flush_smp_call_function_queue:dequeued") {
		return f.inCoroutine(flushWarnOffline) // a hook yields
	}
	return flushWarnOffline(f, c) // nothing to spend between: go on at once
}

// flushWarnOffline runs the model's hook point, then warns once about an
// IPI taken on an offline CPU and names every entry it brought. Compare
// Linux's kernel/smp.c:__flush_smp_call_function_queue(): the
// warn_cpu_offline block.
func flushWarnOffline(f *flushState, c *emu.Context) flushStep {
	k, self := f.k, c.CPU
	k.point(c, "flush_smp_call_function_queue:dequeued")
	if !f.warn || k.online.Test(self) || k.offlineWarned {
		return flushNextSync(f, c)
	}
	// Before 9e949a388635 the check looked at the per-CPU queue, which
	// llist_del_all has just emptied, so it never fired.
	if !k.Fix(FixOfflineCheckList) && k.pc[self].queue == nil {
		return flushNextSync
	}
	k.offlineWarned = true
	k.warn(c, "__flush_smp_call_function_queue", fmt.Sprintf("IPI on offline CPU %d", self))
	for _, e := range f.list {
		switch e.Type() {
		case CSDTypeAsync, CSDTypeSync, CSDTypeIRQWork:
			k.printk(self, fmt.Sprintf("smp: IPI callback %s sent to offline CPU", e.Func.Sym()))
		case CSDTypeTTWU:
			k.printk(self, "smp: IPI task-wakeup sent to offline CPU")
		default:
			k.printk(self, fmt.Sprintf("smp: IPI callback, unknown type %d, sent to offline CPU", e.Type()))
		}
	}
	return flushNextSync
}

// flushNextSync is pass 1: it finds the next SYNC entry, takes it off the
// list and spends its cost; the others stay for pass 2. Compare Linux's
// kernel/smp.c:__flush_smp_call_function_queue(): the first
// llist_for_each_entry_safe() loop, and the return when nothing is left.
func flushNextSync(f *flushState, c *emu.Context) flushStep {
	if !f.k.Fix(FixSyncFirst) {
		// Before 52103be07d8b there was one pass, in queue order:
		// flushNextAsync runs the SYNC entries where they stand.
		return flushNextAsync
	}
	for f.i++; f.i < len(f.list); f.i++ {
		e := f.list[f.i]
		if e.Type() != CSDTypeSync {
			f.rest++
			continue
		}
		f.list[f.i] = nil
		f.cur = e
		return f.after(f.k.T.Callback, "csd_do_func", flushRunSync)
	}
	if f.rest == 0 {
		return nil
	}
	f.i = -1
	return flushNextAsync
}

// flushRunSync runs a SYNC entry and unlocks it after its function: the
// sender waits for that. Compare Linux's kernel/smp.c:
// __flush_smp_call_function_queue(): csd_lock_record(), csd_do_func(),
// csd_unlock() in the first loop.
func flushRunSync(f *flushState, c *emu.Context) flushStep {
	k, self, e := f.k, c.CPU, f.cur
	if !mayRun(c, e.Func, e.Info) {
		return f.inCoroutine(flushRunSync)
	}
	k.record(self, e)
	k.emit(EvRun, e, self, self)
	k.flushDoFunc(c, e.Func, e.Info, e)
	k.csdUnlock(c, e)
	if !k.Fix(FixRecordNullAfterUnlock) && k.CSDLockDebug {
		k.recordAfterUnlock(c, e) // the 2020 linux-next bug (csd_debug.go)
		return flushNextSync
	}
	k.record(self, nil)
	return flushNextSync(f, c) // nothing to spend between: go on at once
}

// flushNextAsync is pass 2: it finds the next ASYNC or IRQ_WORK entry
// and spends its cost; TTWU entries stay for pass 3. The entries it runs
// stay in list too (the kernel unlinks them): pass 3 takes only the
// entries that are TTWU by then. Compare Linux's kernel/smp.c:
// __flush_smp_call_function_queue(): the second llist_for_each_entry_safe()
// loop.
func flushNextAsync(f *flushState, c *emu.Context) flushStep {
	for f.i++; f.i < len(f.list); f.i++ {
		e := f.list[f.i]
		if e == nil {
			continue
		}
		switch e.Type() {
		case CSDTypeSync: // only with FixSyncFirst off: pass 1 took them
			f.list[f.i] = nil
			f.cur = e
			return f.after(f.k.T.Callback, "csd_do_func", flushRunSync)
		case CSDTypeAsync:
			f.cur = e
			return f.after(f.k.T.Callback, "csd_do_func", flushRunAsync)
		case CSDTypeIRQWork:
			f.cur = e
			return f.after(f.k.T.Callback, "irq_work_single", flushRunIRQWork)
		}
	}
	return flushTTWUBatch
}

// flushRunAsync runs an ASYNC entry, unlocking it before its function:
// the function may reuse its csd. Compare Linux's kernel/smp.c:
// __flush_smp_call_function_queue(): the CSD_TYPE_ASYNC branch.
func flushRunAsync(f *flushState, c *emu.Context) flushStep {
	k, self, e := f.k, c.CPU, f.cur
	fn, info := e.Func, e.Info
	if !mayRun(c, fn, info) {
		return f.inCoroutine(flushRunAsync)
	}
	k.record(self, e)
	if k.Fix(FixAsyncUnlockBeforeFunc) {
		k.csdUnlock(c, e)
		k.emit(EvRun, e, self, self)
		k.flushDoFunc(c, fn, info, e)
	} else {
		// Before 8053871d0f7f the ASYNC csd was unlocked only after
		// its function returned, like a SYNC one.
		k.emit(EvRun, e, self, self)
		k.flushDoFunc(c, fn, info, e)
		k.csdUnlock(c, e)
	}
	k.record(self, nil)
	return flushNextAsync
}

// flushRunIRQWork runs an IRQ_WORK entry: its flags are cleared (it was
// never locked), then its function runs. Compare Linux's kernel/smp.c:
// __flush_smp_call_function_queue(): the CSD_TYPE_IRQ_WORK branch, and
// kernel/irq_work.c: irq_work_single().
func flushRunIRQWork(f *flushState, c *emu.Context) flushStep {
	k, self, e := f.k, c.CPU, f.cur
	fn, info := e.Func, e.Info
	if !mayRun(c, fn, info) {
		return f.inCoroutine(flushRunIRQWork)
	}
	e.flags = 0
	k.emit(EvRun, e, self, self)
	k.flushDoFunc(c, fn, info, e)
	return flushNextAsync
}

// flushTTWUBatch is pass 3: the remote wake-ups left, handed to
// sched_ttwu_pending() in one batch whose cost is spent once. Compare
// Linux's kernel/smp.c:__flush_smp_call_function_queue(): the last
// csd_do_func() call.
func flushTTWUBatch(f *flushState, c *emu.Context) flushStep {
	for _, e := range f.list {
		if e != nil && e.Type() == CSDTypeTTWU {
			f.ttwu = append(f.ttwu, e)
		}
	}
	if len(f.ttwu) == 0 {
		return nil
	}
	f.i = 0
	return f.after(f.k.T.Callback, "sched_ttwu_pending", flushTTWUEntry)
}

// flushTTWUEntry is csd_do_func()'s entry tracepoint for the batch.
func flushTTWUEntry(f *flushState, c *emu.Context) flushStep {
	f.k.traceFunc(c.CPU, "csd_function_entry", symTTWU, f.ttwu[0])
	return flushTTWUWake
}

// flushTTWUWake wakes the batch's tasks, then csd_do_func()'s exit
// tracepoint. Compare Linux's kernel/sched/core.c: sched_ttwu_pending(),
// which activates each queued task on this CPU's run queue
// (ttwu_do_activate); the tasks run later, when scheduled.
func flushTTWUWake(f *flushState, c *emu.Context) flushStep {
	k, self := f.k, c.CPU
	for ; f.i < len(f.ttwu); f.i++ {
		k.ttwuActivate(c, f.ttwu[f.i])
	}
	k.traceFunc(self, "csd_function_exit", symTTWU, f.ttwu[0])
	return nil
}

// ttwuActivate is what sched_ttwu_pending() does with one entry of its
// list: the entry is a task's wake_entry, and the task is activated on
// this CPU. The model's TTWU csd stands for that task: its function is the
// task's body, run in a new task named after it on this CPU (queued, in
// task context, after the handler and whatever runs there), never in the
// handler itself.
func (k *Kernel) ttwuActivate(c *emu.Context, e *CSD) {
	self := c.CPU
	k.emit(EvRun, e, self, self)
	f, info := e.Func, e.Info
	name := "ttwu"
	if f != nil && f.Name != "" {
		name = f.Name
	}
	if len(name) > 15 { // TASK_COMM_LEN - 1
		name = name[:15]
	}
	k.M.Spawn(self, name, func(t *emu.Context) { k.call(t, f, info) })
}

func (k *Kernel) getFlush(warn bool, vec int) *flushState {
	var f *flushState
	if n := len(k.flushFree); n > 0 {
		f = k.flushFree[n-1]
		k.flushFree = k.flushFree[:n-1]
	} else {
		f = &flushState{k: k}
		f.resume = f.run
	}
	f.next, f.i, f.rest = flushTakeQueue, -1, 0
	f.warn, f.vec = warn, vec
	return f
}

func (k *Kernel) putFlush(f *flushState) {
	// Drop the references the passes left (run SYNC entries are nil
	// already). Element by element: clear() costs more for a list of one.
	for i, e := range f.list {
		if e != nil {
			f.list[i] = nil
		}
	}
	for i := range f.ttwu {
		f.ttwu[i] = nil
	}
	f.list, f.ttwu, f.cur = f.list[:0], f.ttwu[:0], nil
	k.flushFree = append(k.flushFree, f)
}

// mayRun reports whether f(info) may be called now: always in a
// coroutine; on the engine's stack only if f says it will not wait.
func mayRun(c *emu.Context, f *Func, info any) bool {
	return !c.Stackless() || f == nil || f.Fn == nil || (f.NoWait != nil && f.NoWait(c, info))
}

// hasHook reports whether a hook is installed at point.
func (k *Kernel) hasHook(point string) bool { return len(k.hooks) != 0 && k.hooks[point] != nil }
