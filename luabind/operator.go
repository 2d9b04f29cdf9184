package luabind

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/pm"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/xcall"
)

// register installs the operator and kernel APIs as globals.
func (s *Session) register() {
	L := s.L
	fns := map[string]lua.LGFunction{
		// Operator API.
		"machine":        s.luaMachine,
		"spawn":          s.luaSpawn,
		"run":            s.luaRun,
		"now":            s.luaNow,
		"ns":             unit("ns", 1),
		"us":             unit("us", 1e3),
		"ms":             unit("ms", 1e6),
		"s":              unit("s", 1e9),
		"param":          s.luaParam,
		"ipi_drop":       s.luaIPIDrop,
		"ipi_delay":      s.luaIPIDelay,
		"fix":            s.luaFix,
		"fixes":          s.luaFixes,
		"dmesg":          s.luaDmesg,
		"dmesg_find":     s.luaDmesgFind,
		"panicked":       s.luaPanicked,
		"stuck":          s.luaStuck,
		"cpu_state":      s.luaCPUState,
		"irqchip_writes": s.luaIRQChipWrites,
	}
	maps.Copy(fns, s.kernelAPI())
	maps.Copy(fns, s.kernelAPI2())
	maps.Copy(fns, s.hotplugAPI())
	// Register in a fixed order (the names are sorted) for determinism.
	for _, name := range bindingNames(fns) {
		L.SetGlobal(name, L.NewFunction(fns[name]))
	}
	// Constants: setting globals does not depend on the map's order.
	for name, v := range map[string]int{"ENXIO": xcall.ENXIO, "EBUSY": xcall.EBUSY, "EINVAL": xcall.EINVAL, "ENOMEM": xcall.ENOMEM,
		"XCALL_TYPE_SYNC": xcall.CSDTypeSync, "XCALL_TYPE_ASYNC": xcall.CSDTypeAsync,
		"XCALL_TYPE_IRQ_WORK": xcall.CSDTypeIRQWork, "XCALL_TYPE_TTWU": xcall.CSDTypeTTWU, "XCALL_ALL": -1} {
		L.SetGlobal(name, lua.LNumber(v))
	}
	s.registerTypes()
}

// sortedBindings is the sorted list of the binding names, the same for
// every session: sorted once per process, not once per explore run.
var sortedBindings struct {
	sync.Mutex
	names []string
}

// bindingNames returns the names of fns, sorted.
func bindingNames(fns map[string]lua.LGFunction) []string {
	sortedBindings.Lock()
	defer sortedBindings.Unlock()
	if names := sortedBindings.names; len(names) == len(fns) {
		all := true
		for _, n := range names {
			if _, ok := fns[n]; !ok {
				all = false
				break
			}
		}
		if all {
			return names
		}
	}
	sortedBindings.names = slices.Sorted(maps.Keys(fns))
	return sortedBindings.names
}

// unit builds ns/us/ms/s: x units in ns, rounded to the nearest ns
// (us(1.1) is 1100, not 1100.0000000000002), from 0 to a year (what run()
// and the delays accept).
func unit(name string, mult float64) lua.LGFunction {
	return func(L *lua.LState) int {
		x := checkNumber(L, 1, name)
		d := x * mult
		if math.IsNaN(d) || math.IsInf(d, 0) {
			argError(L, 1, name, "number has no integer representation")
		}
		if _, ok := intIn(math.Round(d), 0, maxDuration); !ok {
			argError(L, 1, name, fmt.Sprintf("%s %s out of range 0-%s", name, numText(x), numText(float64(maxDuration)/mult)))
		}
		L.Push(lua.LNumber(math.Round(d)))
		return 1
	}
}

