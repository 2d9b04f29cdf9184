package xcall

// A Fix is a real kernel commit the emulator models as a switch: with it
// off, the emulator behaves as the kernel did before the commit.
type Fix struct {
	Name   string
	Commit string // abbreviated commit id in torvalds/linux
	Title  string
}

// Names of the modelled fixes.
const (
	FixDyingFlush            = "dying_flush"
	FixCSDResendIPI          = "csd_resend_ipi"
	FixAsyncEBUSY            = "async_ebusy"
	FixOfflineCheckList      = "offline_check_list"
	FixAsyncUnlockBeforeFunc = "async_unlock_before_func"
)

// Fixes lists every modelled fix, in a fixed order.
var Fixes = []Fix{
	{FixDyingFlush, "8d056c48e486", "CPU hotplug, smp: flush any pending IPI callbacks before CPU offline"},
	{FixCSDResendIPI, "35feb60474bf", "kernel/smp: Provide CSD lock timeout diagnostics"},
	{FixAsyncEBUSY, "5a18ceca6350", "smp: Allow smp_call_function_single_async() to insert locked csd"},
	{FixOfflineCheckList, "9e949a388635", "smp: Fix offline cpu check in flush_smp_call_function_queue()"},
	{FixAsyncUnlockBeforeFunc, "8053871d0f7f", "smp: Fix smp_call_function_single_async() locking"},
}

// fixIndex returns the position of name in Fixes, or -1.
func fixIndex(name string) int {
	for i, f := range Fixes {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// IsFix reports whether name is a modelled fix.
func IsFix(name string) bool { return fixIndex(name) >= 0 }

// Fix reports whether the named fix is applied (all are, at boot).
func (k *Kernel) Fix(name string) bool {
	i := fixIndex(name)
	return i < 0 || !k.fixOff[i]
}

// SetFix turns a fix on or off; false if there is no such fix.
func (k *Kernel) SetFix(name string, on bool) bool {
	i := fixIndex(name)
	if i < 0 {
		return false
	}
	k.fixOff[i] = !on
	return true
}
