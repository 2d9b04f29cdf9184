// This file mirrors Linux's kernel/smp.c (v6.16/6.17 mainline, as described
// in docs/kernel.md): the csd lock, the per-CPU call_single_queue,
// generic_exec_single, smp_call_function_many_cond and the flush.
// It describes the kernel's behaviour; it copies none of its code.

package xcall

import (
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/irqchip"
)

// Flags of smp_call_function_many_cond.
const (
	scfWait     = 1 << 0
	scfRunLocal = 1 << 1
)

// The call sites (site*) are in frames.go.

func (k *Kernel) cpu(c *emu.Context) *emu.CPU { return k.M.CPU(c.CPU) }

// PreemptDisable is preempt_disable() on c's CPU.
func (k *Kernel) PreemptDisable(c *emu.Context) { k.cpu(c).Preempt++ }

// PreemptEnable is preempt_enable().
func (k *Kernel) PreemptEnable(c *emu.Context) {
	if cpu := k.cpu(c); cpu.Preempt > 0 {
		cpu.Preempt--
		if cpu.Preempt == 0 && cpu.Hardirq == 0 {
			c.PreemptPoint() // preempt_enable() reschedules if need be
		}
	}
}

// IRQsDisabled is irqs_disabled().
func (k *Kernel) IRQsDisabled(c *emu.Context) bool { return k.cpu(c).IRQsOff }

// LocalIRQSave is local_irq_save(): it returns the previous state.
func (k *Kernel) LocalIRQSave(c *emu.Context) bool {
	cpu := k.cpu(c)
	old := cpu.IRQsOff
	if !old && cpu.Hardirq == 0 && k.M.Recording() {
		k.recIRQsOff(cpu, true)
	}
	cpu.IRQsOff = true
	return old
}

// recIRQsOff is LocalIRQSave's and LocalIRQRestore's change of the flag
// at task level while something records (emu.EvIRQsOff, EvIRQsOn); out of
// line, so that the two stay small.
func (k *Kernel) recIRQsOff(cpu *emu.CPU, off bool) { cpu.SetIRQsOff(off) }

// LocalIRQRestore is local_irq_restore(): pending interrupts are taken
// at once when it re-enables them.
func (k *Kernel) LocalIRQRestore(c *emu.Context, wasOff bool) {
	cpu := k.cpu(c)
	if cpu.Hardirq != 0 {
		cpu.IRQsOff = wasOff
		return
	}
	if cpu.IRQsOff != wasOff && k.M.Recording() {
		k.recIRQsOff(cpu, wasOff)
	}
	cpu.IRQsOff = wasOff
	if !wasOff {
		c.Yield()
	}
}

// InTask is in_task(): not in hard-irq (or NMI) context, nor in softirq
// processing.
func (k *Kernel) InTask(c *emu.Context) bool {
	h := k.cpu(c)
	return c.Kind != emu.KindIRQ && c.Kind != emu.KindNMI && h.Hardirq == 0 && h.Softirq == 0
}

// spend charges d ns of work to c's CPU.
func (k *Kernel) spend(c *emu.Context, d int64, what string) { c.Delay(d, what) }

// csdLock is csd_lock(): wait for the previous use, then take the lock
// (type bits start over as ASYNC).
func (k *Kernel) csdLock(c *emu.Context, csd *CSD) {
	k.csdLockWait(c, csd)
	csd.flags = CSDFlagLock
	k.emit(EvLock, csd, c.CPU, -1)
}

// csdUnlock is csd_unlock(): WARN if not locked, then release the whole
// flag word; spinning waiters see it after the store propagates.
func (k *Kernel) csdUnlock(c *emu.Context, csd *CSD) {
	if !csd.Locked() {
		k.warn(c, "csd_unlock", "")
	}
	if k.M.Recording() { // before the flag word, and the csd's type with it, is cleared
		k.recordCSD(emu.EvCSDUnlock, csd, c.CPU)
	}
	csd.flags = 0
	k.emit(EvUnlock, csd, c.CPU, -1)
	if k.native && k.bufferUnlock(c, csd) {
		return // memory.go: the waiters wake when the unlock is visible
	}
	csd.waiters.Wake(k.M, k.T.WakeLatency)
}

