package luabind

import (
	"fmt"
	"math"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/xcall"
)

// kernelAPI returns the kernel functions: names, arguments and return
// values are the kernel's (docs/api.md#kernel-functions-in-tasks-and-cross-called-functions).
func (s *Session) kernelAPI() map[string]lua.LGFunction {
	k := func() *xcall.Kernel { return s.K }
	return map[string]lua.LGFunction{
		"smp_processor_id": func(L *lua.LState) int {
			c := s.needCPU(L, "smp_processor_id")
			L.Push(lua.LNumber(c.CPU))
			return 1
		},
		"num_online_cpus": func(L *lua.LState) int {
			L.Push(lua.LNumber(k().NumOnline()))
			return 1
		},
		"cpu_online": func(L *lua.LState) int {
			L.Push(lua.LBool(k().Online(kernelCPU(L, 1, "cpu_online"))))
			return 1
		},
		"cpu_to_node": func(L *lua.LState) int {
			cpu := kernelCPU(L, 1, "cpu_to_node")
			if cpu < 0 || cpu >= k().NrCPUIDs() {
				L.Push(lua.LNumber(-1)) // NUMA_NO_NODE
				return 1
			}
			L.Push(lua.LNumber(k().Node(cpu)))
			return 1
		},
		"cpu_online_mask": func(L *lua.LState) int {
			s.pushMask(L, k().OnlineMask())
			return 1
		},
		"cpu_possible_mask": func(L *lua.LState) int {
			m := xcall.NewCpumask(k().NrCPUIDs())
			for c := 0; c < k().NrCPUIDs(); c++ {
				m.Set(c)
			}
			s.pushMask(L, m)
			return 1
		},
		"cpumask_of": func(L *lua.LState) int {
			s.pushMask(L, xcall.MaskOf(k().NrCPUIDs(), kernelCPU(L, 1, "cpumask_of")))
			return 1
		},
		"cpumask": func(L *lua.LState) int {
			s.pushMask(L, s.checkMask(L, 1, "cpumask").Copy())
			return 1
		},
		"local_irq_disable": func(L *lua.LState) int {
			c := s.needCPU(L, "local_irq_disable")
			k().LocalIRQSave(c)
			return 0
		},
		"local_irq_enable": func(L *lua.LState) int {
			c := s.needCPU(L, "local_irq_enable")
			k().LocalIRQRestore(c, false)
			return 0
		},
		"local_irq_save": func(L *lua.LState) int {
			c := s.needCPU(L, "local_irq_save")
			L.Push(lua.LNumber(s.irqFlags(k().LocalIRQSave(c))))
			return 1
		},
		"local_irq_restore": func(L *lua.LState) int {
			c := s.needCPU(L, "local_irq_restore")
			flags := checkIntRange(L, 1, "local_irq_restore", "flags", 0, maxFlags)
			k().LocalIRQRestore(c, flags != s.irqFlags(false))
			return 0
		},
		"irqs_disabled": func(L *lua.LState) int {
			c := s.needCPU(L, "irqs_disabled")
			L.Push(lua.LBool(k().IRQsDisabled(c)))
			return 1
		},
		"in_task": func(L *lua.LState) int {
			c := s.needCPU(L, "in_task")
			L.Push(lua.LBool(k().InTask(c)))
			return 1
		},
		"in_hardirq": func(L *lua.LState) int {
			c := s.needCPU(L, "in_hardirq")
			L.Push(lua.LBool(!k().InTask(c)))
			return 1
		},
		"preempt_disable": func(L *lua.LState) int {
			k().PreemptDisable(s.needCPU(L, "preempt_disable"))
			return 0
		},
		"preempt_enable": func(L *lua.LState) int {
			k().PreemptEnable(s.needCPU(L, "preempt_enable"))
			return 0
		},
		"get_cpu": func(L *lua.LState) int {
			c := s.needCPU(L, "get_cpu")
			k().PreemptDisable(c)
			L.Push(lua.LNumber(c.CPU))
			return 1
		},
		"put_cpu": func(L *lua.LState) int {
			k().PreemptEnable(s.needCPU(L, "put_cpu"))
			return 0
		},
		"ndelay": s.delay("ndelay", "ns", 1),
		"udelay": s.delay("udelay", "us", 1e3),
		"mdelay": s.delay("mdelay", "ms", 1e6),
		"msleep": func(L *lua.LState) int {
			c := s.needCPU(L, "msleep")
			d := checkDuration(L, 1, "msleep", "ms", 1e6)
			s.mightSleep(L, c, "msleep")
			if d > 0 {
				c.Sleep(d, "sleeps in msleep")
			}
			return 0
		},
		"printk": func(L *lua.LState) int {
			n := L.GetTop()
			L.Push(s.sformat)
			for i := 1; i <= n; i++ {
				L.Push(L.Get(i))
			}
			L.Call(n, 1)
			text := L.ToStringMeta(L.Get(-1)).String()
			L.Pop(1)
			cpu := 0
			if c := s.current(); c != nil {
				cpu = c.CPU
			}
			k().M.Printk(cpu, text)
			return 0
		},
		"smp_call_function_single": func(L *lua.LState) int {
			c := s.needCPU(L, "smp_call_function_single")
			cpu := kernelCPU(L, 1, "smp_call_function_single")
			fn := checkFunc(L, 2, "smp_call_function_single")
			wait := checkWait(L, 4, "smp_call_function_single")
			xcall.Enter(c, "smp_call_function_single+0x118/0x1a0")
			ret := k().SmpCallFunctionSingle(c, cpu, s.funcOf(fn), infoOf(L.Get(3)), wait)
			xcall.Leave(c)
			L.Push(lua.LNumber(ret))
			return 1
		},
		"smp_call_function_many": func(L *lua.LState) int {
			c := s.needCPU(L, "smp_call_function_many")
			mask := s.checkMask(L, 1, "smp_call_function_many")
			fn := checkFunc(L, 2, "smp_call_function_many")
			wait := checkWait(L, 4, "smp_call_function_many")
			xcall.Enter(c, "smp_call_function_many_cond+0x35c/0x4e0")
			k().SmpCallFunctionMany(c, mask, s.funcOf(fn), infoOf(L.Get(3)), wait)
			xcall.Leave(c)
			return 0
		},
		"smp_call_function": func(L *lua.LState) int {
			c := s.needCPU(L, "smp_call_function")
			fn := checkFunc(L, 1, "smp_call_function")
			wait := checkWait(L, 3, "smp_call_function")
			xcall.Enter(c, "smp_call_function+0x3c/0x60")
			k().SmpCallFunction(c, s.funcOf(fn), infoOf(L.Get(2)), wait)
			xcall.Leave(c)
			return 0
		},
	}
}

