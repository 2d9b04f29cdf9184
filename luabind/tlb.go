package luabind

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/xcall"
)

// The bindings of the x86 TLB flush path (xcall/tlb.go): switch_mm,
// switch_mm_irqs_off, enter_lazy_tlb and flush_tlb_mm_range (kernel
// code), mm_tlb_gen, mm_cpumask and cpu_tlbstate (anywhere). An mm is
// named by a string: the first use of a name creates it; "init_mm" is the
// kernel's own.

// mm reads an mm's name and returns its number.
func (x call) mm(n int) int {
	name := x.str(n)
	mm, err := x.k().MM(name)
	if err == xcall.ErrTLBArch {
		x.L.RaiseError("%s: %v", x.name, err)
	}
	if err != nil {
		x.argError(n, err.Error())
	}
	return mm
}

// inTask raises unless the code runs in a task: the scheduler switches
// mms, never an interrupt handler.
func (x call) inTask() {
	if !x.k().InTask(x.c) {
		x.L.RaiseError("%s: must be called from a task (the scheduler switches mms in task context)", x.name)
	}
}

func luaSwitchMM(x call) int {
	mm := x.mm(1)
	x.inTask()
	x.k().SwitchMM(x.c, mm)
	return 0
}

func luaSwitchMMIrqsOff(x call) int {
	mm := x.mm(1)
	x.inTask()
	if !x.k().IRQsDisabled(x.c) {
		x.L.RaiseError("%s: interrupts must be off (use switch_mm, or local_irq_disable first)", x.name)
	}
	x.k().SwitchMMIrqsOff(x.c, mm)
	return 0
}

func luaEnterLazyTLB(x call) int {
	if !x.k().Spec.IsX86() {
		x.L.RaiseError("%s: %v", x.name, xcall.ErrTLBArch)
	}
	x.inTask()
	x.k().EnterLazyTLB(x.c)
	return 0
}

func luaFlushTLBMMRange(x call) int {
	mm := x.mm(1)
	xcall.Enter(x.c, xcall.FrameOnEachCPUCondMask)
	x.k().FlushTLBMMRange(x.c, mm)
	xcall.Leave(x.c)
	return 0
}

func luaMMTLBGen(x call) int { return x.push(lua.LNumber(x.k().MMTLBGen(x.mm(1)))) }

func luaMMCpumask(x call) int { return x.pushMask(x.k().MMCpumask(x.mm(1))) }

func luaCPUTLBState(x call) int {
	cpu := x.opCPU(1)
	k := x.k()
	if !k.Spec.IsX86() {
		x.L.RaiseError("%s: %v", x.name, xcall.ErrTLBArch)
	}
	loaded, lazy, gen := k.CPUTLBState(cpu)
	t := x.L.NewTable()
	t.RawSetString("loaded_mm", lua.LString(k.MMName(loaded)))
	t.RawSetString("is_lazy", lua.LBool(lazy))
	t.RawSetString("tlb_gen", lua.LNumber(gen))
	return x.push(t)
}