// csdLockWait is csd_lock_wait(): spin until the lock bit clears. With
// csdlock_debug on it is the reporting loop of csd_debug.go.
func (k *Kernel) csdLockWait(c *emu.Context, csd *CSD) {
	if !csd.Locked() {
		if k.sbuf.n != 0 { // only under native (memory.go)
			k.awaitUnlock(c, csd, true) // an unlock this CPU cannot see yet
		}
		return
	}
	if k.M.Recording() {
		k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvCSDWaitBegin, CSD: uint64(csd.ID), Target: csd.dst, Func: csd.Func.PS()})
	}
	if k.CSDLockDebug {
		k.csdLockWaitDebug(c, csd)
	} else {
		for csd.Locked() {
			k.spinOnCSD(c, csd, -1)
		}
	}
	if k.sbuf.n != 0 {
		k.awaitUnlock(c, csd, false) // woken before the unlock is visible
	}
	if k.M.Recording() {
		k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvCSDWaitEnd, CSD: uint64(csd.ID), Target: csd.dst, Func: csd.Func.PS()})
	}
}

// record is csd_lock_record(): what this CPU executes, for the debug reports.
func (k *Kernel) record(cpu int, csd *CSD) {
	p := &k.pc[cpu]
	if csd == nil {
		p.curCSD = nil
		return
	}
	p.curFunc, p.curInfo = csd.Func, csd.Info
	p.curCSD = csd
}

// doFunc is csd_do_func(): the callback between its two tracepoints.
func (k *Kernel) doFunc(c *emu.Context, f *Func, info any, csd *CSD) {
	k.traceFunc(c.CPU, "csd_function_entry", f, csd)
	k.call(c, f, info)
	k.traceFunc(c.CPU, "csd_function_exit", f, csd)
}

// llistAdd pushes csd on cpu's queue; true if the queue was empty.
func (k *Kernel) llistAdd(c *emu.Context, csd *CSD, cpu int) bool {
	p := &k.pc[cpu]
	first := p.queue == nil
	if k.native {
		first = k.queueLooksEmpty(c.CPU, cpu)
		k.bufferQueueing(c, csd, cpu, first)
	}
	csd.next = p.queue
	csd.on = cpu
	p.queue = csd
	p.qlen++
	k.emit(EvQueue, csd, c.CPU, cpu)
	return first
}

// QueueDepth is the number of csds waiting in cpu's call_single_queue.
func (k *Kernel) QueueDepth(cpu int) int { return k.pc[cpu].qlen }

// smpCallSingleQueue is __smp_call_single_queue().
func (k *Kernel) smpCallSingleQueue(c *emu.Context, cpu int, csd *CSD, queueSite, ipiSite *site) {
	k.traceQueue(c.CPU, cpu, queueSite, csd)
	k.spend(c, k.T.CSDSetup, "llist_add")
	first := k.llistAdd(c, csd, cpu)
	k.point(c, "smp_call_function_single:llist_add")
	if first {
		k.point(c, "smp_call_function_single:before_ipi")
		k.sendCallFunctionSingleIPI(c, cpu, ipiSite)
	}
}

// sendCallFunctionSingleIPI is send_call_function_single_ipi(): a polling
// idle target is poked instead of interrupted.
func (k *Kernel) sendCallFunctionSingleIPI(c *emu.Context, cpu int, s *site) {
	if !k.callFunctionSinglePrepIPI(c, cpu) {
		return
	}
	k.sendSite(c.CPU, s)
	k.archSendCallFunctionSingleIPI(c, cpu)
}