// luaMachine is machine(NAME_OR_TOML): boot a built-in machine or an
// inline TOML description, before anything has run.
func (s *Session) luaMachine(L *lua.LState) int {
	s.operator(L, "machine")
	arg := checkString(L, 1, "machine")
	if s.opts.MachineForced {
		return 0 // -m on the command line wins
	}
	if s.started {
		L.RaiseError("machine: must come before anything runs (the machine %q already ran)", s.spec.Name)
	}
	var spec *machines.Spec
	var err error
	if strings.ContainsAny(arg, "=\n") {
		spec, err = machines.Parse("inline TOML", []byte(arg))
	} else {
		spec, err = machines.Builtin(arg)
	}
	if err != nil {
		s.badMachine = true
		L.RaiseError("machine: %v", err)
	}
	if err := s.boot(spec); err != nil {
		s.badMachine = true
		L.RaiseError("machine: %v", err)
	}
	return 0
}

// Task is the userdata a spawn returns.
type Task struct {
	ctx    *emu.Context
	result []lua.LValue
	done   bool
}

// luaSpawn is spawn(cpu, [name,] fn, ...).
func (s *Session) luaSpawn(L *lua.LState) int {
	s.operator(L, "spawn")
	cpu := s.checkCPU(L, 1, "spawn")
	argi := 2
	name := ""
	if str, ok := L.Get(2).(lua.LString); ok {
		name = string(str)
		argi = 3
	}
	fn := checkFunc(L, argi, "spawn")
	var args []lua.LValue
	for i := argi + 1; i <= L.GetTop(); i++ {
		args = append(args, L.Get(i))
	}
	if s.tasks >= maxTasks {
		L.RaiseError("spawn: too many tasks (limit %d)", maxTasks)
	}
	s.tasks++
	f := s.funcOf(fn)
	if name == "" {
		name = f.Name
	}
	if len(name) > 15 {
		name = name[:15] // TASK_COMM_LEN
	}
	t := &Task{}
	s.started = true
	t.ctx = s.K.M.Spawn(cpu, name, func(c *emu.Context) {
		th := s.newThread()
		c.Local = th
		xcall.Enter(c, f.Sym())
		out, err := s.callIn(c, fn, lua.MultRet, args...)
		xcall.Leave(c)
		if err != nil {
			s.K.M.Stop(err)
			c.WaitForever("failed")
		}
		t.result, t.done = out, true
	})
	ud := L.NewUserData()
	ud.Value = t
	L.SetMetatable(ud, L.GetTypeMetatable("task"))
	L.Push(ud)
	return 1
}

// luaRun is run(d): advance virtual time; "ok" or "panic".
func (s *Session) luaRun(L *lua.LState) int {
	s.operator(L, "run")
	if s.inHook > 0 {
		L.RaiseError("run: not allowed inside a hook (the world is stopped there)")
	}
	d := checkDuration(L, 1, "run", "duration", 1)
	m := s.K.M
	if m.Now() > maxVirtualTime-d {
		argError(L, 1, "run", fmt.Sprintf("duration %d out of range 0-%d (virtual time stops at %d years)", d, maxVirtualTime-m.Now(), maxVirtualTime/maxDuration))
	}
	s.started = true
	err := m.RunUntil(m.Now() + d)
	if errors.Is(err, emu.ErrInterrupted) {
		L.RaiseError("stopped: interrupted") // wrapErr says why
	}
	if stopped, why := m.Stopped(); stopped {
		if errors.Is(why, xcall.ErrPanic) {
			L.Push(lua.LString("panic"))
			return 1
		}
		L.Error(lua.LString(errMsg(why)), 0)
	}
	L.Push(lua.LString("ok"))
	return 1
}

func (s *Session) luaNow(L *lua.LState) int {
	L.Push(lua.LNumber(s.K.M.Now()))
	return 1
}

var paramNames = []string{"csdlock_debug", "csd_lock_timeout", "panic_on_ipistall"}

