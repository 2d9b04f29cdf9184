package luabind

// The kernel functions of the Lua API (bindings in api.go): names, arguments
// and return values are the kernel's
// (docs/api.md#kernel-functions-in-tasks-and-cross-called-functions).

import (
	"fmt"
	"math"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/xcall"
)

func luaSmpProcessorID(x call) int { return x.pushInt(x.c.CPU) }

func luaNumOnlineCPUs(x call) int { return x.pushInt(x.k().NumOnline()) }

func luaCPUOnline(x call) int { return x.push(lua.LBool(x.k().Online(x.cpu(1)))) }

func luaCPUToNode(x call) int {
	cpu := x.cpu(1)
	if cpu < 0 || cpu >= x.k().NrCPUIDs() {
		return x.push(lua.LNumber(-1)) // NUMA_NO_NODE
	}
	return x.pushInt(x.k().Node(cpu))
}

func luaCPUOnlineMask(x call) int { return x.pushMask(x.k().OnlineMask()) }

func luaCPUPossibleMask(x call) int {
	nr := x.k().NrCPUIDs()
	m := xcall.NewCpumask(nr)
	for c := 0; c < nr; c++ {
		m.Set(c)
	}
	return x.pushMask(m)
}

func luaCPUMaskOf(x call) int { return x.pushMask(xcall.MaskOf(x.k().NrCPUIDs(), x.cpu(1))) }

func luaCPUMask(x call) int { return x.pushMask(x.mask(1).Copy()) }

func luaLocalIRQDisable(x call) int {
	x.k().LocalIRQSave(x.c)
	return 0
}

func luaLocalIRQEnable(x call) int {
	x.k().LocalIRQRestore(x.c, false)
	return 0
}

func luaLocalIRQSave(x call) int {
	return x.push(lua.LNumber(x.k().IRQFlags(x.k().LocalIRQSave(x.c))))
}

func luaLocalIRQRestore(x call) int {
	flags := x.intRange(1, "flags", 0, maxFlags)
	x.k().LocalIRQRestore(x.c, flags != x.k().IRQFlags(false))
	return 0
}

func luaIRQsDisabled(x call) int { return x.push(lua.LBool(x.k().IRQsDisabled(x.c))) }

func luaInTask(x call) int { return x.push(lua.LBool(x.k().InTask(x.c))) }

func luaInHardirq(x call) int { return x.push(lua.LBool(x.k().InHardirq(x.c))) }

func luaPreemptDisable(x call) int {
	x.k().PreemptDisable(x.c)
	return 0
}

func luaPreemptEnable(x call) int {
	x.k().PreemptEnable(x.c)
	return 0
}

func luaGetCPU(x call) int {
	x.k().PreemptDisable(x.c)
	return x.pushInt(x.c.CPU)
}

func luaPutCPU(x call) int {
	x.k().PreemptEnable(x.c)
	return 0
}

// delay builds ndelay/udelay/mdelay: a busy wait on this CPU, of n units
// of unit ns.
func delay(unitName string, unit int64) func(x call) int {
	return func(x call) int {
		d := x.duration(1, unitName, unit)
		xcall.Enter(x.c, x.k().DelayFrame())
		x.c.Delay(d, "busy-waits in "+x.name)
		xcall.Leave(x.c)
		return 0
	}
}

func luaMsleep(x call) int {
	d := x.duration(1, "ms", 1e6)
	x.mightSleep()
	if d > 0 {
		x.c.Sleep(d, "sleeps in msleep")
	}
	return 0
}

func luaPrintk(x call) int {
	L := x.L
	n := L.GetTop()
	L.Push(x.s.sformat)
	for i := 1; i <= n; i++ {
		L.Push(L.Get(i))
	}
	L.Call(n, 1)
	text := L.ToStringMeta(L.Get(-1)).String()
	L.Pop(1)
	cpu := 0
	if x.c != nil {
		cpu = x.c.CPU
	}
	x.k().M.Printk(cpu, text)
	return 0
}

// The cross-call entry points push the frame a stack dump shows while they
// wait (xcall/frames.go).

func luaSmpCallFunctionSingle(x call) int {
	cpu, fn, wait := x.cpu(1), x.fn(2), x.wait(4)
	xcall.Enter(x.c, xcall.FrameSmpCallFunctionSingle)
	ret := x.k().SmpCallFunctionSingle(x.c, cpu, x.s.funcOf(fn), x.info(3), wait)
	xcall.Leave(x.c)
	return x.push(lua.LNumber(ret))
}