// callFunctionSinglePrepIPI mirrors kernel/sched/core.c's
// call_function_single_prep_ipi(): set_nr_if_polling() on the target's
// idle task. With [kernel] idle = "poll" the idle task keeps its polling
// flag from do_idle()'s entry to the end of its loop, handlers taken from
// idle included, so while the target's current task is its idle task,
// need-resched replaces the IPI (set once: a second call finds it set and
// still sends nothing) and the idle loop flushes the queue on its way out
// (flush_smp_call_function_queue before schedule_idle).
func (k *Kernel) callFunctionSinglePrepIPI(c *emu.Context, cpu int) bool {
	if !k.polling(cpu) {
		return true
	}
	if k.M.Recording() {
		k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvIPIElide, Target: cpu})
	}
	if k.sbuf.n > 0 {
		// set_nr_if_polling() is a fully ordered cmpxchg: the queueing
		// is visible before the flag the idle loop reads (memory.go).
		k.drainPoll(c.CPU)
	}
	k.pollWake(cpu)
	return false
}

// polling reports whether cpu's idle task has its polling flag set
// (TIF_POLLING_NRFLAG): poll idle, and the idle task is the CPU's current
// task, possibly under an interrupt handler. Halt idle clears the flag
// before it halts (current_clr_polling_and_test), so an interrupt taken
// there finds it clear.
func (k *Kernel) polling(cpu int) bool {
	h := k.M.CPU(cpu)
	return k.idlePoll && !h.Parked && h.InIdleTask()
}

// pollWake sets need-resched on polling idle cpu: the CPU notices it a
// wake latency later (its polling loop reads the flag), leaves the idle
// loop and drains its queue (idleExit), unless its monitor wake-up is
// broken (SetMonitorWakeupBroken). Already set: nothing more to do.
func (k *Kernel) pollWake(cpu int) {
	h := k.M.CPU(cpu)
	if h.NeedResched {
		return
	}
	h.NeedResched = true
	if k.monitorBroken != nil && k.monitorBroken[cpu] {
		return // it polls in name only: an interrupt is what wakes it
	}
	k.M.At(k.M.Now()+k.T.WakeLatency, func() { k.M.WakeIdle(cpu) })
}

// SetMonitorWakeupBroken makes cpu's polling idle deaf to need-resched,
// as a CPU in MWAIT whose monitor does not fire on the write to its
// thread flags (x86's X86_BUG_MONITOR, the Goldmont erratum) while its
// idle task still advertises polling (TIF_POLLING_NRFLAG): callers then
// elide the IPI and only set need-resched, which the CPU sees once an
// interrupt (an IPI, an NMI) wakes it. That is the suspend-to-idle hang
// Chen Yu's "PM: s2idle: Clear _TIF_POLLING_NRFLAG before suspend to
// idle" (v5.8-rc) fixed by clearing the flag before the deep state. It
// returns the previous setting. Only poll idle ([kernel] idle = "poll")
// polls; a halting CPU is not affected.
func (k *Kernel) SetMonitorWakeupBroken(cpu int, on bool) bool {
	if k.monitorBroken == nil {
		k.monitorBroken = make([]bool, k.nr)
	}
	old := k.monitorBroken[cpu]
	k.monitorBroken[cpu] = on
	return old
}

// idleExit is the end of kernel/sched/idle.c's do_idle() on an idle cpu
// that leaves its loop (need-resched is set, or a thread became runnable
// there): flush_smp_call_function_queue() runs before schedule_idle(), so
// callbacks queued meanwhile run now, even those whose IPI was lost or is
// still on its way (the IPI then finds an empty queue). The idle task's
// flush runs as a thread named swapper/N (pid 0) ahead of the others.
func (k *Kernel) idleExit(cpu int) {
	if k.pc[cpu].queue == nil || !k.online.Test(cpu) {
		return
	}
	t := k.M.SpawnKind(emu.KindTask, cpu, fmt.Sprintf("swapper/%d", cpu), func(c *emu.Context) {
		k.FlushSMPCallFunctionQueue(c)
		k.softirqAfterIdleFlush(c)
	}, true)
	t.PID = 0
}

