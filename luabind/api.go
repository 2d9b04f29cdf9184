package luabind

import (
	"cmp"
	"slices"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/xcall"
)

// where says where a binding may be called, and so which check runs
// before its function.
type where uint8

const (
	// operatorOnly: top level (or a hook) only; in kernel code it raises
	// "NAME: operator function, not available in kernel code".
	operatorOnly where = iota
	// kernelOnly: in a task or a cross-called function only (it needs a
	// CPU); at top level it raises "NAME: must be called from a task or a
	// cross-called function".
	kernelOnly
	// anywhere: no check; the function works at top level and in kernel
	// code alike.
	anywhere
)

// section is where docs/api.md lists a binding.
type section uint8

const (
	operatorSection section = iota // "Operator functions (top level)"
	kernelSection                  // "Kernel functions (in tasks and cross-called functions)"
)

// binding is one global function of the Lua API. Registration, the
// where-checks, docs/api.md's reference (apidoc.go) and, through the
// globals, the shell's Tab completion all read the table below.
type binding struct {
	name    string
	args    string // the arguments as docs/api.md shows them: "cpu, func, info, wait"
	ret     string // what the kernel function returns ("int"), for the docs; "" for nothing
	doc     string // docs/api.md's description (Markdown)
	section section
	where   where
	fn      func(x call) int
}

// call is one call of a binding: what its function needs besides its
// arguments. Argument errors name the binding (argument methods in args.go).
type call struct {
	s    *Session
	L    *lua.LState
	c    *emu.Context // the running context (never nil for kernelOnly), nil at top level
	name string
}

// k is the session's kernel.
func (x call) k() *xcall.Kernel { return x.s.K }

