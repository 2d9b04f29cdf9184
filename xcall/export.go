package xcall

import "github.com/xcallsh/xcallsh/emu"

// What a module outside kernel/smp.c may use besides the smp_call_function*
// family, cpu_up/cpu_down and the validator: the few kernel globals and
// helpers that kernel/scftorture.c reaches for.

// CPUOnlineMask is cpu_online_mask: the live mask, not a copy. Like the
// kernel's const pointer, it is for reading and for passing to
// SmpCallFunctionMany; only hotplug changes it.
func (k *Kernel) CPUOnlineMask() Cpumask { return k.online }

// CPUIsHotpluggable is cpu_is_hotpluggable(): every CPU but the boot CPU
// of an x86 machine (which CPUDown refuses).
func (k *Kernel) CPUIsHotpluggable(cpu int) bool { return !(cpu == 0 && k.Spec.IsX86()) }

// Warn is __warn() for a WARN in code outside this package, at line of
// file in function at (as %pS prints it): the banner, text if not empty,
// the dump with c's call trace (c may be nil: no context, as during a
// module's init), and the taint. It counts in Stats.Warnings.
func (k *Kernel) Warn(c *emu.Context, cpu int, file string, line int, at, text string) {
	k.warnBanner(c, cpu, file, line, at, text)
}