// generic_exec_single(): run locally, refuse an offline/invalid CPU, or queue.
func (k *Kernel) genericExecSingle(c *emu.Context, cpu int, csd *CSD, queueSite, ipiSite *site) int {
	self := c.CPU
	if cpu == self {
		f, info := csd.Func, csd.Info
		k.record(self, csd)
		k.csdUnlock(c, csd)
		k.emit(EvRun, csd, self, -1)
		flags := k.LocalIRQSave(c)
		k.doFunc(c, f, info, nil)
		k.record(self, nil)
		k.LocalIRQRestore(c, flags)
		return 0
	}
	k.point(c, "smp_call_function_single:online_check")
	if cpu < 0 || cpu >= k.nr || !k.online.Test(cpu) {
		k.csdUnlock(c, csd)
		return -ENXIO
	}
	k.smpCallSingleQueue(c, cpu, csd, queueSite, ipiSite)
	return 0
}

// SmpCallFunctionSingle is smp_call_function_single(): run f(info) on cpu;
// with wait, return after it ran. 0 or -ENXIO.
func (k *Kernel) SmpCallFunctionSingle(c *emu.Context, cpu int, f *Func, info any, wait bool) int {
	k.Stats.Calls++
	k.PreemptDisable(c)
	self := c.CPU
	if k.online.Test(self) && k.IRQsDisabled(c) {
		k.warnOnce(c, "smp_call_function_single:irqs", siteWarnSingleIRQs, "")
	}
	if !k.InTask(c) && k.Fix(FixWarnSoftirqCalls) {
		k.warnOnce(c, "smp_call_function_single:in_task", siteWarnSingleTask, "")
	}
	var csd *CSD
	if wait {
		csd = k.stackCSD()
		csd.flags = CSDFlagLock | CSDTypeSync
		k.emit(EvLock, csd, self, -1)
	} else {
		p := &k.pc[self]
		if p.csdData == nil {
			p.csdData = k.NewCSD(nil, nil)
		}
		csd = p.csdData
		k.csdLock(c, csd)
	}
	csd.Func, csd.Info = f, info
	csd.src, csd.dst = self, cpu
	err := k.genericExecSingle(c, cpu, csd, &siteSingleQueue, &siteSingleIPI)
	if wait {
		k.csdLockWait(c, csd)
		k.emit(EvWaitDone, csd, self, -1)
		k.freeStackCSD(csd)
	}
	k.PreemptEnable(c)
	return err
}

// stackCSD is the on-stack csd of a synchronous single call. Freed ones
// are reused, as a stack slot is (so is their %p value).
func (k *Kernel) stackCSD() *CSD {
	if n := len(k.csdFree); n > 0 {
		c := k.csdFree[n-1]
		k.csdFree = k.csdFree[:n-1]
		return c
	}
	return k.NewCSD(nil, nil)
}

func (k *Kernel) freeStackCSD(c *CSD) {
	c.Func, c.Info, c.next = nil, nil, nil
	k.csdFree = append(k.csdFree, c)
}

// SmpCallFunctionSingleAsync is smp_call_function_single_async(): queue a
// caller-owned csd; -EBUSY while it is still locked.
func (k *Kernel) SmpCallFunctionSingleAsync(c *emu.Context, cpu int, csd *CSD) int {
	k.Stats.Calls++
	k.PreemptDisable(c)
	defer k.PreemptEnable(c)
	if csd.Locked() || k.native && k.unlockHidden(csd, c.CPU) != 0 {
		if k.Fix(FixAsyncEBUSY) {
			return -EBUSY
		}
		// Before 5a18ceca6350 the kernel warned once and then waited for
		// the previous use to be released (kernel/smp.c of v5.3, line 342).
		k.warnOnce(c, "smp_call_function_single_async:locked", siteWarnAsyncLocked, "")
		k.csdLockWait(c, csd)
	}
	csd.flags = CSDFlagLock
	csd.src, csd.dst = -1, -1
	if k.CSDLockDebug {
		// Only SYNC/ASYNC csds carry src/dst; _async does not set them in
		// the kernel, so reports about it name the stale values. We keep
		// the target so reports are readable (a documented departure).
		csd.dst = cpu
	}
	k.emit(EvLock, csd, c.CPU, -1)
	return k.genericExecSingle(c, cpu, csd, &siteAsyncQueue, &siteAsyncIPI)
}