// luaParam is param(name [, value]).
func (s *Session) luaParam(L *lua.LState) int {
	name := checkString(L, 1, "param")
	k := s.K
	var cur int64
	switch name {
	case "csdlock_debug":
		if k.CSDLockDebug {
			cur = 1
		}
	case "csd_lock_timeout":
		cur = k.CSDLockTimeout
	case "panic_on_ipistall":
		cur = k.PanicOnIPIStall
	default:
		argError(L, 1, "param", fmt.Sprintf("unknown parameter %q (known: %s)", name, strings.Join(paramNames, ", ")))
	}
	if L.GetTop() >= 2 {
		var v int64
		if b, ok := L.Get(2).(lua.LBool); ok {
			if b {
				v = 1
			}
		} else if name == "csdlock_debug" {
			v = checkIntRange(L, 2, "param", name, 0, 1)
		} else {
			// The machine file's bound for the same keys: the kernel's int.
			v = checkIntRange(L, 2, "param", name, 0, machines.MaxTimeoutMS)
		}
		switch name {
		case "csdlock_debug":
			k.CSDLockDebug = v != 0
		case "csd_lock_timeout":
			k.CSDLockTimeout = v
		case "panic_on_ipistall":
			k.PanicOnIPIStall = v
		}
	}
	L.Push(lua.LNumber(cur))
	return 1
}

func (s *Session) luaIPIDrop(L *lua.LState) int {
	cpu := s.checkCPU(L, 1, "ipi_drop")
	// Drops add up: the pending ones and n stay within an int.
	n := optIntRange(L, 2, "ipi_drop", "n", 0, maxCount-int64(s.K.Faults.PendingDrops(cpu)), 1)
	s.K.Faults.Drop(cpu, int(n))
	return 0
}

func (s *Session) luaIPIDelay(L *lua.LState) int {
	cpu := s.checkCPU(L, 1, "ipi_delay")
	s.K.Faults.Delay(cpu, checkDuration(L, 2, "ipi_delay", "d", 1))
	return 0
}

func (s *Session) luaFix(L *lua.LState) int {
	name := checkString(L, 1, "fix")
	if L.GetTop() >= 2 {
		v := L.Get(2)
		b, ok := v.(lua.LBool)
		if !ok {
			argError(L, 2, "fix", "boolean expected, got "+typeName(v))
		}
		if !s.K.SetFix(name, bool(b)) {
			argError(L, 1, "fix", fmt.Sprintf("unknown fix %q (see fixes())", name))
		}
	} else if !xcall.IsFix(name) {
		argError(L, 1, "fix", fmt.Sprintf("unknown fix %q (see fixes())", name))
	}
	on, _ := s.K.FixApplied(name)
	L.Push(lua.LBool(on))
	return 1
}

func (s *Session) luaFixes(L *lua.LState) int {
	t := L.NewTable()
	for _, f := range xcall.Fixes {
		e := L.NewTable()
		e.RawSetString("name", lua.LString(f.Name))
		e.RawSetString("commit", lua.LString(f.Commit))
		e.RawSetString("title", lua.LString(f.Title))
		on, _ := s.K.FixApplied(f.Name)
		e.RawSetString("on", lua.LBool(on))
		t.Append(e)
	}
	L.Push(t)
	return 1
}

func (s *Session) luaDmesg(L *lua.LState) int {
	t := L.NewTable()
	for _, l := range s.K.M.Log() {
		t.Append(lua.LString(l.String()))
	}
	L.Push(t)
	return 1
}

func (s *Session) luaDmesgFind(L *lua.LState) int {
	pat := checkString(L, 1, "dmesg_find")
	for _, l := range s.K.M.Log() {
		line := l.String()
		ms, err := pm.Find(pat, []byte(line), 0, 1)
		if err != nil {
			argError(L, 1, "dmesg_find", "malformed pattern: "+err.Error())
		}
		if len(ms) > 0 {
			L.Push(lua.LString(line))
			return 1
		}
	}
	L.Push(lua.LNil)
	return 1
}

