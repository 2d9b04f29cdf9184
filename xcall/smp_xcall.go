// This file models the smp_xcall interface proposed by Donghai Qiao in the
// 2022 RFC series "smp: cross CPU call interface" (v1, 2022-04-14; never
// merged), with the v1 semantics of docs/kernel.md#smp_xcall-2022-rfc-v1: the caller is
// included whenever it is in the target set, XCALL_TYPE_SYNC means wait,
// -ENXIO only for out-of-range CPU numbers, -EBUSY on a locked private csd.
// The RFC's functions are in kernel/smp.c, whose pr_fmt is "smp: " (commit
// 51111dce2509): their pr_warn lines carry it.

package xcall

import (
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
)

// XcallAll is XCALL_ALL: every online CPU.
const XcallAll = -1

// smpCallMaskCond is the RFC's internal __smp_call_mask_cond(): the body of
// smp_call_function_many_cond with SCF_RUN_LOCAL implied (self runs func
// whenever it is in mask) and wait ⇔ flags & XCALL_TYPE_SYNC.
func (k *Kernel) smpCallMaskCond(c *emu.Context, mask Cpumask, f *Func, info any, cond CondFunc, flags uint32) {
	scf := 0
	if f != nil {
		scf = scfRunLocal
	}
	if flags&CSDTypeSync != 0 {
		scf |= scfWait
	}
	k.smpCallFunctionManyCond(c, mask, f, info, scf, cond)
}

// SmpXcallCond is smp_xcall_cond(cpu, func, info, condf, flags).
func (k *Kernel) SmpXcallCond(c *emu.Context, cpu int, f *Func, info any, cond CondFunc, flags uint32) int {
	k.Stats.Calls++
	k.PreemptDisable(c)
	defer k.PreemptEnable(c)
	switch {
	case cpu == XcallAll:
		k.smpCallMaskCond(c, k.online, f, info, cond, flags)
	case cpu >= 0 && cpu < k.nr:
		k.smpCallMaskCond(c, MaskOf(k.nr, cpu), f, info, cond, flags)
	default:
		k.printk(c.CPU, fmt.Sprintf("smp: Invalid cpu ID = %d", cpu))
		return -ENXIO
	}
	return 0
}

// SmpXcallMaskCond is smp_xcall_mask_cond() (smp_xcall_mask with cond nil).
func (k *Kernel) SmpXcallMaskCond(c *emu.Context, mask Cpumask, f *Func, info any, cond CondFunc, flags uint32) {
	k.Stats.Calls++
	k.PreemptDisable(c)
	k.smpCallMaskCond(c, mask, f, info, cond, flags)
	k.PreemptEnable(c)
}

// SmpXcallPrivate is smp_xcall_private(cpu, csd, flags) as of v1 patch 10:
// -ENXIO for an invalid or offline cpu, -EINVAL for a nil csd, -EBUSY while
// the csd is locked; SYNC waits for the csd.
func (k *Kernel) SmpXcallPrivate(c *emu.Context, cpu int, csd *CSD, flags uint32) int {
	k.Stats.Calls++
	if cpu < 0 || cpu >= k.nr || !k.online.Test(cpu) {
		k.printk(c.CPU, "smp: cpu ID must be >=0 && < nr_cpu_ids")
		return -ENXIO
	}
	if csd == nil {
		k.printk(c.CPU, "smp: csd must not be NULL")
		return -EINVAL
	}
	k.PreemptDisable(c)
	defer k.PreemptEnable(c)
	if csd.Locked() {
		return -EBUSY
	}
	typ := flags & CSDFlagTypeMask
	if typ == CSDTypeSync || typ == CSDTypeAsync {
		csd.flags = CSDFlagLock | typ
	} else {
		csd.flags = typ
	}
	csd.src, csd.dst = c.CPU, cpu
	k.emit(EvLock, csd, c.CPU, -1)
	if cpu == c.CPU {
		// The RFC unlocks the csd before running it here, whatever its
		// type: an IRQ_WORK or TTWU csd was never locked (its flags have
		// no CSD_FLAG_LOCK), so csd_unlock()'s WARN_ON fires.
		f, info := csd.Func, csd.Info
		k.record(c.CPU, csd)
		Enter(c, siteXcallPrivateUnlock.String())
		k.csdUnlock(c, csd)
		Leave(c)
		k.emit(EvRun, csd, c.CPU, -1)
		saved := k.LocalIRQSave(c)
		k.doFunc(c, f, info, nil)
		k.record(c.CPU, nil)
		k.LocalIRQRestore(c, saved)
		return 0
	}
	k.smpCallSingleQueue(c, cpu, csd, &siteXcallPrivateQueue, &siteXcallPrivateIPI)
	if flags&CSDTypeSync != 0 && typ == CSDTypeSync {
		k.csdLockWait(c, csd)
		k.emit(EvWaitDone, csd, c.CPU, -1)
	}
	return 0
}

var (
	siteXcallPrivateQueue = site{"smp_xcall_private", 0x9c, 0x140}
	siteXcallPrivateIPI   = site{"smp_xcall_private", 0xd0, 0x140}
	// The return address of its csd_unlock() call on the caller's own CPU.
	siteXcallPrivateUnlock = site{"smp_xcall_private", 0x7e, 0x140}
)

// SmpXcallAny is smp_xcall_any(): the three-tier choice of
// smp_call_function_any, then smp_xcall; -EINVAL for a flags value other
// than exactly SYNC or ASYNC, -ENXIO when no CPU of mask is usable.
func (k *Kernel) SmpXcallAny(c *emu.Context, mask Cpumask, f *Func, info any, flags uint32) int {
	if f == nil || (flags != CSDTypeSync && flags != CSDTypeAsync) {
		return -EINVAL
	}
	k.PreemptDisable(c)
	defer k.PreemptEnable(c)
	cpu := k.pickAny(c.CPU, mask)
	if cpu >= k.nr {
		return -ENXIO
	}
	k.SmpXcallCond(c, cpu, f, info, nil, flags)
	return 0
}