func luaSmpCallFunctionMany(x call) int {
	mask, fn, wait := x.mask(1), x.fn(2), x.wait(4)
	xcall.Enter(x.c, xcall.FrameSmpCallFunctionManyCond)
	x.k().SmpCallFunctionMany(x.c, mask, x.s.funcOf(fn), x.info(3), wait)
	xcall.Leave(x.c)
	return 0
}

func luaSmpCallFunction(x call) int {
	fn, wait := x.fn(1), x.wait(3)
	xcall.Enter(x.c, xcall.FrameSmpCallFunction)
	x.k().SmpCallFunction(x.c, x.s.funcOf(fn), x.info(2), wait)
	xcall.Leave(x.c)
	return 0
}

func luaCSDInit(x call) int {
	fn := x.fn(1)
	csd := x.k().NewCSD(x.s.funcOf(fn), x.info(2))
	L := x.L
	ud := L.NewUserData()
	ud.Value = csd
	L.SetMetatable(ud, L.GetTypeMetatable("csd"))
	L.Push(ud)
	return 1
}

func luaCSDLockIsStuck(x call) int { return x.push(lua.LBool(x.k().CSDLockIsStuck())) }

func luaSmpCallFunctionSingleAsync(x call) int {
	cpu, csd := x.cpu(1), x.csd(2)
	xcall.Enter(x.c, xcall.FrameSmpCallFunctionSingleAsync)
	ret := x.k().SmpCallFunctionSingleAsync(x.c, cpu, csd)
	xcall.Leave(x.c)
	return x.push(lua.LNumber(ret))
}

func luaSmpCallFunctionAny(x call) int {
	mask, fn, wait := x.mask(1), x.fn(2), x.wait(4)
	xcall.Enter(x.c, xcall.FrameSmpCallFunctionAny)
	ret := x.k().SmpCallFunctionAny(x.c, mask, x.s.funcOf(fn), x.info(3), wait)
	xcall.Leave(x.c)
	return x.push(lua.LNumber(ret))
}

// onEachCPUCondMask is the on_each_cpu family: on_each_cpu_cond_mask with
// what each leaves out filled in.
func onEachCPUCondMask(x call, cond *lua.LFunction, fn *lua.LFunction, info any, wait bool, mask xcall.Cpumask) int {
	xcall.Enter(x.c, xcall.FrameOnEachCPUCondMask)
	x.k().OnEachCPUCondMask(x.c, x.s.condOf(cond), x.s.funcOf(fn), info, wait, mask)
	xcall.Leave(x.c)
	return 0
}

func luaOnEachCPU(x call) int {
	fn, wait := x.fn(1), x.wait(3)
	return onEachCPUCondMask(x, nil, fn, x.info(2), wait, x.k().OnlineMask())
}

func luaOnEachCPUMask(x call) int {
	mask, fn, wait := x.mask(1), x.fn(2), x.wait(4)
	return onEachCPUCondMask(x, nil, fn, x.info(3), wait, mask)
}

func luaOnEachCPUCond(x call) int {
	cond, fn, wait := x.fn(1), x.fn(2), x.wait(4)
	return onEachCPUCondMask(x, cond, fn, x.info(3), wait, x.k().OnlineMask())
}

func luaOnEachCPUCondMask(x call) int {
	cond, fn, wait, mask := x.fn(1), x.fn(2), x.wait(4), x.mask(5)
	return onEachCPUCondMask(x, cond, fn, x.info(3), wait, mask)
}

func luaCPUsPeekForPendingIPI(x call) int {
	return x.push(lua.LBool(x.k().CPUsPeekForPendingIPI(x.mask(1))))
}

func luaWakeUpAllIdleCPUs(x call) int {
	xcall.Enter(x.c, xcall.FrameWakeUpAllIdleCPUs)
	x.k().WakeUpAllIdleCPUs(x.c)
	xcall.Leave(x.c)
	return 0
}

func luaKickAllCPUsSync(x call) int {
	xcall.Enter(x.c, xcall.FrameKickAllCPUsSync)
	x.k().KickAllCPUsSync(x.c)
	xcall.Leave(x.c)
	return 0
}

