package luabind

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/xcall"
)

// maxCPUHPFails bounds the cpuhp_fail failures waiting for a bring-up: each
// is kept until a bring-up of its CPU takes it, so a loop calling
// cpuhp_fail would otherwise grow memory without end.
const maxCPUHPFails = 4096

// hotplugAPI: cpu_down/cpu_up (kernel), hook/cpuhp_fail/inject_csd (operator).
func (s *Session) hotplugAPI() map[string]lua.LGFunction {
	k := func() *xcall.Kernel { return s.K }
	// cpu_down(cpu) and cpu_up(cpu): a task that may sleep takes a CPU
	// number and gets the kernel's return value.
	upDown := func(name string, op func(k *xcall.Kernel, c *emu.Context, cpu int) int) lua.LGFunction {
		return func(L *lua.LState) int {
			c := s.needCPU(L, name)
			cpu := kernelCPU(L, 1, name)
			s.mightSleep(L, c, name)
			L.Push(lua.LNumber(op(s.K, c, cpu)))
			return 1
		}
	}
	return map[string]lua.LGFunction{
		"cpu_down": upDown("cpu_down", (*xcall.Kernel).CPUDown),
		"cpu_up":   upDown("cpu_up", (*xcall.Kernel).CPUUp),
		// hook(point, fn): run fn(cpu, point) as operator code, with the
		// world stopped, whenever a CPU reaches point; hook(point, nil)
		// removes it. hook() lists the points.
		"hook": func(L *lua.LState) int {
			if L.GetTop() == 0 {
				t := L.NewTable()
				for _, p := range xcall.Points {
					t.Append(lua.LString(p))
				}
				L.Push(t)
				return 1
			}
			point := checkString(L, 1, "hook")
			fn := optFunc(L, 2, "hook")
			var h xcall.Hook
			if fn != nil {
				h = func(cpu int, point string) error {
					s.inHook++
					defer func() { s.inHook-- }()
					_, err := s.callIn(nil, fn, 0, lua.LNumber(cpu), lua.LString(point))
					return err
				}
			}
			if !k().SetHook(point, h) {
				argError(L, 1, "hook", fmt.Sprintf("unknown point %q (hook() lists them; e.g. %s)", point, strings.Join(xcall.Points[:3], ", ")))
			}
			return 0
		},
		// cpuhp_fail(cpu, state [, errno]): the next bring-up of cpu fails
		// at state's startup callback with -errno (default ENOMEM).
		"cpuhp_fail": func(L *lua.LState) int {
			cpu := s.checkCPU(L, 1, "cpuhp_fail")
			state := checkString(L, 2, "cpuhp_fail")
			errno := optIntRange(L, 3, "cpuhp_fail", "errno", 1, maxErrno, xcall.ENOMEM)
			if n := k().PendingCPUHPFails(); n >= maxCPUHPFails {
				L.RaiseError("cpuhp_fail: too many failures waiting for a bring-up (limit %d)", maxCPUHPFails)
			}
			if !k().CPUHPFail(cpu, state, int(errno)) {
				argError(L, 2, "cpuhp_fail", fmt.Sprintf("no cpuhp state %q with a startup callback", state))
			}
			return 0
		},
		// inject_csd(cpu, fn [, info]): queue fn on cpu's call_single_queue
		// from "some other path" that does not check cpu_online.
		"inject_csd": func(L *lua.LState) int {
			cpu := s.checkCPU(L, 1, "inject_csd")
			fn := checkFunc(L, 2, "inject_csd")
			k().InjectCSD(cpu, s.funcOf(fn), infoOf(L.Get(3)))
			return 0
		},
	}
}
