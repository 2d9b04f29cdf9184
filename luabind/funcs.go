package luabind

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"path"
	"strings"
	"unsafe"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/xcall"
)

// luaInfo carries a Lua value as a cross-call's info pointer.
type luaInfo struct{ v lua.LValue }

// Addr is the address %ps prints for the value: nil is 0x0, a
// non-negative integer prints as itself, anything else as a stable fake
// kernel address derived from its text.
func (i luaInfo) Addr() uint64 {
	switch v := i.v.(type) {
	case nil, *lua.LNilType:
		return 0
	case lua.LNumber:
		// Below 2^64 only: converting a larger float to uint64 gives
		// a different value on each architecture.
		if f := float64(v); f >= 0 && f < 1<<64 && f == math.Trunc(f) {
			return uint64(f)
		}
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%s:%s", i.v.Type(), lua.LVAsString(i.v))
	return 0xffff888000000000 | uint64(h.Sum32())
}

func infoOf(v lua.LValue) any {
	if v == lua.LNil {
		return nil
	}
	return luaInfo{v}
}

func luaOf(info any) lua.LValue {
	if i, ok := info.(luaInfo); ok {
		return i.v
	}
	return lua.LNil
}

// funcOf returns the kernel Func for a Lua function: one per function
// value, so that a function keeps one name (and size) for as long as it
// exists, whatever the script does to the globals in between.
//
// The Func lives exactly as long as the function: it hangs off the
// function itself, in a hidden upvalue past the ones its code uses (see
// attachFunc), and the Func's Fn holds the function. Nothing in the session
// points to either, so a closure made for one call (smp_call_function_single(3,
// function() ... end, nil, 1) in a loop) is collected with its Func once
// the kernel is done with it (the csd that carried it is reused). A table
// from functions to Funcs would keep every function ever passed.
func (s *Session) funcOf(fn *lua.LFunction) *xcall.Func {
	if f := s.attachedFunc(fn); f != nil {
		return f
	}
	name, size := s.symbol(fn)
	f := &xcall.Func{Name: name, Size: size}
	never := stacklessFuncs && neverWaits(fn)
	f.Fn = func(c *emu.Context, info any) error {
		return s.callFunc(c, fn, luaOf(info), never)
	}
	if never {
		f.NoWait = xcall.NeverWaits
	}
	attachFunc(fn, &funcTag{s, f})
	return f
}

// stacklessFuncs lets funcOf mark the functions that never wait; the
// tests turn it off to compare (TestStacklessSameRuns).
var stacklessFuncs = true

// neverWaits reports whether a call of fn can never wait: fn is a Lua
// function whose code calls nothing, neither a function (CALL, TAILCALL,
// TFORLOOP) nor a metamethod (no indexing, arithmetic, comparison,
// length or concatenation, each of which may call one). Only waits
// (mdelay, a spinning cross-call, msleep, ...) need a coroutine, and only
// a called function can wait, so such a function may run on the engine's
// stack when an interrupt handler calls it (xcall.Func.NoWait).
func neverWaits(fn *lua.LFunction) bool {
	if fn.IsG || fn.Proto == nil {
		return false
	}
	for _, inst := range fn.Proto.Code {
		switch int(inst >> 26) {
		case lua.OP_MOVE, lua.OP_MOVEN, lua.OP_LOADK, lua.OP_LOADBOOL, lua.OP_LOADNIL,
			lua.OP_GETUPVAL, lua.OP_SETUPVAL, lua.OP_NEWTABLE, lua.OP_NOT, lua.OP_JMP,
			lua.OP_TEST, lua.OP_TESTSET, lua.OP_RETURN, lua.OP_FORLOOP, lua.OP_FORPREP,
			lua.OP_SETLIST, lua.OP_CLOSE, lua.OP_CLOSURE, lua.OP_VARARG, lua.OP_NOP:
		default:
			return false
		}
	}
	return true
}

// funcTag is the value of a function's hidden upvalue: its Func in
// session s.
type funcTag struct {
	s *Session
	f *xcall.Func
}

// usedUpvalues is how many upvalues fn's code uses: a Lua function's
// Proto says; a Go function uses those it was created with, and none has
// more than that when it first gets a Func.
func usedUpvalues(fn *lua.LFunction) int {
	if fn.Proto != nil {
		return int(fn.Proto.NumUpvalues)
	}
	return -1 // unknown: only the tag's type tells
}

// attachedFunc returns the Func funcOf attached to fn in this session, or
// nil.
func (s *Session) attachedFunc(fn *lua.LFunction) *xcall.Func {
	n := len(fn.Upvalues)
	if n == 0 || n <= usedUpvalues(fn) {
		return nil
	}
	ud, ok := fn.Upvalues[n-1].Value().(*lua.LUserData)
	if !ok {
		return nil
	}
	if tag, ok := ud.Value.(*funcTag); ok && tag.s == s {
		return tag.f
	}
	return nil
}

// attachFunc appends tag to fn's upvalues, past the ones its code indexes
// (GETUPVAL and SETUPVAL use indexes below Proto.NumUpvalues, and closures
// made inside fn copy only those): no Lua code can reach it, the sandbox
// has no debug library, and it is collected with fn.
func attachFunc(fn *lua.LFunction, tag *funcTag) {
	uv := &lua.Upvalue{}
	uv.Close()
	uv.SetValue(&lua.LUserData{Value: tag, Metatable: lua.LNil})
	fn.Upvalues = append(fn.Upvalues, uv)
}

// symbol names a Lua function for traces: the name of the global that
// holds it, else "<file>_<line>" from where it is defined.
func (s *Session) symbol(fn *lua.LFunction) (string, int) {
	size := 0x10
	if fn.Proto != nil {
		size = 4 * len(fn.Proto.Code)
		if size == 0 {
			size = 4
		}
	}
	best := ""
	if tableLayoutOK {
		// The string keys, without boxing each into an LValue as ForEach
		// does; the order does not matter, the least name wins.
		for k, v := range (*ltable)(unsafe.Pointer(s.L.G.Global)).strdict {
			if v == fn && (best == "" || k < best) {
				best = k
			}
		}
	} else {
		s.L.G.Global.ForEach(func(k, v lua.LValue) {
			if v == fn {
				if n, ok := k.(lua.LString); ok && (best == "" || string(n) < best) {
					best = string(n)
				}
			}
		})
	}
	if best != "" {
		return best, size
	}
	if fn.Proto == nil {
		return "lua_builtin", size
	}
	stem := strings.TrimSuffix(path.Base(fn.Proto.SourceName), ".lua")
	stem = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, stem)
	return fmt.Sprintf("%s_%d", stem, fn.Proto.LineDefined), size
}

