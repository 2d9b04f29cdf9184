package xcall

import "fmt"

// A Fix is a real kernel commit the emulator models as a switch: with it
// off, the emulator behaves as the kernel did before the commit
// (docs/fixes.md).
type Fix struct {
	Name   string
	Commit string // abbreviated commit id in torvalds/linux
	Title  string
}

// FixID names a modelled fix; the kernel code asks k.Fix(id).
type FixID uint8

// The modelled fixes.
const (
	FixDyingFlush FixID = iota
	FixCSDResendIPI
	FixAsyncEBUSY
	FixOfflineCheckList
	FixAsyncUnlockBeforeFunc
	FixClockBackward
	FixCSDNMIOnce
	FixRecordNullAfterUnlock
	FixX2APICDeadNullCheck
	FixSyncFirst
	// FixILBCSDRelease has no user in the kernel code: the model has no
	// scheduler, and scripts/ilb_kick.lua plays kick_ilb() and
	// nohz_csd_func() in Lua, reading the switch with fix().
	FixILBCSDRelease
	FixSoftirqAfterIdleFlush
	FixWarnSoftirqCalls
	FixGICv3DSBBeforeSGI
	FixX2APICWeakWrmsrFence
	FixShouldFlushTLBSwitching
	FixSwitchMMSmpMB
)

// Fixes lists every modelled fix, indexed by FixID.
var Fixes = [...]Fix{
	FixDyingFlush:            {"dying_flush", "8d056c48e486", "CPU hotplug, smp: flush any pending IPI callbacks before CPU offline"},
	FixCSDResendIPI:          {"csd_resend_ipi", "35feb60474bf", "kernel/smp: Provide CSD lock timeout diagnostics"},
	FixAsyncEBUSY:            {"async_ebusy", "5a18ceca6350", "smp: Allow smp_call_function_single_async() to insert locked csd"},
	FixOfflineCheckList:      {"offline_check_list", "9e949a388635", "smp: Fix offline cpu check in flush_smp_call_function_queue()"},
	FixAsyncUnlockBeforeFunc: {"async_unlock_before_func", "8053871d0f7f", "smp: Fix smp_call_function_single_async() locking"},
	FixClockBackward:         {"clock_backward_check", "9fbaa44114ca", "smp: print only local CPU info when sched_clock goes backward"},
	FixCSDNMIOnce:            {"csd_nmi_once", "0d3a00b37042", "smp: Reduce NMI traffic from CSD waiters to CSD destination"},
	FixRecordNullAfterUnlock: {"record_null_after_unlock", "35feb60474bf", "kernel/smp: Provide CSD lock timeout diagnostics"},
	FixX2APICDeadNullCheck:   {"x2apic_dead_null_check", "7a22e03b0c02", "x86/apic/x2apic: Fix a NULL pointer deref when handling a dying cpu"},
	FixSyncFirst:             {"sync_first", "52103be07d8b", "smp: Optimize flush_smp_call_function_queue()"},
	FixILBCSDRelease:         {"ilb_csd_release", "19a1f5ec6999", "sched: Fix smp_call_function_single_async() usage for ILB"},
	FixSoftirqAfterIdleFlush: {"softirq_after_idle_flush", "f9d34595ae4f", "smp: Process pending softirqs in flush_smp_call_function_from_idle()"},
	FixWarnSoftirqCalls:      {"warn_softirq_calls", "19dbdcb8039c", "smp: Warn on function calls from softirq context"},
	FixGICv3DSBBeforeSGI:     {"gicv3_dsb_before_sgi", "21ec30c0ef52", "irqchip/gic-v3: Use wmb() instead of smb_wmb() in gic_raise_softirq()"},
	FixX2APICWeakWrmsrFence:  {"x2apic_weak_wrmsr_fence", "25a068b8e9a4", "x86/apic: Add extra serialization for non-serializing MSRs"},
	// The x86 TLB flush path (tlb.go).
	FixShouldFlushTLBSwitching: {"should_flush_tlb_switching", "fea4e317f9e7", "x86/mm: Eliminate window where TLB flushes may be inadvertently skipped"},
	FixSwitchMMSmpMB:           {"switch_mm_smp_mb", "83b0177a6c48", "x86/mm: Fix SMP ordering in switch_mm_irqs_off()"},
}

// String is the fix's name ("dying_flush").
func (f FixID) String() string {
	if int(f) >= len(Fixes) {
		return fmt.Sprintf("FixID(%d)", int(f))
	}
	return Fixes[f].Name
}

// LookupFix returns the fix called name.
func LookupFix(name string) (FixID, bool) {
	for i := range Fixes {
		if Fixes[i].Name == name {
			return FixID(i), true
		}
	}
	return 0, false
}

// IsFix reports whether name is a modelled fix.
func IsFix(name string) bool {
	_, ok := LookupFix(name)
	return ok
}

// Fix reports whether fix f is applied (all are, at boot).
func (k *Kernel) Fix(f FixID) bool { return !k.fixOff[f] }

// FixApplied reports whether the named fix is applied; ok is false, and
// on too, if there is no such fix.
func (k *Kernel) FixApplied(name string) (on, ok bool) {
	f, ok := LookupFix(name)
	if !ok {
		return false, false
	}
	return k.Fix(f), true
}

// SetFix turns the named fix on or off; false if there is no such fix.
func (k *Kernel) SetFix(name string, on bool) bool {
	f, ok := LookupFix(name)
	if !ok {
		return false
	}
	k.fixOff[f] = !on
	return true
}