// irqFlags is what local_irq_save returns: x86 EFLAGS (IF = 0x200) or
// arm64 DAIF (I = 0x80).
func (s *Session) irqFlags(wasOff bool) int64 {
	if s.spec.IsX86() {
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

// delay builds ndelay/udelay/mdelay: a busy wait on this CPU.
func (s *Session) delay(name, unitName string, mult int64) lua.LGFunction {
	return func(L *lua.LState) int {
		c := s.needCPU(L, name)
		d := checkDuration(L, 1, name, unitName, mult)
		frame := "delay_tsc+0x38/0xb0"
		if !s.spec.IsX86() {
			frame = "__delay+0x4c/0x70"
		}
		xcall.Enter(c, frame)
		c.Delay(d, "busy-waits in "+name)
		xcall.Leave(c)
		return 0
	}
}

// kernelAPI2 holds the rest of kernel/smp.c and the smp_xcall family.
func (s *Session) kernelAPI2() map[string]lua.LGFunction {
	k := func() *xcall.Kernel { return s.K }
	// call wraps a kernel entry point with its frame for stack dumps.
	call := func(c *emu.Context, frame string, fn func()) {
		xcall.Enter(c, frame)
		fn()
		xcall.Leave(c)
	}
	// flagsArg: a csd's flags hold the XCALL_TYPE_* in their low byte.
	flagsArg := func(L *lua.LState, n int, fname string) uint32 {
		return uint32(checkIntRange(L, n, fname, "flags", 0, 0xff))
	}
	return map[string]lua.LGFunction{
		"csd_init": func(L *lua.LState) int {
			fn := checkFunc(L, 1, "csd_init")
			csd := k().NewCSD(s.funcOf(fn), infoOf(L.Get(2)))
			ud := L.NewUserData()
			ud.Value = csd
			L.SetMetatable(ud, L.GetTypeMetatable("csd"))
			L.Push(ud)
			return 1
		},
		"csd_lock_is_stuck": func(L *lua.LState) int {
			L.Push(lua.LBool(k().CSDLockIsStuck()))
			return 1
		},
		"smp_call_function_single_async": func(L *lua.LState) int {
			c := s.needCPU(L, "smp_call_function_single_async")
			cpu := kernelCPU(L, 1, "smp_call_function_single_async")
			csd := checkCSD(L, 2, "smp_call_function_single_async")
			var ret int
			call(c, "smp_call_function_single_async+0x70/0x90", func() { ret = k().SmpCallFunctionSingleAsync(c, cpu, csd) })
			L.Push(lua.LNumber(ret))
			return 1
		},
		"smp_call_function_any": func(L *lua.LState) int {
			c := s.needCPU(L, "smp_call_function_any")
			mask := s.checkMask(L, 1, "smp_call_function_any")
			fn := checkFunc(L, 2, "smp_call_function_any")
			wait := checkWait(L, 4, "smp_call_function_any")
			var ret int
			call(c, "smp_call_function_any+0x5e/0xa0", func() { ret = k().SmpCallFunctionAny(c, mask, s.funcOf(fn), infoOf(L.Get(3)), wait) })
			L.Push(lua.LNumber(ret))
			return 1
		},
		"on_each_cpu": func(L *lua.LState) int {
			c := s.needCPU(L, "on_each_cpu")
			fn := checkFunc(L, 1, "on_each_cpu")
			wait := checkWait(L, 3, "on_each_cpu")
			call(c, "on_each_cpu_cond_mask+0x24/0x40", func() {
				k().OnEachCPUCondMask(c, nil, s.funcOf(fn), infoOf(L.Get(2)), wait, k().OnlineMask())
			})
			return 0
		},
		"on_each_cpu_mask": func(L *lua.LState) int {
			c := s.needCPU(L, "on_each_cpu_mask")
			mask := s.checkMask(L, 1, "on_each_cpu_mask")
			fn := checkFunc(L, 2, "on_each_cpu_mask")
			wait := checkWait(L, 4, "on_each_cpu_mask")
			call(c, "on_each_cpu_cond_mask+0x24/0x40", func() {
				k().OnEachCPUCondMask(c, nil, s.funcOf(fn), infoOf(L.Get(3)), wait, mask)
			})
			return 0
		},
		"on_each_cpu_cond": func(L *lua.LState) int {
			c := s.needCPU(L, "on_each_cpu_cond")
			cond := checkFunc(L, 1, "on_each_cpu_cond")
			fn := checkFunc(L, 2, "on_each_cpu_cond")
			wait := checkWait(L, 4, "on_each_cpu_cond")
			call(c, "on_each_cpu_cond_mask+0x24/0x40", func() {
				k().OnEachCPUCondMask(c, s.condOf(cond), s.funcOf(fn), infoOf(L.Get(3)), wait, k().OnlineMask())
			})
			return 0
		},
		"on_each_cpu_cond_mask": func(L *lua.LState) int {
			c := s.needCPU(L, "on_each_cpu_cond_mask")
			cond := checkFunc(L, 1, "on_each_cpu_cond_mask")
			fn := checkFunc(L, 2, "on_each_cpu_cond_mask")
			wait := checkWait(L, 4, "on_each_cpu_cond_mask")
			mask := s.checkMask(L, 5, "on_each_cpu_cond_mask")
			call(c, "on_each_cpu_cond_mask+0x24/0x40", func() {
				k().OnEachCPUCondMask(c, s.condOf(cond), s.funcOf(fn), infoOf(L.Get(3)), wait, mask)
			})
			return 0
		},
		"cpus_peek_for_pending_ipi": func(L *lua.LState) int {
			L.Push(lua.LBool(k().CPUsPeekForPendingIPI(s.checkMask(L, 1, "cpus_peek_for_pending_ipi"))))
			return 1
		},
		"wake_up_all_idle_cpus": func(L *lua.LState) int {
			c := s.needCPU(L, "wake_up_all_idle_cpus")
			call(c, "wake_up_all_idle_cpus+0x4a/0x90", func() { k().WakeUpAllIdleCPUs(c) })
			return 0
		},
		"kick_all_cpus_sync": func(L *lua.LState) int {
			c := s.needCPU(L, "kick_all_cpus_sync")
			call(c, "kick_all_cpus_sync+0x1f/0x30", func() { k().KickAllCPUsSync(c) })
			return 0
		},
		"smp_call_on_cpu": func(L *lua.LState) int {
			c := s.needCPU(L, "smp_call_on_cpu")
			cpu := kernelCPU(L, 1, "smp_call_on_cpu")
			fn := checkFunc(L, 2, "smp_call_on_cpu")
			par := L.Get(3)
			if L.Get(4) != lua.LNil {
				checkBool(L, 4, "smp_call_on_cpu", "phys") // no vCPUs here: any value works the same
			}
			s.mightSleep(L, c, "smp_call_on_cpu")
			f := s.funcOf(fn)
			var ret int
			call(c, "smp_call_on_cpu+0xa8/0x110", func() {
				ret = k().SmpCallOnCPU(c, cpu, func(w *emu.Context) (int, error) {
					out, err := s.callIn(w, fn, 1, par)
					if err != nil {
						return 0, err
					}
					return intResult(fn, "smp_call_on_cpu", out[0])
				}, f.Sym())
			})
			L.Push(lua.LNumber(ret))
			return 1
		},
		"smp_xcall": func(L *lua.LState) int {
			c := s.needCPU(L, "smp_xcall")
			cpu := kernelCPU(L, 1, "smp_xcall")
			fn := checkFunc(L, 2, "smp_xcall")
			flags := flagsArg(L, 4, "smp_xcall")
			var ret int
			call(c, "smp_xcall+0x1c/0x30", func() { ret = k().SmpXcallCond(c, cpu, s.funcOf(fn), infoOf(L.Get(3)), nil, flags) })
			L.Push(lua.LNumber(ret))
			return 1
		},
		"smp_xcall_cond": func(L *lua.LState) int {
			c := s.needCPU(L, "smp_xcall_cond")
			cpu := kernelCPU(L, 1, "smp_xcall_cond")
			fn := checkFunc(L, 2, "smp_xcall_cond")
			cond := optFunc(L, 4, "smp_xcall_cond")
			flags := flagsArg(L, 5, "smp_xcall_cond")
			var ret int
			call(c, "smp_xcall_cond+0x68/0xc0", func() {
				ret = k().SmpXcallCond(c, cpu, s.funcOf(fn), infoOf(L.Get(3)), s.condOf(cond), flags)
			})
			L.Push(lua.LNumber(ret))
			return 1
		},
		"smp_xcall_mask": func(L *lua.LState) int {
			c := s.needCPU(L, "smp_xcall_mask")
			mask := s.checkMask(L, 1, "smp_xcall_mask")
			fn := checkFunc(L, 2, "smp_xcall_mask")
			flags := flagsArg(L, 4, "smp_xcall_mask")
			call(c, "smp_xcall_mask+0x34/0x50", func() { k().SmpXcallMaskCond(c, mask, s.funcOf(fn), infoOf(L.Get(3)), nil, flags) })
			return 0
		},
		"smp_xcall_mask_cond": func(L *lua.LState) int {
			c := s.needCPU(L, "smp_xcall_mask_cond")
			mask := s.checkMask(L, 1, "smp_xcall_mask_cond")
			fn := checkFunc(L, 2, "smp_xcall_mask_cond")
			cond := optFunc(L, 4, "smp_xcall_mask_cond")
			flags := flagsArg(L, 5, "smp_xcall_mask_cond")
			call(c, "smp_xcall_mask_cond+0x34/0x50", func() {
				k().SmpXcallMaskCond(c, mask, s.funcOf(fn), infoOf(L.Get(3)), s.condOf(cond), flags)
			})
			return 0
		},
		"smp_xcall_private": func(L *lua.LState) int {
			c := s.needCPU(L, "smp_xcall_private")
			cpu := kernelCPU(L, 1, "smp_xcall_private")
			var csd *xcall.CSD
			if L.Get(2) != lua.LNil {
				csd = checkCSD(L, 2, "smp_xcall_private")
			}
			flags := flagsArg(L, 3, "smp_xcall_private")
			var ret int
			call(c, "smp_xcall_private+0xd0/0x140", func() { ret = k().SmpXcallPrivate(c, cpu, csd, flags) })
			L.Push(lua.LNumber(ret))
			return 1
		},
		"smp_xcall_any": func(L *lua.LState) int {
			c := s.needCPU(L, "smp_xcall_any")
			mask := s.checkMask(L, 1, "smp_xcall_any")
			fn := checkFunc(L, 2, "smp_xcall_any")
			flags := flagsArg(L, 4, "smp_xcall_any")
			var ret int
			call(c, "smp_xcall_any+0x60/0xb0", func() { ret = k().SmpXcallAny(c, mask, s.funcOf(fn), infoOf(L.Get(3)), flags) })
			L.Push(lua.LNumber(ret))
			return 1
		},
	}
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
