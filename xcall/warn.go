package xcall

import (
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
)

// Where WARNs and BUGs point (kernel/smp.c line numbers of the mainline
// version the emulator follows; see docs/kernel.md#log-formats).
var (
	siteWarnSingleIRQs = warnSite{line: 660, at: site{"smp_call_function_single", 0x16c, 0x1a0}}
	siteWarnSingleTask = warnSite{line: 669, at: site{"smp_call_function_single", 0x178, 0x1a0}}
	siteWarnManyTask   = warnSite{line: 809, at: site{"smp_call_function_many_cond", 0x46c, 0x4e0}}
	siteWarnOffline    = warnSite{line: 502, at: site{"__flush_smp_call_function_queue", 0x2d8, 0x340}}
	siteWarnUnlock     = warnSite{line: 370, at: site{"csd_unlock", 0x48, 0x60}}
	siteWarnToolong    = warnSite{line: 271, at: site{"csd_lock_wait_toolong", 0x1b0, 0x3c0}}
	siteBugIPIStall    = warnSite{line: 289, at: site{"csd_lock_wait_toolong", 0x1e8, 0x3c0}}
	// Before 5a18ceca6350 (v5.3): WARN_ON_ONCE on a locked csd in _async.
	siteWarnAsyncLocked = warnSite{line: 342, at: site{"smp_call_function_single_async", 0x3f, 0x90}}
)

// warnSite is a WARN_ON/BUG_ON location in kernel/smp.c.
type warnSite struct {
	line int
	at   site
}

var warnSites = map[string]warnSite{
	"csd_unlock":                      siteWarnUnlock,
	"__flush_smp_call_function_queue": siteWarnOffline,
	"csd_lock_wait_toolong":           siteWarnToolong,
}

// Enter pushes a frame on c's stack (for dumps); Leave pops it.
func Enter(c *emu.Context, frame string) { c.Frames = append(c.Frames, frame) }

// Leave pops the innermost frame of c.
func Leave(c *emu.Context) {
	if n := len(c.Frames); n > 0 {
		c.Frames = c.Frames[:n-1]
	}
}

// warn is WARN(1, text): the banner, the text, the register/stack dump.
func (k *Kernel) warn(c *emu.Context, fn, text string) {
	ws, ok := warnSites[fn]
	if !ok {
		ws = warnSite{line: 1, at: site{fn, 0, 0x10}}
	}
	k.warnAt(c, ws, text)
}

// warnOnce is WARN_ON_ONCE / WARN_ONCE: only the first hit of key prints.
func (k *Kernel) warnOnce(c *emu.Context, key string, ws warnSite, text string) {
	if k.warned[key] {
		return
	}
	k.warned[key] = true
	k.warnAt(c, ws, text)
}

func (k *Kernel) warnAt(c *emu.Context, ws warnSite, text string) {
	k.warnBanner(c, c.CPU, "kernel/smp.c", ws.line, ws.at.String(), text)
}

// warnBanner prints what __warn() prints for a WARN at file:line in
// function at (%pS) on cpu, c's call trace (c may be nil: no context),
// and taints the kernel.
func (k *Kernel) warnBanner(c *emu.Context, cpu int, file string, line int, at, text string) {
	k.printk(cpu, "------------[ cut here ]------------")
	if text != "" {
		k.printk(cpu, text)
	}
	pid := 0
	if t := k.M.CPU(cpu).Task(); t != nil {
		pid = t.PID
	}
	k.printk(cpu, fmt.Sprintf("WARNING: CPU: %d PID: %d at %s:%d %s", cpu, pid, file, line, at))
	k.printk(cpu, "Modules linked in:"+k.Modules)
	k.printInfo(cpu)
	k.showRegs(cpu, c, at, k.M.CPU(cpu).IRQsOff)
	if c != nil {
		k.printCallTrace(cpu, c)
	} else if k.Spec.IsX86() {
		k.printk(cpu, "Call Trace:")
	} else {
		k.printk(cpu, "Call trace:")
	}
	k.printk(cpu, "---[ end trace 0000000000000000 ]---")
	k.Stats.Warnings++
	k.tainted = true
}

// dumpInfo is dump_stack_print_info(): "CPU: ... Comm: ... Not tainted ...".
func (k *Kernel) dumpInfo(cpu int) string {
	pid, comm := 0, fmt.Sprintf("swapper/%d", cpu)
	if t := k.M.CPU(cpu).Task(); t != nil {
		pid, comm = t.PID, t.Name
	}
	taint := "Not tainted"
	if k.tainted {
		taint = "Tainted: G        W"
	}
	return fmt.Sprintf("CPU: %d UID: 0 PID: %d Comm: %.20s %s 6.17.0-xcallsh #1 PREEMPT(voluntary)", cpu, pid, comm, taint)
}