// bindings is the Lua API, in the order docs/api.md lists it.
var bindings = []binding{
	// Operator functions.
	{name: "machine", args: "NAME_OR_TOML", where: operatorOnly, fn: luaMachine,
		doc: "boot a built-in machine, or an inline TOML description (a string containing `=` or a newline). Only before anything ran; ignored when `-m` was given on the command line. Scripts cannot name files. An invalid machine ends the run with exit status 2, as `-m` does (`t.lua:1: machine: inline TOML: line 5: key irqchip.kind: ...`); a script that catches the error (`pcall`) goes on on the default machine, and whatever fails later is its own failure (exit 1)."},
	{name: "spawn", args: "cpu, [name,] fn, ...", where: operatorOnly, fn: luaSpawn,
		doc: "a task on `cpu` running `fn(...)`; the name (default: the function's name, 15 characters at most, like `TASK_COMM_LEN`) shows in traces and stack dumps. A task has the methods `task:done()` (finished?) and `task:result()` (`fn`'s return values, nothing while it runs)"},
	{name: "run", args: "d", where: operatorOnly, fn: luaRun,
		doc: "advance virtual time by `d` ns; `\"ok\"`, or `\"panic\"` if the kernel panicked (the clock stays at the panic). A Lua error in a task or a cross-called function is raised here, with its own `file:line:`. At most a year of virtual time per call. Refused inside a hook."},
	{name: "now", where: anywhere, fn: luaNow, doc: "virtual time in ns, also in kernel code"},
	{name: "ns", args: "x", where: anywhere, fn: unit(1), doc: "`x` ns in ns (durations are ns), rounded to whole ns"},
	{name: "us", args: "x", where: anywhere, fn: unit(1e3), doc: "`x` µs in ns, rounded to whole ns (`us(1.1)` = 1100)"},
	{name: "ms", args: "x", where: anywhere, fn: unit(1e6), doc: "`x` ms in ns, rounded to whole ns"},
	{name: "s", args: "x", where: anywhere, fn: unit(1e9), doc: "`x` s in ns, rounded to whole ns"},
	{name: "param", args: "name [, value]", where: anywhere, fn: luaParam,
		doc: "get (and set) `csdlock_debug` (0/1), `csd_lock_timeout` (ms, 0 = no reports), `panic_on_ipistall` (ms, 0 = off); returns the value before the call. A change takes effect at the next check of a waiting CPU: a report already scheduled keeps its time."},
	{name: "ipi_drop", args: "cpu [, n]", where: anywhere, fn: luaIPIDrop, doc: "the next `n` (default 1) IPIs delivered to `cpu` are lost"},
	{name: "ipi_delay", args: "cpu, d", where: anywhere, fn: luaIPIDelay, doc: "IPIs to `cpu` arrive `d` ns late (0 removes the delay)"},
	{name: "clock_skew", args: "cpu, ns", where: anywhere, fn: luaClockSkew,
		doc: "step `cpu`'s clock (the one the CSD-lock wait reads) by `ns`, backward if negative; a CPU waiting on a csd re-checks its timeout at once ([fixes.md](fixes.md): `clock_backward_check`)"},
	{name: "fix", args: "name [, on]", where: anywhere, fn: luaFix, doc: "get/set a historical fix ([fixes.md](fixes.md)); returns whether it is on"},
	{name: "fixes", where: anywhere, fn: luaFixes, doc: "`{name=, commit=, title=, on=}` for each fix"},
	{name: "dmesg", where: anywhere, fn: luaDmesg, doc: "the kernel log so far, lines as dmesg prints them: `[    5.000000] smp: csd: ...`"},
	{name: "dmesg_find", args: "pattern", where: anywhere, fn: luaDmesgFind, doc: "the first log line matching a Lua pattern, or nil"},
	{name: "panicked", where: anywhere, fn: luaPanicked, doc: "nil, or the panic message (`kernel BUG at kernel/smp.c:289!`)"},
	{name: "stuck", where: anywhere, fn: luaStuck, doc: "nil, or what waits on what when no waiter can ever proceed"},
	{name: "cpu_state", args: "cpu", where: anywhere, fn: luaCPUState, doc: "`\"online\"`, `\"offline\"`, or the cpuhp state of a CPU going up or down (`\"smpcfd:dying\"`)"},
	{name: "irqchip_writes", where: anywhere, fn: luaIRQChipWrites,
		doc: "`{t=, cpu=, reg=, value=}` per interrupt-controller register write; `reg` is `\"ICR\"` (x2APIC MSR 0x830 or xAPIC low word), `\"ICR2\"` or `\"ICC_SGI1R_EL1\"`; `value` is `0x` + 16 hex digits"},
	{name: "hook", args: "point, fn", where: anywhere, fn: luaHook,
		doc: "run `fn(cpu, point)` as operator code, with the world stopped, whenever a CPU reaches `point`; `hook(point, nil)` removes it; `hook()` lists the points ([hotplug.md](hotplug.md#points)). Inside a hook, `run` is refused."},
	{name: "monitor_wakeup_broken", args: "cpu [, on]", ret: "boolean", where: anywhere, fn: luaMonitorWakeupBroken,
		doc: "get/set a hardware quirk of `cpu`: in poll idle its idle task advertises polling, so callers send it no IPI, but it does not notice need-resched (MWAIT whose monitor does not fire, the Goldmont erratum) until an interrupt or NMI wakes it ([fixes.md](fixes.md#hardware-that-breaks-ipis)); returns the setting before the call"},
	{name: "open_softirq", args: "nr, fn", where: anywhere, fn: luaOpenSoftirq,
		doc: "`fn()` handles softirq `nr` from now on, in softirq context on the CPU where it runs (nil: no handler; a softirq without one runs and does nothing)"},
	{name: "softirq_pending", args: "cpu", ret: "int", where: anywhere, fn: luaSoftirqPending,
		doc: "`cpu`'s pending softirqs, a mask of `1 << nr`"},
	{name: "cpuhp_fail", args: "cpu, state [, errno]", where: anywhere, fn: luaCPUHPFail,
		doc: "the next bring-up of `cpu` fails in `state`'s startup callback with `-errno` (default `ENOMEM`); the walk rolls back"},
	{name: "breakpoint", where: anywhere, fn: luaBreakpoint,
		doc: "in the shell, a Lua line or `source FILE.lua` stops here and drops to the prompt, as a breakpoint hit does (the machine stays where the call is, even inside a task); `continue` goes on. Anywhere else (`xcallsh run`, a report's replay) it does nothing and prints nothing"},
	{name: "inject_csd", args: "cpu, fn [, info]", where: anywhere, fn: luaInjectCSD,
		doc: "queue `fn` on `cpu`'s call_single_queue \"from some other path\" that does not check `cpu_online` (like a direct `__smp_call_single_queue` user), with an IPI if the queue was empty"},
	{name: "device_irq", args: "cpu, fn [, info]", where: anywhere, fn: luaDeviceIRQ,
		doc: "raise a device interrupt (not an IPI) on `cpu` now: when the CPU takes it, interrupts on, its handler runs `fn(info)` in hardirq context (vector 0x21 on x86, SPI INTID 32 on arm64)"},

	// Kernel functions: where the CPU is and what it is doing.
	{name: "smp_processor_id", ret: "int", section: kernelSection, where: kernelOnly, fn: luaSmpProcessorID, doc: "the CPU the code runs on"},
	{name: "num_online_cpus", ret: "int", section: kernelSection, where: anywhere, fn: luaNumOnlineCPUs, doc: "the number of online CPUs"},
	{name: "cpu_online", args: "cpu", ret: "boolean", section: kernelSection, where: anywhere, fn: luaCPUOnline, doc: "whether `cpu` is online"},
	{name: "cpu_to_node", args: "cpu", ret: "int", section: kernelSection, where: anywhere, fn: luaCPUToNode, doc: "`cpu`'s NUMA node; -1 (`NUMA_NO_NODE`) for a CPU that does not exist"},
	{name: "cpu_online_mask", ret: "cpumask", section: kernelSection, where: anywhere, fn: luaCPUOnlineMask, doc: "a copy of the online mask"},
	{name: "cpu_possible_mask", ret: "cpumask", section: kernelSection, where: anywhere, fn: luaCPUPossibleMask, doc: "CPUs `0`..`nr_cpu_ids-1`"},
	{name: "cpumask_of", args: "cpu", ret: "cpumask", section: kernelSection, where: anywhere, fn: luaCPUMaskOf, doc: "the mask of `cpu` alone (empty for a CPU that does not exist)"},
	{name: "cpumask", args: "str_or_array", ret: "cpumask", section: kernelSection, where: anywhere, fn: luaCPUMask, doc: "a cpumask value from a CPU list string (`\"0-3,6\"`), an array of CPU numbers or a cpumask"},
	{name: "local_irq_disable", section: kernelSection, where: kernelOnly, fn: luaLocalIRQDisable, doc: "interrupts off on this CPU"},
	{name: "local_irq_enable", section: kernelSection, where: kernelOnly, fn: luaLocalIRQEnable, doc: "interrupts on; pending interrupts are taken"},
	{name: "local_irq_save", ret: "flags", section: kernelSection, where: kernelOnly, fn: luaLocalIRQSave,
		doc: "interrupts off; `flags` are x86 EFLAGS (0x246 enabled, 0x46 disabled) or arm64 DAIF (0, 0x80)"},
	{name: "local_irq_restore", args: "flags", section: kernelSection, where: kernelOnly, fn: luaLocalIRQRestore, doc: "interrupts as `flags` (from `local_irq_save`) say"},
	{name: "irqs_disabled", ret: "boolean", section: kernelSection, where: kernelOnly, fn: luaIRQsDisabled, doc: "whether interrupts are off on this CPU"},
	{name: "in_task", ret: "boolean", section: kernelSection, where: kernelOnly, fn: luaInTask, doc: "true in a task (or kernel thread), false in an interrupt handler or in softirq processing"},
	{name: "in_hardirq", ret: "boolean", section: kernelSection, where: kernelOnly, fn: luaInHardirq, doc: "whether this code runs in an interrupt handler (not in softirq processing at its end)"},
	{name: "preempt_disable", section: kernelSection, where: kernelOnly, fn: luaPreemptDisable, doc: "raise this CPU's preemption count"},
	{name: "preempt_enable", section: kernelSection, where: kernelOnly, fn: luaPreemptEnable, doc: "lower it; at zero, a waiting kernel thread may preempt here"},
	{name: "get_cpu", ret: "int", section: kernelSection, where: kernelOnly, fn: luaGetCPU, doc: "`preempt_disable()`, then this CPU's number"},
	{name: "put_cpu", section: kernelSection, where: kernelOnly, fn: luaPutCPU, doc: "`preempt_enable()`"},
	{name: "ndelay", args: "ns", section: kernelSection, where: kernelOnly, fn: delay("ns", 1),
		doc: "busy-wait: the CPU stays busy, interrupts are taken if enabled"},
	{name: "udelay", args: "us", section: kernelSection, where: kernelOnly, fn: delay("us", 1e3), doc: "busy-wait, in µs"},
	{name: "mdelay", args: "ms", section: kernelSection, where: kernelOnly, fn: delay("ms", 1e6), doc: "busy-wait, in ms"},
	{name: "msleep", args: "ms", section: kernelSection, where: kernelOnly, fn: luaMsleep, doc: "sleep: another task may run, or the CPU idles"},
	{name: "raise_softirq", args: "nr", section: kernelSection, where: kernelOnly, fn: luaRaiseSoftirq,
		doc: "mark softirq `nr` (`BLOCK_SOFTIRQ`, ...) pending on this CPU; from task context also wake `ksoftirqd/N`. Pending softirqs run at the end of an interrupt handler (`irq_exit`) or in `ksoftirqd/N`, each in its `open_softirq` handler"},
	{name: "__raise_softirq_irqoff", args: "nr", section: kernelSection, where: kernelOnly, fn: luaRaiseSoftirqIrqoff,
		doc: "only mark softirq `nr` pending (no `ksoftirqd` wake-up), as a cross-called function running in the IPI handler may"},
	{name: "local_softirq_pending", ret: "int", section: kernelSection, where: kernelOnly, fn: luaLocalSoftirqPending,
		doc: "this CPU's pending softirqs, a mask of `1 << nr`"},
	{name: "in_softirq", ret: "boolean", section: kernelSection, where: kernelOnly, fn: luaInSoftirq,
		doc: "whether this code runs in softirq processing (`in_serving_softirq()`)"},
	{name: "printk", args: "fmt, ...", section: kernelSection, where: anywhere, fn: luaPrintk,
		doc: "`string.format` arguments; one log line per `\"\\n\"`, on the running CPU (CPU 0 at top level)"},

	// Kernel functions: kernel/smp.c.
	{name: "smp_call_function", args: "func, info, wait", section: kernelSection, where: kernelOnly, fn: luaSmpCallFunction,
		doc: "`func(info)` on every other online CPU"},
	{name: "smp_call_function_many", args: "mask, func, info, wait", section: kernelSection, where: kernelOnly, fn: luaSmpCallFunctionMany,
		doc: "`func(info)` on the other online CPUs of `mask`; the caller must have preemption disabled"},
	{name: "smp_call_function_single", args: "cpu, func, info, wait", ret: "int", section: kernelSection, where: kernelOnly, fn: luaSmpCallFunctionSingle,
		doc: "`func(info)` on `cpu` (called directly when it is this CPU)"},
	{name: "smp_call_function_single_async", args: "cpu, csd", ret: "int", section: kernelSection, where: kernelOnly, fn: luaSmpCallFunctionSingleAsync,
		doc: "queue `csd` (from `csd_init`) on `cpu` without waiting; `-EBUSY` while the csd is still locked"},
	{name: "smp_call_function_any", args: "mask, func, info, wait", ret: "int", section: kernelSection, where: kernelOnly, fn: luaSmpCallFunctionAny,
		doc: "`func(info)` on one online CPU of `mask`: this one, one of its node, or any"},
	{name: "on_each_cpu", args: "func, info, wait", section: kernelSection, where: kernelOnly, fn: luaOnEachCPU,
		doc: "`func(info)` on every online CPU, this one included"},
	{name: "on_each_cpu_mask", args: "mask, func, info, wait", section: kernelSection, where: kernelOnly, fn: luaOnEachCPUMask,
		doc: "`func(info)` on the online CPUs of `mask`, this one included if in `mask`"},
	{name: "on_each_cpu_cond", args: "cond_func, func, info, wait", section: kernelSection, where: kernelOnly, fn: luaOnEachCPUCond,
		doc: "`func(info)` on every online CPU for which `cond_func(cpu, info)` is true"},
	{name: "on_each_cpu_cond_mask", args: "cond_func, func, info, wait, mask", section: kernelSection, where: kernelOnly, fn: luaOnEachCPUCondMask,
		doc: "the same, on the online CPUs of `mask`"},
	{name: "smp_call_on_cpu", args: "cpu, func, par, phys", ret: "int", section: kernelSection, where: kernelOnly, fn: luaSmpCallOnCPU,
		doc: "`func(par)` in a kworker on `cpu`, and its return value; it sleeps"},
	{name: "kick_all_cpus_sync", section: kernelSection, where: kernelOnly, fn: luaKickAllCPUsSync,
		doc: "an IPI running `do_nothing` on every other online CPU, waited for"},
	{name: "wake_up_all_idle_cpus", section: kernelSection, where: kernelOnly, fn: luaWakeUpAllIdleCPUs,
		doc: "reschedule IPIs to idle CPUs (not polling ones)"},
	{name: "cpus_peek_for_pending_ipi", args: "mask", ret: "boolean", section: kernelSection, where: anywhere, fn: luaCPUsPeekForPendingIPI,
		doc: "whether a CPU of `mask` has work queued on its call_single_queue"},
	{name: "csd_init", args: "func, info", ret: "csd", section: kernelSection, where: anywhere, fn: luaCSDInit,
		doc: "`INIT_CSD`: a csd for `smp_call_function_single_async` and `smp_xcall_private`; `csd:locked()` tells whether it is in flight"},
	{name: "csd_lock_is_stuck", ret: "boolean", section: kernelSection, where: anywhere, fn: luaCSDLockIsStuck,
		doc: "whether a CPU is waiting on a CSD lock it has reported as non-responsive (with `csdlock_debug`)"},

	// Kernel functions: the smp_xcall RFC.
	{name: "smp_xcall", args: "cpu, func, info, flags", ret: "int", section: kernelSection, where: kernelOnly, fn: luaSmpXcall,
		doc: "`func(info)` on `cpu`; `flags` is an `XCALL_TYPE_*`"},
	{name: "smp_xcall_cond", args: "cpu, func, info, cond_func, flags", ret: "int", section: kernelSection, where: kernelOnly, fn: luaSmpXcallCond,
		doc: "the same, if `cond_func(cpu, info)` (nil: always)"},
	{name: "smp_xcall_mask", args: "mask, func, info, flags", section: kernelSection, where: kernelOnly, fn: luaSmpXcallMask,
		doc: "`func(info)` on the online CPUs of `mask`"},
	{name: "smp_xcall_mask_cond", args: "mask, func, info, cond_func, flags", section: kernelSection, where: kernelOnly, fn: luaSmpXcallMaskCond,
		doc: "the same, where `cond_func(cpu, info)` (nil: always)"},
	{name: "smp_xcall_private", args: "cpu, csd, flags", ret: "int", section: kernelSection, where: kernelOnly, fn: luaSmpXcallPrivate,
		doc: "queue a csd from `csd_init` on `cpu`"},
	{name: "smp_xcall_any", args: "mask, func, info, flags", ret: "int", section: kernelSection, where: kernelOnly, fn: luaSmpXcallAny,
		doc: "`func(info)` on one online CPU of `mask`"},

	// Kernel functions: CPU hotplug.
	{name: "cpu_down", args: "cpu", ret: "int", section: kernelSection, where: kernelOnly, fn: upDown((*xcall.Kernel).CPUDown),
		doc: "take `cpu` offline: the whole hotplug walk ([hotplug.md](hotplug.md)); it sleeps"},
	{name: "cpu_up", args: "cpu", ret: "int", section: kernelSection, where: kernelOnly, fn: upDown((*xcall.Kernel).CPUUp),
		doc: "bring `cpu` online; it sleeps"},

	// Kernel functions: the x86 TLB flush path (arch/x86/mm/tlb.c).
	{name: "switch_mm", args: "mm", section: kernelSection, where: kernelOnly, fn: luaSwitchMM,
		doc: "this CPU starts using mm `mm` (a name: the first use creates it, `\"init_mm\"` is the kernel's): `switch_mm_irqs_off` with interrupts off; from a task. x86 only, like the rest of this group ([memory.md](memory.md#the-tlb-flush-path))"},
	{name: "switch_mm_irqs_off", args: "mm", section: kernelSection, where: kernelOnly, fn: luaSwitchMMIrqsOff,
		doc: "the same with interrupts already off: stores `LOADED_MM_SWITCHING` to `loaded_mm`, reads `mm`'s `tlb_gen`, writes CR3 (flushing if the TLB is older), stores `loaded_mm`"},
	{name: "enter_lazy_tlb", section: kernelSection, where: kernelOnly, fn: luaEnterLazyTLB,
		doc: "this CPU runs a kernel thread on the mm it has loaded (`is_lazy`): flushes may skip it until its next `switch_mm`"},
	{name: "flush_tlb_mm_range", args: "mm", section: kernelSection, where: kernelOnly, fn: luaFlushTLBMMRange,
		doc: "the caller changed `mm`'s page tables: bump its `tlb_gen` and flush every CPU that may hold old entries, through `on_each_cpu_cond_mask(should_flush_tlb, flush_tlb_func, ...)` on `mm_cpumask(mm)`, waiting (the whole mm, as `flush_tlb_mm`). When it returns, a CPU using `mm` with an older TLB fails the run: `stale TLB: ...`"},
	{name: "mm_tlb_gen", args: "mm", ret: "int", section: kernelSection, where: anywhere, fn: luaMMTLBGen,
		doc: "`mm->context.tlb_gen` as every CPU sees it"},
	{name: "mm_cpumask", args: "mm", ret: "cpumask", section: kernelSection, where: anywhere, fn: luaMMCpumask,
		doc: "a copy of `mm_cpumask(mm)` (a CPU's bit stays set after it switches away, until a flush IPI clears it)"},
	{name: "cpu_tlbstate", args: "cpu", ret: "table", section: kernelSection, where: anywhere, fn: luaCPUTLBState,
		doc: "`{loaded_mm=, is_lazy=, tlb_gen=}`: `cpu`'s `cpu_tlbstate` as `cpu` sees it (`loaded_mm` a name or `\"LOADED_MM_SWITCHING\"`; `tlb_gen` the generation its TLB is flushed to for that mm)"},
}

