package luabind

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/xcall"
)

// The softirq bindings (xcall/softirq.go): open_softirq, softirq_pending
// (operator), raise_softirq, __raise_softirq_irqoff,
// local_softirq_pending, in_softirq (kernel code); and the idle quirk
// monitor_wakeup_broken (operator).

// softirqNr reads a softirq number argument.
func (x call) softirqNr(n int) int {
	return int(x.intRange(n, "softirq", 0, xcall.NrSoftirqs-1))
}

func luaOpenSoftirq(x call) int {
	nr, fn := x.softirqNr(1), x.optFn(2)
	var f *xcall.Func
	if fn != nil {
		f = x.s.funcOf(fn)
	}
	x.k().OpenSoftirq(nr, f)
	return 0
}

func luaSoftirqPending(x call) int {
	return x.push(lua.LNumber(x.k().SoftirqPending(x.opCPU(1))))
}

func luaRaiseSoftirq(x call) int {
	x.k().RaiseSoftirq(x.c, x.softirqNr(1))
	return 0
}

func luaRaiseSoftirqIrqoff(x call) int {
	x.k().RaiseSoftirqIrqoff(x.c, x.softirqNr(1))
	return 0
}

func luaLocalSoftirqPending(x call) int {
	return x.push(lua.LNumber(x.k().SoftirqPending(x.c.CPU)))
}

func luaInSoftirq(x call) int { return x.push(lua.LBool(x.k().InSoftirq(x.c))) }

func luaMonitorWakeupBroken(x call) int {
	cpu := x.opCPU(1)
	k := x.k()
	old := k.SetMonitorWakeupBroken(cpu, false)
	on := old
	if x.L.GetTop() >= 2 {
		on = x.bool(2, "on")
	}
	k.SetMonitorWakeupBroken(cpu, on)
	return x.push(lua.LBool(old))
}