// SmpCallFunctionMany is smp_call_function_many(): every online CPU of
// mask except self. The caller must have preemption disabled.
func (k *Kernel) SmpCallFunctionMany(c *emu.Context, mask Cpumask, f *Func, info any, wait bool) {
	k.Stats.Calls++
	flags := 0
	if wait {
		flags = scfWait
	}
	k.smpCallFunctionManyCond(c, mask, f, info, flags, nil)
}

// SmpCallFunction is smp_call_function(): every other online CPU.
func (k *Kernel) SmpCallFunction(c *emu.Context, f *Func, info any, wait bool) {
	k.Stats.Calls++
	k.PreemptDisable(c)
	flags := 0
	if wait {
		flags = scfWait
	}
	k.smpCallFunctionManyCond(c, k.online, f, info, flags, nil)
	k.PreemptEnable(c)
}

// smpCallFunctionManyCond mirrors smp_call_function_many_cond().
func (k *Kernel) smpCallFunctionManyCond(c *emu.Context, mask Cpumask, f *Func, info any, scf int, cond CondFunc) {
	self := c.CPU
	wait := scf&scfWait != 0
	runRemote := false
	if !k.InTask(c) && k.Fix(FixWarnSoftirqCalls) {
		k.warnOnce(c, "smp_call_function_many_cond:in_task", siteWarnManyTask, "")
	}
	p := &k.pc[self]
	if k.anyOtherOnline(mask, self) {
		if p.cfdCSD == nil {
			p.cfdCSD = make([]*CSD, k.nr)
			p.cfdMask = NewCpumask(k.nr)
			p.cfdIPI = NewCpumask(k.nr)
		}
		p.cfdMask.CopyFrom(mask)
		p.cfdMask.And(k.online)
		p.cfdMask.Clear(self)
		p.cfdIPI.Reset()
		k.point(c, "smp_call_function_many_cond:online_snapshot")
		nrCPUs, lastCPU := 0, -1
		for cpu := p.cfdMask.Next(0); cpu >= 0; cpu = p.cfdMask.Next(cpu + 1) {
			if cond != nil {
				ok, err := cond(c, cpu, info)
				if err != nil {
					k.fail(c, err)
				}
				if !ok {
					p.cfdMask.Clear(cpu)
					continue
				}
			}
			runRemote = true
			csd := p.cfdCSD[cpu]
			if csd == nil {
				csd = k.NewCSD(nil, nil)
				p.cfdCSD[cpu] = csd
			}
			k.csdLock(c, csd)
			if wait {
				csd.flags |= CSDTypeSync
			}
			csd.Func, csd.Info = f, info
			csd.src, csd.dst = self, cpu
			k.traceQueue(self, cpu, &siteManyQueue, csd)
			k.spend(c, k.T.CSDSetup, "llist_add")
			if k.llistAdd(c, csd, cpu) {
				p.cfdIPI.Set(cpu)
				nrCPUs++
				lastCPU = cpu
			}
			k.point(c, "smp_call_function_many_cond:llist_add")
		}
		if nrCPUs > 0 {
			k.point(c, "smp_call_function_many_cond:before_ipi")
		}
		switch {
		case nrCPUs == 1:
			k.sendCallFunctionSingleIPI(c, lastCPU, &siteManyIPI)
		case nrCPUs > 1:
			k.sendSite(self, &siteManyMask)
			k.archSendCallFunctionIPIMask(c, p.cfdIPI)
		}
	}
	if scf&scfRunLocal != 0 && mask.Test(self) {
		run := true
		if cond != nil {
			ok, err := cond(c, self, info)
			if err != nil {
				k.fail(c, err)
			}
			run = ok
		}
		if run {
			flags := k.LocalIRQSave(c)
			k.emitLocal(self)
			k.doFunc(c, f, info, nil)
			k.LocalIRQRestore(c, flags)
		}
	}
	if runRemote && wait {
		for cpu := p.cfdMask.Next(0); cpu >= 0; cpu = p.cfdMask.Next(cpu + 1) {
			csd := p.cfdCSD[cpu]
			k.csdLockWait(c, csd)
			k.emit(EvWaitDone, csd, self, -1)
		}
	}
}