// constant is a global number of the API.
type constant struct {
	name  string
	value int
	doc   string
}

// constants are the API's global numbers, in docs/api.md's order.
var constants = []constant{
	{"ENXIO", xcall.ENXIO, "no such CPU (an offline or nonexistent target)"},
	{"EBUSY", xcall.EBUSY, "busy: a csd still in flight, or `cpu_down` of the last online CPU"},
	{"EINVAL", xcall.EINVAL, "an invalid argument (`cpu_down`/`cpu_up` of a CPU that does not exist)"},
	{"ENOMEM", xcall.ENOMEM, "`cpuhp_fail`'s default errno"},
	{"EPERM", xcall.EPERM, "not permitted: `cpu_down(0)` on x86, whose boot CPU cannot be hot-unplugged"},
	{"HI_SOFTIRQ", xcall.HISoftirq, "the softirq numbers of include/linux/interrupt.h, for `raise_softirq` and `open_softirq`"},
	{"TIMER_SOFTIRQ", xcall.TimerSoftirq, "a softirq number"},
	{"NET_TX_SOFTIRQ", xcall.NetTxSoftirq, "a softirq number"},
	{"NET_RX_SOFTIRQ", xcall.NetRxSoftirq, "a softirq number"},
	{"BLOCK_SOFTIRQ", xcall.BlockSoftirq, "a softirq number"},
	{"IRQ_POLL_SOFTIRQ", xcall.IRQPollSoftirq, "a softirq number"},
	{"TASKLET_SOFTIRQ", xcall.TaskletSoftirq, "a softirq number"},
	{"SCHED_SOFTIRQ", xcall.SchedSoftirq, "a softirq number"},
	{"HRTIMER_SOFTIRQ", xcall.HrtimerSoftirq, "a softirq number"},
	{"RCU_SOFTIRQ", xcall.RCUSoftirq, "a softirq number"},
	{"XCALL_TYPE_SYNC", xcall.CSDTypeSync, "the `smp_xcall*` flags: a synchronous call"},
	{"XCALL_TYPE_ASYNC", xcall.CSDTypeAsync, "an asynchronous call"},
	{"XCALL_TYPE_IRQ_WORK", xcall.CSDTypeIRQWork, "an irq_work"},
	{"XCALL_TYPE_TTWU", xcall.CSDTypeTTWU, "a remote wake-up"},
	{"XCALL_ALL", xcall.XcallAll, "every online CPU, as the `cpu` of `smp_xcall` and `smp_xcall_cond`"},
}