// printInfo prints dump_stack_print_info(): the info line, the taint
// line when tainted, and the hardware name.
func (k *Kernel) printInfo(cpu int) {
	k.printk(cpu, k.dumpInfo(cpu))
	if k.tainted {
		k.printk(cpu, "Tainted: [W]=WARN")
	}
	k.printk(cpu, "Hardware name: xcallsh "+k.Spec.Name)
}

// dumpRegsAndStack prints what show_regs/dump_stack print: the info line,
// the hardware name, the registers show_regs prints (pc, and on arm64
// pstate, lr and sp; irqsOff: interrupts were disabled where c was
// stopped) and the call trace of c's CPU.
func (k *Kernel) dumpRegsAndStack(c *emu.Context, pc string, irqsOff bool) {
	cpu := c.CPU
	k.printInfo(cpu)
	if pc != "" {
		k.showRegs(cpu, c, pc, irqsOff)
	}
	k.printCallTrace(cpu, c)
}

// showRegs prints the registers the model has, as __show_regs() does: x86
// "RIP: 0010:%pS"; arm64 (arch/arm64/kernel/process.c) "pstate: %08llx
// (...)", "pc : %pS", "lr : %pS" and "sp : %016llx". The general registers
// are left out. arm64's pstate is EL1h with Z and C set and PAN on, the I
// bit as the interrupts were; lr is the frame below pc in c's stack (pc
// again if there is none); sp an illustrative address in the CPU's stack.
func (k *Kernel) showRegs(cpu int, c *emu.Context, pc string, irqsOff bool) {
	if k.Spec.IsX86() {
		k.printk(cpu, "RIP: 0010:"+pc)
		return
	}
	pstate, daif := uint64(0x60400005), "daif"
	if irqsOff {
		pstate, daif = pstate|0x80, "daIf"
	}
	k.printk(cpu, fmt.Sprintf("pstate: %08x (nZCv %s +PAN -UAO -TCO -DIT -SSBS BTYPE=--)", pstate, daif))
	k.printk(cpu, "pc : "+pc)
	lr := pc
	for ctx := c; ctx != nil; ctx = ctx.Parent() {
		f := ctx.Frames
		if ctx == c && len(f) > 0 && f[len(f)-1] == pc {
			f = f[:len(f)-1]
		}
		if len(f) > 0 {
			lr = f[len(f)-1]
			break
		}
	}
	k.printk(cpu, "lr : "+lr)
	k.printk(cpu, fmt.Sprintf("sp : %016x", uint64(0xffff800080003d50)+uint64(cpu)<<16))
}

// printCallTrace prints the contexts on cpu from innermost (c) outwards:
// x86's show_trace_log_lvl() "Call Trace:" with each context between
// <IRQ>/<NMI>/<TASK> markers; arm64's dump_backtrace() "Call trace:" and
// the frames alone (arch/arm64/kernel/stacktrace.c).
func (k *Kernel) printCallTrace(cpu int, c *emu.Context) {
	if !k.Spec.IsX86() {
		k.printk(cpu, "Call trace:")
		for ctx := c; ctx != nil; ctx = ctx.Parent() {
			for i := len(ctx.Frames) - 1; i >= 0; i-- {
				k.printk(cpu, " "+ctx.Frames[i])
			}
		}
		return
	}
	k.printk(cpu, "Call Trace:")
	for ctx := c; ctx != nil; ctx = ctx.Parent() {
		tag := "TASK"
		switch ctx.Kind {
		case emu.KindIRQ:
			tag = "IRQ"
		case emu.KindNMI:
			tag = "NMI"
		}
		k.printk(cpu, " <"+tag+">")
		for i := len(ctx.Frames) - 1; i >= 0; i-- {
			k.printk(cpu, " "+ctx.Frames[i])
		}
		k.printk(cpu, " </"+tag+">")
	}
}

// dumpStack is dump_stack() of the running context.
func (k *Kernel) dumpStack(c *emu.Context) {
	k.printInfo(c.CPU)
	k.printCallTrace(c.CPU, c)
}

// bug is BUG(): the oops report, then panic.
func (k *Kernel) bug(c *emu.Context, ws warnSite) {
	cpu := c.CPU
	line := fmt.Sprintf("kernel BUG at kernel/smp.c:%d!", ws.line)
	k.printk(cpu, "------------[ cut here ]------------")
	k.printk(cpu, line)
	if k.Spec.IsX86() {
		k.printk(cpu, "Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI")
	} else {
		k.printk(cpu, "Internal error: Oops - BUG: 00000000f2000800 [#1] PREEMPT SMP")
	}
	k.dumpRegsAndStack(c, ws.at.String(), k.M.CPU(cpu).IRQsOff)
	k.printk(cpu, "---[ end trace 0000000000000000 ]---")
	msg := "Fatal exception"
	if !k.Spec.IsX86() {
		msg = "Oops - BUG: Fatal exception"
	}
	k.Panic(c, msg, line)
}
