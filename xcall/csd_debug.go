// This file mirrors the CONFIG_CSD_LOCK_WAIT_DEBUG part of kernel/smp.c
// (__csd_lock_wait, csd_lock_wait_toolong; docs/kernel.md#csd-lock-wait-reports) and the
// NMI backtrace of lib/nmi_backtrace.c that dump_cpu_task() triggers
// (one at a time: backtrace_flag). Beside them, three fixes of
// docs/fixes.md and what shows them: a per-CPU clock the wait reads, which
// clock_skew() steps (clock_backward_check); every report asking for a
// backtrace and dumping the waiter's stack (csd_nmi_once); the debug
// record written after csd_unlock() (record_null_after_unlock), caught by
// the csd-lifetime check.
//
// A waiting CPU costs host time per report, not per spin: the waiter
// sleeps in virtual time until the lock is released or the next report is
// due, which is exactly when the kernel's polling loop would first see
// the report threshold crossed.

package xcall

import (
	"fmt"
	"math/bits"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/irqchip"
)

// reportFactor is k in the report schedule: 1 before the first report,
// then floor(ilog2(num_online_cpus()) / 2) + 1.
func (k *Kernel) reportFactor(nmessages int) int64 {
	if nmessages == 0 {
		return 1
	}
	n := k.nOnline
	if n < 1 {
		n = 1
	}
	return int64((bits.Len(uint(n))-1)/2 + 1)
}

// csdDebug is the state CSD-lock debugging keeps beside the per-CPU data.
// All of it is lazy: a run that never skews a clock pays nothing.
type csdDebug struct {
	// clock is, per CPU, how far the clock csd_lock_wait_toolong() reads
	// (sched_clock() in the kernels of docs/fixes.md's clock_backward_check,
	// ktime_get_mono_fast_ns() today) is off the machine's time; nil while
	// no clock_skew() ran.
	clock []int64
	// waits is, per CPU, the csds that CPU waits on in csdLockWaitDebug,
	// innermost last (allocated on the first debug wait): a clock step
	// re-checks them.
	waits [][]*CSD
	// backtraceBusy is lib/nmi_backtrace.c's backtrace_flag: a CPU is
	// waiting for an NMI backtrace.
	backtraceBusy bool
}

// waitClock is the clock the CSD-lock wait reads on cpu.
func (k *Kernel) waitClock(cpu int) int64 {
	if k.dbg.clock == nil {
		return k.M.Now()
	}
	return k.M.Now() + k.dbg.clock[cpu]
}

// SkewClock steps cpu's clock (the one the CSD-lock wait reads) by ns,
// backward if ns < 0, as an unstable TSC or a firmware clock write does.
// A CPU waiting on a csd at that moment re-checks its timeout at once, as
// the kernel's polling loop would at its next poll.
func (k *Kernel) SkewClock(cpu int, ns int64) {
	if k.dbg.clock == nil {
		k.dbg.clock = make([]int64, k.nr)
	}
	k.dbg.clock[cpu] += ns
	if k.dbg.waits != nil {
		for _, csd := range k.dbg.waits[cpu] {
			csd.waiters.Wake(k.M, 0)
		}
	}
}

// csdLockWaitDebug is __csd_lock_wait() with csd_lock_wait_toolong().
// The clock is the CPU's own (waitClock): ts0 and ts1 are read from it,
// and the timeout test subtracts as the kernel does, unsigned, so a clock
// that steps back below ts1 makes the difference wrap and pass the test.
func (k *Kernel) csdLockWaitDebug(c *emu.Context, csd *CSD) {
	Enter(c, "csd_lock_wait_toolong+0x1b0/0x3c0")
	defer Leave(c)
	self := c.CPU
	k.dbg.push(k.nr, self, csd)
	defer k.dbg.pop(self)
	ts0 := k.waitClock(self)
	ts1 := ts0
	bugID, nmessages := 0, 0
	for {
		if !csd.Locked() {
			if bugID != 0 {
				k.printk(c.CPU, fmt.Sprintf("smp: csd: CSD lock (#%d) got unstuck on CPU#%02d, CPU#%02d released the lock.",
					bugID, c.CPU, csd.target()))
				k.nCSDLockStuck--
			}
			return
		}
		deadline, limit := int64(-1), int64(0)
		if t := k.CSDLockTimeout; t > 0 {
			// Quiet while delta <= T*(n+1)*k: the first poll that sees the
			// threshold crossed is one nanosecond past it.
			limit = t * 1_000_000 * int64(nmessages+1) * k.reportFactor(nmessages)
			// The deadline is in machine time; a skew forward may put it
			// before boot, which is no reason to wait for ever.
			deadline = max(ts1+limit+1-(k.waitClock(self)-k.M.Now()), 0)
		}
		k.spinOnCSD(c, csd, deadline)
		if !csd.Locked() || deadline < 0 {
			continue
		}
		// Woken before the deadline: the lock changed hands, or this
		// CPU's clock stepped (SkewClock); only a step can cross the
		// threshold early.
		if k.M.Now() < deadline && (k.dbg.clock == nil || uint64(k.waitClock(self)-ts1) <= uint64(limit)) {
			continue
		}
		k.csdLockWaitToolong(c, csd, ts0, &ts1, &bugID, &nmessages)
	}
}

