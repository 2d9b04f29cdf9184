package luabind

import (
	"fmt"
	"math"

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

// Bounds on numbers a script gives, so that virtual times and counts stay
// far from int64 overflow whatever the script passes.
const (
	// maxDuration bounds every duration a script gives (run, the delays,
	// msleep, ipi_delay): a year of virtual time, in ns.
	maxDuration int64 = 365 * 24 * 3600 * 1e9
	// maxVirtualTime bounds the clock: run() does not go past a century of
	// virtual time, so that now plus any duration (a year at most) plus
	// any cost of the machine file (machines.MaxCost) fits in an int64
	// (292 years) many times over.
	maxVirtualTime int64 = 100 * maxDuration
	// maxCount bounds counts (ipi_drop's pending drops): the kernel's int.
	maxCount int64 = math.MaxInt32
	// maxErrno is the largest error number (the kernel's MAX_ERRNO).
	maxErrno int64 = 4095
	// maxFlags bounds local_irq_restore's flags: the EFLAGS or DAIF value
	// local_irq_save returns fits 32 bits.
	maxFlags int64 = math.MaxUint32
)

// checkArg reads argument n as a T, one of Lua's value types; what names
// the type in the error: bad argument #1 to 'mdelay' (number expected, got
// string).
func checkArg[T lua.LValue](L *lua.LState, n int, fname, what string) T {
	v := L.Get(n)
	t, ok := v.(T)
	if !ok {
		argError(L, n, fname, what+" expected, got "+typeName(v))
	}
	return t
}

// checkUserData reads argument n as a userdata holding a T (a task, a
// cpumask, a csd); what names it in the error.
func checkUserData[T any](L *lua.LState, n int, fname, what string) T {
	if ud, ok := L.Get(n).(*lua.LUserData); ok {
		if t, ok := ud.Value.(T); ok {
			return t
		}
	}
	argError(L, n, fname, what+" expected, got "+typeName(L.Get(n)))
	var zero T
	return zero
}

// checkNumber reads argument n as a number.
func checkNumber(L *lua.LState, n int, fname string) float64 {
	return float64(checkArg[lua.LNumber](L, n, fname, "number"))
}

// isInteger reports whether f is a whole number (not NaN, not ±inf).
func isInteger(f float64) bool {
	return !math.IsInf(f, 0) && f == math.Trunc(f)
}

// intIn converts f, an integer, to an int64 if it lies within lo..hi. The
// comparison is exact: floats at or beyond ±2^63 are out of any range
// (converting them to int64 would give an undefined value).
func intIn(f float64, lo, hi int64) (int64, bool) {
	if f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	v := int64(f)
	return v, v >= lo && v <= hi
}

// numText prints a number as Lua's tostring does (4611686018427387904,
// 9.223372036854776e+18, 1.5, nan).
func numText(f float64) string { return lua.LNumber(f).String() }

// checkIntRange reads argument n as an integer within lo..hi; what names
// it in the error: bad argument #2 to 'param' (csd_lock_timeout 5e+20 out
// of range 0-2147483647). NaN, ±inf and fractions have no integer
// representation.
func checkIntRange(L *lua.LState, n int, fname, what string, lo, hi int64) int64 {
	f := checkNumber(L, n, fname)
	if !isInteger(f) {
		argError(L, n, fname, "number has no integer representation")
	}
	v, ok := intIn(f, lo, hi)
	if !ok {
		argError(L, n, fname, fmt.Sprintf("%s %s out of range %d-%d", what, numText(f), lo, hi))
	}
	return v
}

// optIntRange is checkIntRange with def when the argument is absent or nil.
func optIntRange(L *lua.LState, n int, fname, what string, lo, hi, def int64) int64 {
	if L.Get(n) == lua.LNil {
		return def
	}
	return checkIntRange(L, n, fname, what, lo, hi)
}

// checkDuration reads a duration in units of unit ns (1 for ns, 1e6 for
// ms): 0 up to a year of virtual time. It returns the duration in ns.
func checkDuration(L *lua.LState, n int, fname, what string, unit int64) int64 {
	return checkIntRange(L, n, fname, what, 0, maxDuration/unit) * unit
}

// checkBool reads a C bool argument: a Lua boolean or the number 0 or 1.
func checkBool(L *lua.LState, n int, fname, what string) bool {
	switch v := L.Get(n).(type) {
	case lua.LBool:
		return bool(v)
	case lua.LNumber:
		return checkIntRange(L, n, fname, what, 0, 1) != 0
	default:
		argError(L, n, fname, "boolean or number expected, got "+typeName(v))
	}
	return false
}

// kernelCPU reads a kernel function's CPU argument: any integer (the
// kernel answers a bad number with -ENXIO), only a wrong type or a number
// with no integer representation (NaN, ±inf, 1.5) is an error. A number
// beyond the kernel's int (2^70, -2^63) stays out of range: it becomes
// the int bound of its sign, never a valid CPU.
func kernelCPU(L *lua.LState, n int, fname string) int {
	f := checkNumber(L, n, fname)
	if !isInteger(f) {
		argError(L, n, fname, "number has no integer representation")
	}
	return cpuOf(f)
}

// cpuOf is an integral float as the kernel's int CPU number, clamped to
// the int's bounds (which are never valid CPUs).
func cpuOf(f float64) int {
	switch {
	case f > math.MaxInt32:
		return math.MaxInt32
	case f < math.MinInt32:
		return math.MinInt32
	}
	return int(f)
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

// The arguments of a binding's call, read with the binding's name for the
// errors. Each reads argument n, 1-based, or raises a Lua argument error.

func (x call) argError(n int, msg string) { argError(x.L, n, x.name, msg) }

func (x call) number(n int) float64 { return checkNumber(x.L, n, x.name) }

func (x call) str(n int) string { return string(checkArg[lua.LString](x.L, n, x.name, "string")) }

func (x call) fn(n int) *lua.LFunction {
	if f, ok := x.L.Get(n).(*lua.LFunction); ok {
		return f
	}
	return checkArg[*lua.LFunction](x.L, n, x.name, "function")
}

// optFn reads a function or nil.
func (x call) optFn(n int) *lua.LFunction {
	if x.L.Get(n) == lua.LNil {
		return nil
	}
	return x.fn(n)
}

func (x call) intRange(n int, what string, lo, hi int64) int64 {
	return checkIntRange(x.L, n, x.name, what, lo, hi)
}

func (x call) optIntRange(n int, what string, lo, hi, def int64) int64 {
	return optIntRange(x.L, n, x.name, what, lo, hi, def)
}

func (x call) duration(n int, what string, unit int64) int64 {
	return checkDuration(x.L, n, x.name, what, unit)
}

func (x call) bool(n int, what string) bool { return checkBool(x.L, n, x.name, what) }

// wait reads a wait argument: a boolean or 0/1.
func (x call) wait(n int) bool {
	// The usual values first, read once; anything else as checkBool says.
	switch v := x.L.Get(n).(type) {
	case lua.LBool:
		return bool(v)
	case lua.LNumber:
		if v == 0 || v == 1 {
			return v == 1
		}
	}
	return x.bool(n, "wait")
}

// xcallFlags reads the flags of the smp_xcall family: a csd's flags hold
// the XCALL_TYPE_* in their low byte.
func (x call) xcallFlags(n int) uint32 { return uint32(x.intRange(n, "flags", 0, 0xff)) }

// cpu reads a kernel function's CPU (kernelCPU): any integer.
func (x call) cpu(n int) int {
	// An int32 read once, without kernelCPU's checks; anything else (not
	// a number, no integer, beyond the int) as kernelCPU says.
	if v, ok := x.L.Get(n).(lua.LNumber); ok {
		if i := int32(v); lua.LNumber(i) == v {
			return int(i)
		}
	}
	return kernelCPU(x.L, n, x.name)
}

// opCPU reads an operator's CPU argument: it must exist.
func (x call) opCPU(n int) int {
	return int(x.intRange(n, "cpu", 0, int64(x.k().NrCPUIDs())-1))
}

func (x call) csd(n int) *xcall.CSD { return checkUserData[*xcall.CSD](x.L, n, x.name, "csd") }

// info reads a cross-call's info argument: any value.
func (x call) info(n int) any { return infoOf(x.L.Get(n)) }

// mask reads a cpumask argument: a cpumask, a CPU list string or an array
// of CPU numbers.
func (x call) mask(n int) xcall.Cpumask {
	L, fname := x.L, x.name
	nr := x.k().NrCPUIDs()
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
			if bad != "" {
				return
			}
			num, ok := e.(lua.LNumber)
			if !ok {
				bad = "array of CPU numbers expected, found " + typeName(e)
				return
			}
			if !isInteger(float64(num)) {
				bad = "array of CPU numbers expected, found " + numText(float64(num))
				return
			}
			// A CPU out of range is left out, as cpumask_set_cpu's
			// callers never pass one.
			if c := cpuOf(float64(num)); c >= 0 && c < nr {
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

// push pushes the binding's one result.
func (x call) push(v lua.LValue) int {
	x.L.Push(v)
	return 1
}

// pushInt pushes an integer. A number in an LValue is a float64 boxed on
// the heap, but for 0; the small ones a script reads most (CPU numbers,
// counts) are boxed once, here, so that smp_processor_id() and its like
// allocate nothing.
func (x call) pushInt(n int) int {
	if n >= 0 && n < len(smallInts) {
		return x.push(smallInts[n])
	}
	return x.push(lua.LNumber(n))
}

var smallInts = func() (t [1024]lua.LValue) {
	for i := range t {
		t[i] = lua.LNumber(i)
	}
	return t
}()

// pushMask pushes a cpumask value.
func (x call) pushMask(m xcall.Cpumask) int {
	L := x.L
	ud := L.NewUserData()
	ud.Value = &maskValue{m}
	L.SetMetatable(ud, L.GetTypeMetatable("cpumask"))
	return x.push(ud)
}

// mightSleep is might_sleep() for the kernel functions that sleep (msleep,
// smp_call_on_cpu, cpu_down, cpu_up): in a handler, with interrupts or
// preemption disabled, the call is refused with the kernel's BUG text.
func (x call) mightSleep() {
	k, c := x.k(), x.c
	if !k.InTask(c) || k.IRQsDisabled(c) || k.M.CPU(c.CPU).Preempt > 0 {
		x.L.RaiseError("%s: BUG: sleeping function called from invalid context (it sleeps: call it from a task with interrupts and preemption enabled)", x.name)
	}
}