// byName is the bindings sorted by name: the order they are registered in,
// so that the globals are set in the same order whatever the table's.
var byName = sync.OnceValue(func() []*binding {
	out := make([]*binding, len(bindings))
	for i := range bindings {
		out[i] = &bindings[i]
	}
	slices.SortFunc(out, func(a, b *binding) int { return cmp.Compare(a.name, b.name) })
	return out
})

// register installs the API's functions and constants as globals of L
// (for the template world: world.go).
func register(L *lua.LState) {
	for _, b := range byName() {
		L.SetGlobal(b.name, L.NewFunction(b.lua()))
	}
	for _, c := range constants {
		L.SetGlobal(c.name, lua.LNumber(c.value))
	}
	registerTypes(L)
}

// lua is b's Lua function, shared by the sessions: the where-check, then
// b.fn, for the calling session.
func (b *binding) lua() lua.LGFunction {
	name, fn := b.name, b.fn
	switch b.where {
	case operatorOnly:
		return func(L *lua.LState) int {
			s := sessionOf(L)
			s.operator(L, name)
			return fn(call{s, L, nil, name})
		}
	case kernelOnly:
		return func(L *lua.LState) int {
			s := sessionOf(L)
			return fn(call{s, L, s.needCPU(L, name), name})
		}
	}
	return func(L *lua.LState) int {
		s := sessionOf(L)
		return fn(call{s, L, s.current(), name})
	}
}
