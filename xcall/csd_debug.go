// This file mirrors the CONFIG_CSD_LOCK_WAIT_DEBUG part of kernel/smp.c
// (__csd_lock_wait, csd_lock_wait_toolong; docs/kernel.md#csd-lock-wait-reports) and the
// NMI backtrace of lib/nmi_backtrace.c that dump_cpu_task() triggers.
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

// csdLockWaitDebug is __csd_lock_wait() with csd_lock_wait_toolong().
func (k *Kernel) csdLockWaitDebug(c *emu.Context, csd *CSD) {
	Enter(c, "csd_lock_wait_toolong+0x1b0/0x3c0")
	defer Leave(c)
	ts0 := k.M.Now()
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
		deadline := int64(-1)
		if t := k.CSDLockTimeout; t > 0 {
			// Quiet while delta <= T*(n+1)*k: the first poll that sees the
			// threshold crossed is one nanosecond past it.
			deadline = ts1 + t*1_000_000*int64(nmessages+1)*k.reportFactor(nmessages) + 1
		}
		k.spinOnCSD(c, csd, deadline)
		if !csd.Locked() || deadline < 0 || k.M.Now() < deadline {
			continue
		}
		k.csdLockWaitToolong(c, csd, ts0, &ts1, &bugID, &nmessages)
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
	ts2 := k.M.Now()
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
	if cpu >= 0 {
		if p := &k.pc[cpu]; !p.noBacktrace {
			p.noBacktrace = true
			k.dumpCPUTask(c, cpu)
		}
		if cur == nil && k.Fix(FixCSDResendIPI) {
			k.printk(self, fmt.Sprintf("smp: csd: Re-sending CSD lock (#%d) IPI from CPU#%02d to CPU#%02d", *bugID, self, cpu))
			k.Stats.Resends++
			k.archSendCallFunctionSingleIPI(c, cpu)
		}
	}
	if first {
		k.dumpStack(c)
	}
	*ts1 = ts2
}

// dumpCPUTask is dump_cpu_task(cpu): an NMI backtrace of cpu
// (trigger_single_cpu_backtrace). Both arches are modelled with an NMI
// (arm64: IPI_CPU_BACKTRACE as a pseudo-NMI), so a CPU with interrupts
// off still answers. The requester waits for the answer, up to 10 s.
func (k *Kernel) dumpCPUTask(c *emu.Context, cpu int) {
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
	k.backtraceMask.Clear(cpu)
	k.backtraceDone.Wake(k.M, k.T.WakeLatency)
}
