package xcall

import (
	"fmt"
	"slices"

	"github.com/xcallsh/xcallsh/emu"
)

// referenceFlush is the oracle for flush.go: __flush_smp_call_function_queue()
// written as one straight-line function, in the most obvious way. Compare
// Linux's kernel/smp.c:__flush_smp_call_function_queue().
//
// It does what flush.go's steps do, in the same order, but it needs a
// coroutine for the whole flush: on the engine's stack it asks for one
// first (Continue), and then spends each cost with Delay. Taking the
// coroutine early does not change what runs or when (emu's Spend is the
// same event as Delay, and Continue starts the job before any other
// event), so the two must give the same runs, byte for byte.
func (k *Kernel) referenceFlush(c *emu.Context, warnCPUOffline bool, vec int) {
	if c.Stackless() {
		c.Continue(func(c *emu.Context) { k.referenceFlush(c, warnCPUOffline, vec) })
		return
	}
	self := c.CPU
	p := &k.pc[self]

	// trigger_backtrace; llist_del_all; llist_reverse_order.
	p.noBacktrace = false
	var list []*CSD
	for e := p.queue; e != nil; e = e.next {
		list = append(list, e)
	}
	slices.Reverse(list)
	p.queue, p.qlen = nil, 0
	for _, e := range list {
		e.next = nil
		k.emit(EvDequeue, e, self, self)
	}

	if len(list) > 0 {
		k.point(c, "flush_smp_call_function_queue:dequeued")
		k.referenceWarnOffline(c, warnCPUOffline, list)

		// A SYNC entry, unlocked after its function.
		runSync := func(e *CSD) {
			c.Delay(k.T.Callback, "csd_do_func")
			k.record(self, e)
			k.emit(EvRun, e, self, self)
			k.doFunc(c, e.Func, e.Info, e)
			k.csdUnlock(c, e)
			if !k.Fix(FixRecordNullAfterUnlock) && k.CSDLockDebug {
				k.recordAfterUnlock(c, e)
				return
			}
			k.record(self, nil)
		}

		// Pass 1: SYNC entries (since 52103be07d8b; before it, pass 2
		// ran them in queue order).
		left := 0
		for i, e := range list {
			if e.Type() != CSDTypeSync || !k.Fix(FixSyncFirst) {
				left++
				continue
			}
			list[i] = nil
			runSync(e)
		}

		if left > 0 {
			// Pass 2: ASYNC entries (unlocked before their function, since
			// 8053871d0f7f) and IRQ_WORK entries.
			for _, e := range list {
				if e == nil {
					continue
				}
				switch e.Type() {
				case CSDTypeSync:
					runSync(e)
				case CSDTypeAsync:
					c.Delay(k.T.Callback, "csd_do_func")
					f, info := e.Func, e.Info
					k.record(self, e)
					if k.Fix(FixAsyncUnlockBeforeFunc) {
						k.csdUnlock(c, e)
						k.emit(EvRun, e, self, self)
						k.doFunc(c, f, info, e)
					} else {
						k.emit(EvRun, e, self, self)
						k.doFunc(c, f, info, e)
						k.csdUnlock(c, e)
					}
					k.record(self, nil)
				case CSDTypeIRQWork:
					c.Delay(k.T.Callback, "irq_work_single")
					f, info := e.Func, e.Info
					e.flags = 0
					k.emit(EvRun, e, self, self)
					k.doFunc(c, f, info, e)
				}
			}

			// Pass 3: what is TTWU now, in one sched_ttwu_pending() batch.
			var ttwu []*CSD
			for _, e := range list {
				if e != nil && e.Type() == CSDTypeTTWU {
					ttwu = append(ttwu, e)
				}
			}
			if len(ttwu) > 0 {
				c.Delay(k.T.Callback, "sched_ttwu_pending")
				k.traceFunc(self, "csd_function_entry", symTTWU, ttwu[0])
				for _, e := range ttwu {
					k.ttwuActivate(c, e)
				}
				k.traceFunc(self, "csd_function_exit", symTTWU, ttwu[0])
			}
		}
	}

	if vec >= 0 {
		k.irqReturn(c, vec)
	}
}

// referenceWarnOffline is the warn_cpu_offline block, once per boot.
// Before 9e949a388635 the kernel tested the per-CPU queue, empty by now.
func (k *Kernel) referenceWarnOffline(c *emu.Context, warn bool, list []*CSD) {
	self := c.CPU
	if !warn || k.online.Test(self) || k.offlineWarned {
		return
	}
	if !k.Fix(FixOfflineCheckList) && k.pc[self].queue == nil {
		return
	}
	k.offlineWarned = true
	k.warn(c, "__flush_smp_call_function_queue", fmt.Sprintf("IPI on offline CPU %d", self))
	for _, e := range list {
		switch t := e.Type(); t {
		case CSDTypeAsync, CSDTypeSync, CSDTypeIRQWork:
			k.printk(self, fmt.Sprintf("smp: IPI callback %s sent to offline CPU", e.Func.Sym()))
		case CSDTypeTTWU:
			k.printk(self, "smp: IPI task-wakeup sent to offline CPU")
		default:
			k.printk(self, fmt.Sprintf("smp: IPI callback, unknown type %d, sent to offline CPU", t))
		}
	}
}

// UseReferenceFlush makes k flush with referenceFlush instead of flush.go.
// Exported for the tests of package xcall_test (flush_golden_test.go).
func UseReferenceFlush(k *Kernel) { k.flushOracle = k.referenceFlush }