func (s *Session) luaPanicked(L *lua.LState) int {
	if p := s.K.Panicked(); p != "" {
		L.Push(lua.LString(p))
	} else {
		L.Push(lua.LNil)
	}
	return 1
}

func (s *Session) luaStuck(L *lua.LState) int {
	if st := s.K.Stuck(); st != "" {
		L.Push(lua.LString(st))
	} else {
		L.Push(lua.LNil)
	}
	return 1
}

func (s *Session) luaCPUState(L *lua.LState) int {
	cpu := s.checkCPU(L, 1, "cpu_state")
	L.Push(lua.LString(s.K.CPUState(cpu)))
	return 1
}

func (s *Session) luaIRQChipWrites(L *lua.LState) int {
	t := L.NewTable()
	for _, w := range s.K.Writes() {
		e := L.NewTable()
		e.RawSetString("t", lua.LNumber(w.T))
		e.RawSetString("cpu", lua.LNumber(w.CPU))
		e.RawSetString("reg", lua.LString(w.Reg))
		e.RawSetString("value", lua.LString(fmt.Sprintf("0x%016x", w.Value)))
		t.Append(e)
	}
	L.Push(t)
	return 1
}

// registerTypes sets up the task and cpumask metatables.
func (s *Session) registerTypes() {
	L := s.L
	mt := L.NewTypeMetatable("task")
	L.SetField(mt, "__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"done": func(L *lua.LState) int {
			L.Push(lua.LBool(checkTask(L).done))
			return 1
		},
		"result": func(L *lua.LState) int {
			t := checkTask(L)
			if !t.done {
				return 0
			}
			for _, v := range t.result {
				L.Push(v)
			}
			return len(t.result)
		},
	}))
	mm := L.NewTypeMetatable("cpumask")
	L.SetField(mm, "__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"test": func(L *lua.LState) int {
			m := checkMaskUD(L)
			L.Push(lua.LBool(m.m.Test(kernelCPU(L, 2, "test"))))
			return 1
		},
		"weight": func(L *lua.LState) int {
			L.Push(lua.LNumber(checkMaskUD(L).m.Weight()))
			return 1
		},
		"cpus": func(L *lua.LState) int {
			t := L.NewTable()
			for _, c := range checkMaskUD(L).m.CPUs() {
				t.Append(lua.LNumber(c))
			}
			L.Push(t)
			return 1
		},
	}))
	L.SetField(mm, "__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(checkMaskUD(L).m.List()))
		return 1
	}))
	cm := L.NewTypeMetatable("csd")
	L.SetField(cm, "__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"locked": func(L *lua.LState) int {
			L.Push(lua.LBool(checkCSD(L, 1, "locked").Locked()))
			return 1
		},
	}))
}

func checkTask(L *lua.LState) *Task {
	ud, ok := L.Get(1).(*lua.LUserData)
	if ok {
		if t, ok := ud.Value.(*Task); ok {
			return t
		}
	}
	argError(L, 1, "task method", "task expected, got "+typeName(L.Get(1)))
	return nil
}

func checkMaskUD(L *lua.LState) *maskValue {
	ud, ok := L.Get(1).(*lua.LUserData)
	if ok {
		if m, ok := ud.Value.(*maskValue); ok {
			return m
		}
	}
	argError(L, 1, "cpumask method", "cpumask expected, got "+typeName(L.Get(1)))
	return nil
}

func checkCSD(L *lua.LState, n int, fname string) *xcall.CSD {
	ud, ok := L.Get(n).(*lua.LUserData)
	if ok {
		if c, ok := ud.Value.(*xcall.CSD); ok {
			return c
		}
	}
	argError(L, n, fname, "csd expected, got "+typeName(L.Get(n)))
	return nil
}

func (s *Session) pushMask(L *lua.LState, m xcall.Cpumask) {
	ud := L.NewUserData()
	ud.Value = &maskValue{m}
	L.SetMetatable(ud, L.GetTypeMetatable("cpumask"))
	L.Push(ud)
}