func luaSmpCallOnCPU(x call) int {
	cpu, fn := x.cpu(1), x.fn(2)
	par := x.L.Get(3)
	if x.L.Get(4) != lua.LNil {
		x.bool(4, "phys") // no vCPUs here: any value works the same
	}
	x.mightSleep()
	s := x.s
	f := s.funcOf(fn)
	xcall.Enter(x.c, xcall.FrameSmpCallOnCPU)
	ret := x.k().SmpCallOnCPU(x.c, cpu, func(w *emu.Context) (int, error) {
		out, err := s.callIn(w, fn, 1, par)
		if err != nil {
			return 0, err
		}
		return intResult(fn, "smp_call_on_cpu", out[0])
	}, f.Sym())
	xcall.Leave(x.c)
	return x.push(lua.LNumber(ret))
}

func luaSmpXcall(x call) int {
	cpu, fn, flags := x.cpu(1), x.fn(2), x.xcallFlags(4)
	xcall.Enter(x.c, xcall.FrameSmpXcall)
	ret := x.k().SmpXcallCond(x.c, cpu, x.s.funcOf(fn), x.info(3), nil, flags)
	xcall.Leave(x.c)
	return x.push(lua.LNumber(ret))
}

func luaSmpXcallCond(x call) int {
	cpu, fn, cond, flags := x.cpu(1), x.fn(2), x.optFn(4), x.xcallFlags(5)
	xcall.Enter(x.c, xcall.FrameSmpXcallCond)
	ret := x.k().SmpXcallCond(x.c, cpu, x.s.funcOf(fn), x.info(3), x.s.condOf(cond), flags)
	xcall.Leave(x.c)
	return x.push(lua.LNumber(ret))
}

func luaSmpXcallMask(x call) int {
	mask, fn, flags := x.mask(1), x.fn(2), x.xcallFlags(4)
	xcall.Enter(x.c, xcall.FrameSmpXcallMask)
	x.k().SmpXcallMaskCond(x.c, mask, x.s.funcOf(fn), x.info(3), nil, flags)
	xcall.Leave(x.c)
	return 0
}

func luaSmpXcallMaskCond(x call) int {
	mask, fn, cond, flags := x.mask(1), x.fn(2), x.optFn(4), x.xcallFlags(5)
	xcall.Enter(x.c, xcall.FrameSmpXcallMaskCond)
	x.k().SmpXcallMaskCond(x.c, mask, x.s.funcOf(fn), x.info(3), x.s.condOf(cond), flags)
	xcall.Leave(x.c)
	return 0
}

func luaSmpXcallPrivate(x call) int {
	cpu := x.cpu(1)
	var csd *xcall.CSD
	if x.L.Get(2) != lua.LNil {
		csd = x.csd(2)
	}
	flags := x.xcallFlags(3)
	xcall.Enter(x.c, xcall.FrameSmpXcallPrivate)
	ret := x.k().SmpXcallPrivate(x.c, cpu, csd, flags)
	xcall.Leave(x.c)
	return x.push(lua.LNumber(ret))
}

func luaSmpXcallAny(x call) int {
	mask, fn, flags := x.mask(1), x.fn(2), x.xcallFlags(4)
	xcall.Enter(x.c, xcall.FrameSmpXcallAny)
	ret := x.k().SmpXcallAny(x.c, mask, x.s.funcOf(fn), x.info(3), flags)
	xcall.Leave(x.c)
	return x.push(lua.LNumber(ret))
}

// intResult is the int a Lua function returned to the kernel: a number
// that is not an int (1.5, 2^40, NaN) fails the run, naming where the
// function is defined; any other value counts as 0.
func intResult(fn *lua.LFunction, fname string, v lua.LValue) (int, error) {
	n, ok := v.(lua.LNumber)
	if !ok {
		return 0, nil
	}
	f := float64(n)
	if i, ok := intIn(f, math.MinInt32, math.MaxInt32); ok && isInteger(f) {
		return int(i), nil
	}
	where := ""
	if fn.Proto != nil {
		where = fmt.Sprintf("%s:%d: ", fn.Proto.SourceName, fn.Proto.LineDefined)
	}
	return 0, &ScriptError{Msg: fmt.Sprintf("%s%s: func returned %s, not an int (%d-%d)", where, fname, numText(f), math.MinInt32, math.MaxInt32)}
}