// thread returns the Lua thread code running in c uses: a task's own or,
// for a handler, one from the pool (pooled is then true, and unthread
// gives it back).
func (s *Session) thread(c *emu.Context) (t *lua.LState, pooled bool) {
	if c == nil {
		return s.L, false
	}
	if t, ok := c.Local.(*lua.LState); ok {
		return t, false
	}
	if n := len(s.pool); n > 0 {
		t = s.pool[n-1]
		s.pool = s.pool[:n-1]
	} else {
		t = s.newThread()
	}
	c.Local = t
	return t, true
}

// unthread gives back a thread that thread took from the pool for c.
func (s *Session) unthread(c *emu.Context, t *lua.LState, pooled bool) {
	if !pooled {
		return
	}
	c.Local = nil
	t.SetTop(0)
	s.pool = append(s.pool, t)
}

// errMachineClosed is callIn's error for a call its machine's Close
// unwound.
var errMachineClosed = errors.New("the machine was closed")

// callIn calls fn(args...) in context c and returns nret values (MultRet:
// all). A Lua error comes back as a *ScriptError with file:line.
func (s *Session) callIn(c *emu.Context, fn *lua.LFunction, nret int, args ...lua.LValue) ([]lua.LValue, error) {
	t, pooled := s.thread(c)
	defer s.unthread(c, t, pooled)
	top := t.GetTop()
	t.Push(fn)
	for _, a := range args {
		t.Push(a)
	}
	if err := t.PCall(len(args), nret, nil); err != nil {
		t.SetTop(top)
		if c != nil && c.Machine().Closed() {
			// Unwound because the machine was closed (emu's kill, which
			// PCall recovers): no one reads this error.
			return nil, errMachineClosed
		}
		return nil, s.wrapErr(err)
	}
	n := t.GetTop() - top
	out := make([]lua.LValue, n)
	for i := 0; i < n; i++ {
		out[i] = t.Get(top + 1 + i)
	}
	t.SetTop(top)
	return out, nil
}

// callFunc is callIn(c, fn, 0, arg) for a cross-called function, the
// hot path of every Lua callback: no result slice, no variadic arguments
// and no deferred give-back. The thread goes back to the pool on every
// path: PCall recovers every panic inside the call (a Lua error, the
// machine's kill), and nothing else here can panic. never says that fn
// never waits (neverWaits).
func (s *Session) callFunc(c *emu.Context, fn *lua.LFunction, arg lua.LValue, never bool) error {
	var t *lua.LState
	pooled := false
	if n := len(s.pool); never && n > 0 && c != nil && c.Local == nil {
		// fn calls nothing, so no other Lua code of the session runs
		// before it returns and nothing looks for c's thread: it may
		// borrow the idle thread on top of the pool without taking it.
		t = s.pool[n-1]
	} else {
		t, pooled = s.thread(c)
	}
	top := t.GetTop()
	t.Push(fn)
	t.Push(arg)
	err := t.PCall(1, 0, nil)
	t.SetTop(top)
	s.unthread(c, t, pooled)
	if err != nil {
		if c != nil && c.Machine().Closed() {
			return errMachineClosed // as in callIn
		}
		return s.wrapErr(err)
	}
	return nil
}

// condOf wraps a Lua cond_func(cpu, info) -> boolean.
func (s *Session) condOf(fn *lua.LFunction) xcall.CondFunc {
	if fn == nil {
		return nil
	}
	return func(c *emu.Context, cpu int, info any) (bool, error) {
		out, err := s.callIn(c, fn, 1, lua.LNumber(cpu), luaOf(info))
		if err != nil {
			return false, err
		}
		return lua.LVAsBool(out[0]), nil
	}
}
