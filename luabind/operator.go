package luabind

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/pm"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/xcall"
)

// unit builds ns/us/ms/s: x units in ns, rounded to the nearest ns
// (us(1.1) is 1100, not 1100.0000000000002), from 0 to a year (what run()
// and the delays accept).
func unit(mult float64) func(x call) int {
	return func(x call) int {
		v := x.number(1)
		d := v * mult
		if math.IsNaN(d) || math.IsInf(d, 0) {
			x.argError(1, "number has no integer representation")
		}
		if _, ok := intIn(math.Round(d), 0, maxDuration); !ok {
			x.argError(1, fmt.Sprintf("%s %s out of range 0-%s", x.name, numText(v), numText(float64(maxDuration)/mult)))
		}
		return x.push(lua.LNumber(math.Round(d)))
	}
}

// luaMachine is machine(NAME_OR_TOML): boot a built-in machine or an
// inline TOML description, before anything has run.
func luaMachine(x call) int {
	s, L := x.s, x.L
	arg := x.str(1)
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
	if err == nil {
		err = s.boot(spec)
	}
	if err != nil {
		s.badMachine = "machine: " + err.Error()
		L.RaiseError("%s", s.badMachine)
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
func luaSpawn(x call) int {
	s, L := x.s, x.L
	cpu := x.opCPU(1)
	argi := 2
	name := ""
	if str, ok := L.Get(2).(lua.LString); ok {
		name = string(str)
		argi = 3
	}
	fn := x.fn(argi)
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
	m := s.K.M
	t.ctx = m.Spawn(cpu, name, func(c *emu.Context) {
		th := s.newThread()
		c.Local = th
		xcall.Enter(c, f.Sym())
		out, err := s.callIn(c, fn, lua.MultRet, args...)
		xcall.Leave(c)
		if err != nil {
			if m.Closed() {
				// Killed: the machine was closed (the session's
				// Close, a reboot) while the task waited, and the
				// Lua call unwound; its thread runs nothing now
				// and can serve the next session.
				c.Local = nil
				putIdleThread(th)
			}
			s.K.M.Stop(err)
			c.WaitForever("failed")
		}
		t.result, t.done = out, true
		if c.Local = nil; len(s.pool) < maxPooledThreads && idle(th) {
			s.pool = append(s.pool, th) // for the handlers, or the next session
		}
	})
	ud := L.NewUserData()
	ud.Value = t
	L.SetMetatable(ud, L.GetTypeMetatable("task"))
	return x.push(ud)
}

// luaRun is run(d): advance virtual time; "ok" or "panic".
func luaRun(x call) int {
	s, L := x.s, x.L
	if s.inHook > 0 {
		L.RaiseError("run: not allowed inside a hook (the world is stopped there)")
	}
	d := x.duration(1, "duration", 1)
	m := s.K.M
	if m.Now() > maxVirtualTime-d {
		x.argError(1, fmt.Sprintf("duration %d out of range 0-%d (virtual time stops at %d years)", d, maxVirtualTime-m.Now(), maxVirtualTime/maxDuration))
	}
	s.started = true
	err := m.RunUntil(m.Now() + d)
	if errors.Is(err, emu.ErrInterrupted) {
		L.RaiseError("stopped: interrupted") // wrapErr says why
	}
	if stopped, why := m.Stopped(); stopped {
		if errors.Is(why, xcall.ErrPanic) {
			return x.push(lua.LString("panic"))
		}
		L.Error(lua.LString(errMsg(why)), 0)
	}
	return x.push(lua.LString("ok"))
}

func luaNow(x call) int { return x.push(lua.LNumber(x.k().M.Now())) }

// paramNames are the kernel parameters param() gets and sets, in the order
// messages and the shell list them.
var paramNames = []string{"csdlock_debug", "csd_lock_timeout", "panic_on_ipistall"}

// ParamNames are the kernel parameters param() knows (a copy).
func ParamNames() []string { return append([]string(nil), paramNames...) }

// luaParam is param(name [, value]).
func luaParam(x call) int {
	name := x.str(1)
	k := x.k()
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
		x.argError(1, fmt.Sprintf("unknown parameter %q (known: %s)", name, strings.Join(paramNames, ", ")))
	}
	if x.L.GetTop() >= 2 {
		var v int64
		if b, ok := x.L.Get(2).(lua.LBool); ok {
			if b {
				v = 1
			}
		} else if name == "csdlock_debug" {
			v = x.intRange(2, name, 0, 1)
		} else {
			// The machine file's bound for the same keys: the kernel's int.
			v = x.intRange(2, name, 0, machines.MaxTimeoutMS)
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
	return x.push(lua.LNumber(cur))
}

func luaIPIDrop(x call) int {
	cpu := x.opCPU(1)
	k := x.k()
	// Drops add up: the pending ones and n stay within an int.
	n := x.optIntRange(2, "n", 0, maxCount-int64(k.Faults.PendingDrops(cpu)), 1)
	k.Faults.Drop(cpu, int(n))
	return 0
}

func luaIPIDelay(x call) int {
	cpu := x.opCPU(1)
	x.k().Faults.Delay(cpu, x.duration(2, "d", 1))
	return 0
}

func luaClockSkew(x call) int {
	cpu := x.opCPU(1)
	x.k().SkewClock(cpu, x.intRange(2, "ns", -1e15, 1e15))
	return 0
}

func luaFix(x call) int {
	name := x.str(1)
	k := x.k()
	if x.L.GetTop() >= 2 {
		on := checkArg[lua.LBool](x.L, 2, x.name, "boolean")
		if !k.SetFix(name, bool(on)) {
			x.argError(1, fmt.Sprintf("unknown fix %q (see fixes())", name))
		}
	} else if !xcall.IsFix(name) {
		x.argError(1, fmt.Sprintf("unknown fix %q (see fixes())", name))
	}
	on, _ := k.FixApplied(name)
	return x.push(lua.LBool(on))
}

func luaFixes(x call) int {
	L := x.L
	t := L.CreateTable(len(xcall.Fixes), 0)
	for _, f := range xcall.Fixes {
		e := L.CreateTable(0, 4)
		e.RawSetString("name", lua.LString(f.Name))
		e.RawSetString("commit", lua.LString(f.Commit))
		e.RawSetString("title", lua.LString(f.Title))
		on, _ := x.k().FixApplied(f.Name)
		e.RawSetString("on", lua.LBool(on))
		t.Append(e)
	}
	return x.push(t)
}

func luaDmesg(x call) int {
	lines := x.k().M.Log()
	t := x.L.CreateTable(len(lines), 0)
	for _, l := range lines {
		t.Append(lua.LString(l.String()))
	}
	return x.push(t)
}

// patternSpecials are the bytes that make a Lua pattern more than plain
// text (Lua 5.1's SPECIALS, and the closing brackets, which gopher-lua's
// parser may refuse on their own).
const patternSpecials = "^$*+?.()[]%-"

func luaDmesgFind(x call) int {
	pat := x.str(1)
	// A pattern without special characters matches as plain text, as Lua
	// 5.1's lstrlib.c (str_find_aux) searches it: the same answer, without
	// compiling the pattern for every line.
	lit, plain := literalPattern(pat)
	if plain {
		pat = lit
	}
	// A match of text that does not begin with a character of the
	// stamp ("[%5d.%06d] ": brackets, digits, '.', ' ') cannot begin in
	// the stamp, so it lies in the line's text: that is searched without
	// rendering the line.
	textOnly := plain && pat != "" && !strings.ContainsRune(stampChars, rune(pat[0]))
	// Each line is rendered into one buffer, and made a string only if
	// it matches.
	var buf []byte
	text := []byte(pat)
	for _, l := range x.k().M.Log() {
		if textOnly {
			if strings.Contains(l.Text, pat) {
				return x.push(lua.LString(appendLogLine(buf, l)))
			}
			continue
		}
		buf = appendLogLine(buf[:0], l)
		if plain {
			if bytes.Contains(buf, text) {
				return x.push(lua.LString(buf))
			}
			continue
		}
		ms, err := pm.Find(pat, buf, 0, 1)
		if err != nil {
			x.argError(1, "malformed pattern: "+err.Error())
		}
		if len(ms) > 0 {
			return x.push(lua.LString(buf))
		}
	}
	return x.push(lua.LNil)
}

// stampChars are the characters of a log line's stamp (appendLogLine).
const stampChars = "[]. 0123456789"

// appendLogLine appends l as l.String() renders it, "[%5d.%06d] text",
// without fmt.
func appendLogLine(b []byte, l emu.LogLine) []byte {
	if l.T < 0 {
		return append(b, l.String()...)
	}
	sec, us := l.T/1e9, l.T%1e9/1e3
	b = append(b, '[')
	for w := int64(10000); w > 1 && sec < w; w /= 10 {
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, sec, 10)
	b = append(b, '.')
	for w := int64(100000); w > 1 && us < w; w /= 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, us, 10)
	b = append(b, "] "...)
	return append(b, l.Text...)
}

// literalPattern is the plain text a Lua pattern matches when it is
// nothing but literal characters: characters that are not special, and
// escapes of characters that are not alphanumeric ("%-", "%(", "%%"),
// which match the character itself (Lua 5.1 manual, 5.4.1 "Character
// Class"). A script escapes the punctuation of a log line it looks for
// ("Re%-sending CSD lock %(#1%)"): such a pattern is searched as text,
// without compiling it for every log line and trying it at every
// position. Anything else (a class, a set, a quantifier, an anchor, a
// capture, a malformed escape) reports false: the matcher decides.
func literalPattern(pat string) (string, bool) {
	if !strings.ContainsAny(pat, patternSpecials) {
		return pat, true
	}
	var b strings.Builder
	b.Grow(len(pat))
	for i := 0; i < len(pat); i++ {
		c := pat[i]
		if c == '%' {
			if i+1 == len(pat) || isAlnum(pat[i+1]) {
				return "", false
			}
			i++
			b.WriteByte(pat[i])
			continue
		}
		if strings.IndexByte(patternSpecials, c) >= 0 {
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// pushText pushes text, or nil for "".
func (x call) pushText(text string) int {
	if text == "" {
		return x.push(lua.LNil)
	}
	return x.push(lua.LString(text))
}

func luaPanicked(x call) int { return x.pushText(x.k().Panicked()) }

func luaStuck(x call) int { return x.pushText(x.k().Stuck()) }

func luaCPUState(x call) int { return x.push(lua.LString(x.k().CPUState(x.opCPU(1)))) }

func luaIRQChipWrites(x call) int {
	L := x.L
	writes := x.k().Writes()
	t := L.CreateTable(len(writes), 0) // sized: a table's default is 32 slots
	for _, w := range writes {
		e := L.CreateTable(0, 4)
		e.RawSetString("t", lua.LNumber(w.T))
		e.RawSetString("cpu", lua.LNumber(w.CPU))
		e.RawSetString("reg", lua.LString(w.Reg))
		e.RawSetString("value", lua.LString(hex64(w.Value)))
		t.Append(e)
	}
	return x.push(t)
}

// hex64 is fmt.Sprintf("0x%016x", v), without fmt.
func hex64(v uint64) string {
	const digits = "0123456789abcdef"
	var b [18]byte
	b[0], b[1] = '0', 'x'
	for i := 17; i >= 2; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// registerTypes sets up the task and cpumask metatables.
func registerTypes(L *lua.LState) {
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
			cpus := checkMaskUD(L).m.CPUs()
			t := L.CreateTable(len(cpus), 0)
			for _, c := range cpus {
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
			L.Push(lua.LBool(checkUserData[*xcall.CSD](L, 1, "locked", "csd").Locked()))
			return 1
		},
	}))
}

// checkTask and checkMaskUD read a method's receiver.
func checkTask(L *lua.LState) *Task {
	return checkUserData[*Task](L, 1, "task method", "task")
}

func checkMaskUD(L *lua.LState) *maskValue {
	return checkUserData[*maskValue](L, 1, "cpumask method", "cpumask")
}