// push and pop track the csd a CPU waits on.
func (d *csdDebug) push(nr, cpu int, csd *CSD) {
	if d.waits == nil {
		d.waits = make([][]*CSD, nr)
	}
	d.waits[cpu] = append(d.waits[cpu], csd)
}

func (d *csdDebug) pop(cpu int) {
	if d.waits != nil && len(d.waits[cpu]) > 0 {
		d.waits[cpu] = d.waits[cpu][:len(d.waits[cpu])-1]
	}
}

// target is the CPU a csd was sent to, for SYNC/ASYNC csds, else -1.
func (csd *CSD) target() int {
	switch csd.Type() {
	case CSDTypeSync, CSDTypeAsync:
		return csd.dst
	}
	return -1
}

// csdLockWaitToolong prints one report (the lock is still held and the
// threshold has passed).
func (k *Kernel) csdLockWaitToolong(c *emu.Context, csd *CSD, ts0 int64, ts1 *int64, bugID, nmessages *int) {
	self := c.CPU
	ts2 := k.waitClock(self)
	if ts0 > ts2 && k.Fix(FixClockBackward) {
		// This CPU's own clock went back: blame nobody, restart the
		// timeout from now.
		k.printk(self, fmt.Sprintf("smp: sched_clock on CPU %d went backward by %d ns", self, ts0-ts2))
		*ts1 = ts2
		return
	}
	first := *bugID == 0
	if first {
		k.csdBugCount++
		*bugID = k.csdBugCount
	}
	cpu := csd.target()
	cpux := cpu
	if cpu < 0 || cpu >= k.nr {
		k.warnOnce(c, "csd_lock_wait_toolong:cpu", siteWarnToolong, fmt.Sprintf("csd_lock_wait_toolong: cpu = %d", cpu))
		cpux = 0
	}
	cur := k.pc[cpux].curCSD
	verb := "Continued"
	if first {
		verb = "Detected"
	}
	k.printk(self, fmt.Sprintf("smp: csd: %s non-responsive CSD lock (#%d) on CPU#%d, waiting %d ns for CPU#%02d %s(%s).",
		verb, *bugID, self, ts2-ts0, cpu, csd.Func.Sym(), dataPtr(csd.Info)))
	*nmessages++
	k.Stats.Reports++
	if first {
		k.nCSDLockStuck++
	}
	if p := k.PanicOnIPIStall; p > 0 && ts2-ts0 > p*1_000_000 {
		k.bug(c, siteBugIPIStall)
	}
	switch {
	case cur != nil && cur != csd:
		k.printk(self, fmt.Sprintf("smp: \tcsd: CSD lock (#%d) handling prior %s(%s) request.",
			*bugID, k.pc[cpux].curFunc.Sym(), dataPtr(k.pc[cpux].curInfo)))
	case cur == nil:
		k.printk(self, fmt.Sprintf("smp: \tcsd: CSD lock (#%d) unresponsive.", *bugID))
	default:
		k.printk(self, fmt.Sprintf("smp: \tcsd: CSD lock (#%d) handling this request.", *bugID))
	}
	once := k.Fix(FixCSDNMIOnce)
	if cpu >= 0 {
		// With the fix, trigger_backtrace: the first waiter to see it
		// armed disarms it and asks for the backtrace; the target re-arms
		// it when it next flushes its queue. Without it, every report of
		// every waiter asks.
		if p := &k.pc[cpu]; !once || !p.noBacktrace {
			p.noBacktrace = true
			k.dumpCPUTask(c, cpu)
		}
		if cur == nil && k.Fix(FixCSDResendIPI) {
			k.printk(self, fmt.Sprintf("smp: csd: Re-sending CSD lock (#%d) IPI from CPU#%02d to CPU#%02d", *bugID, self, cpu))
			k.Stats.Resends++
			k.archSendCallFunctionSingleIPI(c, cpu)
		}
	}
	if first || !once {
		k.dumpStack(c)
	}
	*ts1 = ts2
}

