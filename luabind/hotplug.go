package luabind

// CPU hotplug in the Lua API (bindings in api.go): cpu_down and cpu_up for
// kernel code; hook, cpuhp_fail and inject_csd for the operator.

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

// upDown builds cpu_down(cpu) and cpu_up(cpu): a task that may sleep takes
// a CPU number and gets the kernel's return value.
func upDown(op func(k *xcall.Kernel, c *emu.Context, cpu int) int) func(x call) int {
	return func(x call) int {
		cpu := x.cpu(1)
		x.mightSleep()
		return x.push(lua.LNumber(op(x.k(), x.c, cpu)))
	}
}

// luaHook is hook(point, fn): run fn(cpu, point) as operator code, with
// the world stopped, whenever a CPU reaches point; hook(point, nil)
// removes it. hook() lists the points.
func luaHook(x call) int {
	L := x.L
	if L.GetTop() == 0 {
		t := L.NewTable()
		for _, p := range xcall.Points {
			t.Append(lua.LString(p))
		}
		return x.push(t)
	}
	point, fn := x.str(1), x.optFn(2)
	var h xcall.Hook
	if fn != nil {
		s := x.s
		h = func(cpu int, point string) error {
			s.inHook++
			defer func() { s.inHook-- }()
			_, err := s.callIn(nil, fn, 0, lua.LNumber(cpu), lua.LString(point))
			return err
		}
	}
	if !x.k().SetHook(point, h) {
		x.argError(1, fmt.Sprintf("unknown point %q (hook() lists them; e.g. %s)", point, strings.Join(xcall.Points[:3], ", ")))
	}
	return 0
}

// luaCPUHPFail is cpuhp_fail(cpu, state [, errno]): the next bring-up of
// cpu fails at state's startup callback with -errno (default ENOMEM).
func luaCPUHPFail(x call) int {
	cpu, state := x.opCPU(1), x.str(2)
	errno := x.optIntRange(3, "errno", 1, maxErrno, xcall.ENOMEM)
	if n := x.k().PendingCPUHPFails(); n >= maxCPUHPFails {
		x.L.RaiseError("cpuhp_fail: too many failures waiting for a bring-up (limit %d)", maxCPUHPFails)
	}
	if !x.k().CPUHPFail(cpu, state, int(errno)) {
		x.argError(2, fmt.Sprintf("no cpuhp state %q with a startup callback", state))
	}
	return 0
}

// luaInjectCSD is inject_csd(cpu, fn [, info]): queue fn on cpu's
// call_single_queue from "some other path" that does not check cpu_online.
func luaInjectCSD(x call) int {
	cpu, fn := x.opCPU(1), x.fn(2)
	x.k().InjectCSD(cpu, x.s.funcOf(fn), x.info(3))
	return 0
}
