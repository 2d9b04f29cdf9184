package luabind

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/xcall"
)

// argError raises "bad argument #n to 'fname' (msg)" at the caller's line.
func argError(L *lua.LState, n int, fname, msg string) {
	L.RaiseError("bad argument #%d to '%s' (%s)", n, fname, msg)
}

func typeName(v lua.LValue) string {
	if v == lua.LNil {
		return "no value"
	}
	return v.Type().String()
}

// checkInt reads argument n as an integer.
func checkInt(L *lua.LState, n int, fname string) int64 {
	v := L.Get(n)
	num, ok := v.(lua.LNumber)
	if !ok {
		argError(L, n, fname, "number expected, got "+typeName(v))
	}
	f := float64(num)
	if f != float64(int64(f)) {
		argError(L, n, fname, "number has no integer representation")
	}
	return int64(f)
}

// optInt reads argument n as an integer, def when absent or nil.
func optInt(L *lua.LState, n int, fname string, def int64) int64 {
	if L.Get(n) == lua.LNil {
		return def
	}
	return checkInt(L, n, fname)
}

// checkFunc reads argument n as a Lua function.
func checkFunc(L *lua.LState, n int, fname string) *lua.LFunction {
	v := L.Get(n)
	f, ok := v.(*lua.LFunction)
	if !ok {
		argError(L, n, fname, "function expected, got "+typeName(v))
	}
	return f
}

// optFunc reads argument n as a function or nil.
func optFunc(L *lua.LState, n int, fname string) *lua.LFunction {
	if L.Get(n) == lua.LNil {
		return nil
	}
	return checkFunc(L, n, fname)
}

// checkString reads argument n as a string.
func checkString(L *lua.LState, n int, fname string) string {
	v := L.Get(n)
	str, ok := v.(lua.LString)
	if !ok {
		argError(L, n, fname, "string expected, got "+typeName(v))
	}
	return string(str)
}

// checkWait reads a wait argument: a boolean or 0/1 (any number: nonzero).
func checkWait(L *lua.LState, n int, fname string) bool {
	switch v := L.Get(n).(type) {
	case lua.LBool:
		return bool(v)
	case lua.LNumber:
		return v != 0
	default:
		argError(L, n, fname, "boolean or number expected, got "+typeName(v))
	}
	return false
}

// checkCPU reads an operator's CPU argument: it must exist.
func (s *Session) checkCPU(L *lua.LState, n int, fname string) int {
	cpu := checkInt(L, n, fname)
	if nr := s.K.NrCPUIDs(); cpu < 0 || cpu >= int64(nr) {
		argError(L, n, fname, fmt.Sprintf("cpu %d out of range 0-%d", cpu, nr-1))
	}
	return int(cpu)
}

// kernelCPU reads a kernel function's CPU argument: any integer (the
// kernel answers a bad number with -ENXIO), only a wrong type is an error.
func kernelCPU(L *lua.LState, n int, fname string) int {
	cpu := checkInt(L, n, fname)
	if cpu < -1<<31 || cpu > 1<<31-1 {
		return -1 << 31 // still invalid, as an int would wrap to something invalid
	}
	return int(cpu)
}

// needCPU returns the running context, or raises: fname needs a CPU.
func (s *Session) needCPU(L *lua.LState, fname string) *emu.Context {
	c := s.current()
	if c == nil {
		L.RaiseError("%s: must be called from a task or a cross-called function (it needs a CPU; use spawn)", fname)
	}
	return c
}

// operator raises unless at top level.
func (s *Session) operator(L *lua.LState, fname string) {
	if s.current() != nil {
		L.RaiseError("%s: operator function, not available in kernel code (tasks and cross-called functions)", fname)
	}
}

// checkMask reads a cpumask argument: a cpumask, a CPU list string or an
// array of CPU numbers.
func (s *Session) checkMask(L *lua.LState, n int, fname string) xcall.Cpumask {
	nr := s.K.NrCPUIDs()
	switch v := L.Get(n).(type) {
	case *lua.LUserData:
		if m, ok := v.Value.(*maskValue); ok {
			return m.m
		}
	case lua.LString:
		m, err := xcall.ParseCpumask(nr, string(v))
		if err != nil {
			argError(L, n, fname, err.Error())
		}
		return m
	case *lua.LTable:
		m := xcall.NewCpumask(nr)
		bad := ""
		v.ForEach(func(_, e lua.LValue) {
			num, ok := e.(lua.LNumber)
			if !ok || float64(num) != float64(int64(num)) {
				bad = "array of CPU numbers expected, found " + typeName(e)
				return
			}
			if c := int(num); c >= 0 && c < nr {
				m.Set(c)
			}
		})
		if bad != "" {
			argError(L, n, fname, bad)
		}
		return m
	}
	argError(L, n, fname, "cpumask, string or array expected, got "+typeName(L.Get(n)))
	return xcall.Cpumask{}
}

// maskValue is the userdata behind cpumask values.
type maskValue struct{ m xcall.Cpumask }

// mightSleep is might_sleep() for the kernel functions that sleep (msleep,
// smp_call_on_cpu, cpu_down, cpu_up): in a handler, with interrupts or
// preemption disabled, the call is refused with the kernel's BUG text.
func (s *Session) mightSleep(L *lua.LState, c *emu.Context, fname string) {
	k := s.K
	if !k.InTask(c) || k.IRQsDisabled(c) || k.M.CPU(c.CPU).Preempt > 0 {
		L.RaiseError("%s: BUG: sleeping function called from invalid context (it sleeps: call it from a task with interrupts and preemption enabled)", fname)
	}
}