// dumpCPUTask is dump_cpu_task(cpu): an NMI backtrace of cpu
// (trigger_single_cpu_backtrace). Both arches are modelled with an NMI
// (arm64: IPI_CPU_BACKTRACE as a pseudo-NMI), so a CPU with interrupts
// off still answers. The requester waits for the answer, up to 10 s.
// One backtrace runs at a time (lib/nmi_backtrace.c: backtrace_flag): a
// request while another is in progress returns at once, printing nothing.
func (k *Kernel) dumpCPUTask(c *emu.Context, cpu int) {
	if k.dbg.backtraceBusy {
		return
	}
	k.dbg.backtraceBusy = true
	defer func() { k.dbg.backtraceBusy = false }()
	k.printk(c.CPU, fmt.Sprintf("Sending NMI from CPU %d to CPUs %d:", c.CPU, cpu))
	if k.backtraceMask.w == nil {
		k.backtraceMask = NewCpumask(k.nr)
	}
	k.backtraceMask.Set(cpu)
	p := &k.pc[c.CPU]
	p.wbuf = k.appendSingle(p.wbuf[:0], c.CPU, cpu, irqchip.Backtrace)
	k.send(c, p.wbuf)
	deadline := k.M.Now() + 10_000_000_000
	for k.backtraceMask.Test(cpu) && k.M.Now() < deadline {
		c.Spin(&k.backtraceDone, deadline, emu.WaitInfo{What: "waits for an NMI backtrace of", Owner: cpu})
	}
	k.backtraceMask.Clear(cpu)
}

// handleNMI is nmi_cpu_backtrace() on the CPU that took the NMI.
func (k *Kernel) handleNMI(c *emu.Context) {
	cpu := c.CPU
	if !k.backtraceMask.Test(cpu) {
		return
	}
	under := c.Parent()
	if under == nil {
		idle := "default_idle+0x9/0x20"
		if !k.Spec.IsX86() {
			idle = "cpu_do_idle+0x10/0x18"
		}
		k.printk(cpu, fmt.Sprintf("NMI backtrace for cpu %d skipped: idling at %s", cpu, idle))
	} else {
		k.printk(cpu, fmt.Sprintf("NMI backtrace for cpu %d", cpu))
		pc := ""
		if n := len(under.Frames); n > 0 {
			pc = under.Frames[n-1]
		}
		k.dumpRegsAndStack(under, pc, c.InterruptedIRQsOff())
	}
	// Printing takes the time of [timing] nmi_backtrace; the requester
	// sees the answer when it is done.
	if !c.Spend(k.T.NMIBacktrace, "nmi_cpu_backtrace", k.nmiBacktraceDone) {
		return
	}
	k.nmiBacktraceDone(c)
}

// nmiBacktraceDone ends nmi_cpu_backtrace(): the CPU leaves the mask.
func (k *Kernel) nmiBacktraceDone(c *emu.Context) {
	k.backtraceMask.Clear(c.CPU)
	k.backtraceDone.Wake(k.M, k.T.WakeLatency)
}

// recordAfterUnlock is the csd_lock_record(csd) that linux-next versions
// of 35feb60474bf (2020) made after csd_unlock() where csd_lock_record(NULL)
// belonged: it reads csd->func and csd->info from a csd that csd_unlock()
// has handed back to its owner, whose stack frame it lives in.
func (k *Kernel) recordAfterUnlock(c *emu.Context, csd *CSD) {
	if k.csdReleased(c, csd, "__flush_smp_call_function_queue+0x1a3/0x6b0") {
		return
	}
	k.record(c.CPU, csd)
}

// csdReleased is the csd-lifetime check: a CPU is about to read csd's
// fields, which is allowed only while the csd is locked (csd_unlock()
// hands it back to its owner: a SYNC csd's frame may be gone, an ASYNC
// one may be reused). For a released csd it prints a report in KASAN's
// format, as a kernel booted with kasan.fault=panic would, and panics:
// true then, and the caller must stop.
func (k *Kernel) csdReleased(c *emu.Context, csd *CSD, at string) bool {
	if csd.Locked() {
		return false
	}
	cpu := c.CPU
	pid, comm := 0, fmt.Sprintf("swapper/%d", cpu)
	if t := k.M.CPU(cpu).Task(); t != nil {
		pid, comm = t.PID, t.Name
	}
	const rule = "=================================================================="
	k.printk(cpu, rule)
	k.printk(cpu, "BUG: KASAN: stack-out-of-bounds in "+at)
	k.printk(cpu, fmt.Sprintf("Read of size 8 at addr ffffc900%08x by task %s/%d", 0x10000+csd.ID*0x20, comm, pid))
	k.printk(cpu, "")
	k.dumpStack(c)
	k.printk(cpu, "")
	owner := "its owner"
	if csd.src >= 0 {
		owner = fmt.Sprintf("CPU %d", csd.src)
	}
	k.printk(cpu, fmt.Sprintf("xcallsh: csd %s was released by csd_unlock() to %s before this read; it lives in that caller's frame, which may be gone",
		csd.Ptr(), owner))
	k.printk(cpu, rule)
	k.Panic(c, "kasan.fault=panic set ...", "")
	return true
}