// emitLocal tells the validator about an inline local run with no csd.
func (k *Kernel) emitLocal(cpu int) {
	if len(k.Events) == 0 {
		return
	}
	k.emitTo(&Event{T: k.M.Now(), Kind: EvRun, CSD: 0, CPU: cpu, Dst: -1})
}

// anyOtherOnline is cpumask_any_and_but(mask, cpu_online_mask, self) < nr_cpu_ids.
func (k *Kernel) anyOtherOnline(mask Cpumask, self int) bool {
	for i := range mask.w {
		if i >= len(k.online.w) {
			break
		}
		x := mask.w[i] & k.online.w[i]
		if i == self>>6 {
			x &^= 1 << (self & 63)
		}
		if x != 0 {
			return true
		}
	}
	return false
}

// genericSMPCallFunctionSingleInterrupt is the IPI handler body: it runs
// the flush and then returns from interrupt vector vec (irqReturn).
func (k *Kernel) genericSMPCallFunctionSingleInterrupt(c *emu.Context, vec int) {
	k.flushQueue(c, true, vec)
}

// FlushSMPCallFunctionQueue is flush_smp_call_function_queue(): the idle
// loop's (and migration stopper's) drain from task context.
func (k *Kernel) FlushSMPCallFunctionQueue(c *emu.Context) {
	if k.pc[c.CPU].queue == nil {
		return
	}
	flags := k.LocalIRQSave(c)
	k.flushCallFunctionQueue(c, true)
	k.LocalIRQRestore(c, flags)
}

var symTTWU = &Func{Name: "sched_ttwu_pending", Size: 0x120}

// SmpCallFunctionAny is smp_call_function_any(): prefer self, then a CPU of
// self's NUMA node, then any online CPU of mask. 0 or -ENXIO.
func (k *Kernel) SmpCallFunctionAny(c *emu.Context, mask Cpumask, f *Func, info any, wait bool) int {
	k.PreemptDisable(c)
	cpu := k.pickAny(c.CPU, mask)
	ret := k.SmpCallFunctionSingle(c, cpu, f, info, wait)
	k.PreemptEnable(c)
	return ret
}

// pickAny chooses the CPU smp_call_function_any would: self if in mask,
// else the first online CPU of mask on self's node, else the first online
// CPU of mask; nr_cpu_ids (invalid) if none.
func (k *Kernel) pickAny(self int, mask Cpumask) int {
	if mask.Test(self) {
		return self
	}
	node := k.Node(self)
	first := -1
	for cpu := mask.Next(0); cpu >= 0 && cpu < k.nr; cpu = mask.Next(cpu + 1) {
		if !k.online.Test(cpu) {
			continue
		}
		if k.Node(cpu) == node {
			return cpu
		}
		if first < 0 {
			first = cpu
		}
	}
	if first >= 0 {
		return first
	}
	return k.nr
}

// OnEachCPUCondMask is on_each_cpu_cond_mask(): remote CPUs of mask (and
// self, if in mask) for which cond is true (or every one, cond nil) run f;
// the local call runs after the IPIs are sent, concurrently with them.
func (k *Kernel) OnEachCPUCondMask(c *emu.Context, cond CondFunc, f *Func, info any, wait bool, mask Cpumask) {
	k.Stats.Calls++
	scf := scfRunLocal
	if wait {
		scf |= scfWait
	}
	k.PreemptDisable(c)
	k.smpCallFunctionManyCond(c, mask, f, info, scf, cond)
	k.PreemptEnable(c)
}

