// This file holds the kernel's code locations that xcall and the Lua API
// both show: the return addresses inside kernel/smp.c's entry points (the
// tracepoints' callsite=%pS, the frames of a stack dump taken while a
// caller waits), the delay loops of arch/x86/lib/delay.c (delay_tsc) and
// arch/arm64/lib/delay.c (__delay), and the flags word local_irq_save()
// returns (arch/x86/include/asm/irqflags.h, arch/arm64/include/asm/irqflags.h).
// Offsets are illustrative but fixed, so traces are stable.

package xcall

// Call sites inside kernel/smp.c, as the tracepoints' callsite=%pS prints
// them: where the csd is queued, and where the IPI is sent (the return
// address a caller waiting for its csd shows in a stack dump).
var (
	siteSingleQueue = site{"smp_call_function_single", 0xe4, 0x1a0}
	siteSingleIPI   = site{"smp_call_function_single", 0x118, 0x1a0}
	siteAsyncQueue  = site{"smp_call_function_single_async", 0x5c, 0x90}
	siteAsyncIPI    = site{"smp_call_function_single_async", 0x70, 0x90}
	siteManyQueue   = site{"smp_call_function_many_cond", 0x1c4, 0x4e0}
	siteManyIPI     = site{"smp_call_function_many_cond", 0x35c, 0x4e0}
	siteManyMask    = site{"smp_call_function_many_cond", 0x3a8, 0x4e0}
)

// Frames of the cross-call entry points, for Enter: what a stack dump
// shows for a caller inside one of them (kernel/smp.c; the smp_xcall
// family is the RFC's, xcall.go).
var (
	FrameSmpCallFunctionSingle      = siteSingleIPI.String()
	FrameSmpCallFunctionSingleAsync = siteAsyncIPI.String()
	FrameSmpCallFunctionManyCond    = siteManyIPI.String()
)

const (
	FrameSmpCallFunction        = "smp_call_function+0x3c/0x60"
	FrameSmpCallFunctionAny     = "smp_call_function_any+0x5e/0xa0"
	FrameOnEachCPUCondMask      = "on_each_cpu_cond_mask+0x24/0x40"
	FrameWakeUpAllIdleCPUs      = "wake_up_all_idle_cpus+0x4a/0x90"
	FrameKickAllCPUsSync        = "kick_all_cpus_sync+0x1f/0x30"
	FrameSmpCallOnCPU           = "smp_call_on_cpu+0xa8/0x110"
	FrameSmpXcall               = "smp_xcall+0x1c/0x30"
	FrameSmpXcallCond           = "smp_xcall_cond+0x68/0xc0"
	FrameSmpXcallMask           = "smp_xcall_mask+0x34/0x50"
	FrameSmpXcallMaskCond       = "smp_xcall_mask_cond+0x34/0x50"
	FrameSmpXcallPrivate        = "smp_xcall_private+0xd0/0x140"
	FrameSmpXcallAny            = "smp_xcall_any+0x60/0xb0"
	frameDelayX86, frameDelay64 = "delay_tsc+0x38/0xb0", "__delay+0x4c/0x70"
)

// The frames of a flush of the call_single_queue (kernel/smp.c): the
// return address inside __flush_smp_call_function_queue() while the
// csd's function runs (csd_do_func() is inlined there), and those inside
// its two callers, the IPI handler's
// generic_smp_call_function_single_interrupt() and the idle loop's
// flush_smp_call_function_queue().
const (
	frameFlushQueue     = "__flush_smp_call_function_queue+0x187/0x6b0"
	frameFlushInterrupt = "generic_smp_call_function_single_interrupt+0x13/0x20"
	frameFlushTask      = "flush_smp_call_function_queue+0x46/0x80"
)

// DelayFrame is the frame of the busy-wait loop behind ndelay, udelay and
// mdelay: delay_tsc on x86, __delay on arm64.
func (k *Kernel) DelayFrame() string {
	if k.Spec.IsX86() {
		return frameDelayX86
	}
	return frameDelay64
}

// IRQFlags is the flags word local_irq_save() returns, given whether
// interrupts were off: x86 EFLAGS, IF (0x200) set or clear over a
// typical 0x46 (the always-one bit 1, PF, ZF), or arm64 DAIF (I is 0x80).
func (k *Kernel) IRQFlags(wasOff bool) int64 {
	if k.Spec.IsX86() {
		if wasOff {
			return 0x46
		}
		return 0x246
	}
	if wasOff {
		return 0x80
	}
	return 0
}