// KickAllCPUsSync is kick_all_cpus_sync(): every other online CPU takes an
// IPI and returns from it before the caller continues.
func (k *Kernel) KickAllCPUsSync(c *emu.Context) {
	k.SmpCallFunction(c, DoNothing, nil, true)
}

// SmpCallOnCPU is smp_call_on_cpu(): run f(par) in a kworker bound to cpu
// (task context: it may sleep) and wait for it, sleeping. It returns f's
// value, or -ENXIO for an invalid or offline cpu.
func (k *Kernel) SmpCallOnCPU(c *emu.Context, cpu int, f func(w *emu.Context) (int, error), name string) int {
	k.Stats.Calls++
	if cpu < 0 || cpu >= k.nr || !k.online.Test(cpu) {
		return -ENXIO
	}
	var done emu.WaitQueue
	finished, ret := false, 0
	k.M.SpawnKind(emu.KindKworker, cpu, fmt.Sprintf("kworker/%d:1", cpu), func(w *emu.Context) {
		Enter(w, "process_one_work+0x17b/0x330")
		Enter(w, "smp_call_on_cpu_callback+0x2b/0x50")
		Enter(w, name)
		r, err := f(w)
		if err != nil {
			k.fail(w, err)
		}
		ret, finished = r, true
		done.Wake(k.M, k.T.WakeLatency)
	}, true)
	for !finished {
		c.Block(&done, emu.WaitInfo{What: "waits for smp_call_on_cpu on", Owner: cpu})
	}
	return ret
}

// CPUsPeekForPendingIPI is cpus_peek_for_pending_ipi(): whether any CPU of
// mask has a non-empty call_single_queue (a racy snapshot in the kernel).
func (k *Kernel) CPUsPeekForPendingIPI(mask Cpumask) bool {
	for cpu := mask.Next(0); cpu >= 0 && cpu < k.nr; cpu = mask.Next(cpu + 1) {
		if k.pc[cpu].queue != nil {
			return true
		}
	}
	return false
}

// WakeUpAllIdleCPUs is wake_up_all_idle_cpus(): wake_up_if_idle() on
// every other online CPU.
func (k *Kernel) WakeUpAllIdleCPUs(c *emu.Context) {
	for cpu := 0; cpu < k.nr; cpu++ {
		k.PreemptDisable(c)
		if cpu != c.CPU && k.online.Test(cpu) {
			k.wakeUpIfIdle(c, cpu)
		}
		k.PreemptEnable(c)
	}
}

// wakeUpIfIdle is kernel/sched/core.c's wake_up_if_idle(): if cpu's
// current task is its idle task (an interrupt handler on top of idle
// leaves it so), resched_curr() it: nothing if need-resched is already
// set, need-resched alone if the idle task polls, else need-resched and
// the reschedule IPI.
func (k *Kernel) wakeUpIfIdle(c *emu.Context, cpu int) {
	h := k.M.CPU(cpu)
	if h.Parked || !h.InIdleTask() || h.NeedResched {
		return
	}
	k.smpSendReschedule(c, cpu, siteWakeIfIdle)
}

var siteWakeIfIdle = site{"wake_up_if_idle", 0x6e, 0xa0}

// smpSendReschedule is resched_curr() of an idle cpu from another CPU:
// need-resched is set; a polling idle CPU only gets that (EvIPIElide:
// sched_wake_idle_without_ipi), another the reschedule IPI
// (smp_send_reschedule) from callsite s.
func (k *Kernel) smpSendReschedule(c *emu.Context, cpu int, s site) {
	if k.polling(cpu) {
		if k.M.Recording() {
			k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvIPIElide, Target: cpu})
		}
		k.pollWake(cpu)
		return
	}
	k.M.CPU(cpu).NeedResched = true
	p := &k.pc[c.CPU]
	k.sendSite(c.CPU, &s)
	p.wbuf = k.appendSingle(p.wbuf[:0], c.CPU, cpu, irqchip.Reschedule)
	k.send(c, p.wbuf)
}
