package luabind

// Recycling Lua states: a session that asks for it (Options.Recycle)
// takes its main state from the states of closed sessions instead of
// making one (lua.NewState: a 200-frame call stack, a value stack, a
// globals table and a registry, a third of what a short scenario's run
// allocated), and its Close hands it on, with the session's clones of
// the template's tables (world.go), whose cloning was another third.
//
// A recycled state must be indistinguishable from a fresh one to the
// next session's script. What a state carries from one session to the
// next, and what becomes of it:
//
//   - the last session's clones of the template's tables (the globals,
//     the libraries, the metatables): install restores each to the
//     template's keys, values, order and metatable, in place
//     (restoreTable: as a new clone would be), or clones it anew;
//   - the registry (the type metatables, the session's key) and the
//     string metatable: install sets them to the restored clones, in a
//     Global of its own (takeIdleState), so nothing else of the last
//     session is reachable (the registry table is kept if it has exactly
//     the keys install sets, in install's order: every value is then
//     install's);
//   - the value stack: only states with nothing on it are kept
//     (idle), and resetState clears the slots above the top, which a
//     fresh state also has as nil;
//   - the open upvalues: gopher-lua closes a frame's upvalues when it
//     returns or a Lua error unwinds it, but not when a Go panic in a
//     built-in does (LState.PCall recovers it), so a state may keep a
//     list of open upvalues of dead frames, which a new closure
//     capturing a local in the same stack slot would share; resetState
//     empties the list, as in a fresh state;
//   - the call stack: its frames above the top (dead) still point at the
//     last session's functions, which are never called again (they pin
//     that memory until overwritten, hence the small bound on idle
//     states).
//
// The open upvalues and the value stack are unexported fields of
// gopher-lua's LState; stateLayout finds them by name and type
// (gopher-lua v1.1.2), and if a version of gopher-lua changes them,
// nothing is recycled: every session makes a fresh state as before.

import (
	"reflect"
	"sync"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// stateLayout locates LState.uvcache (*Upvalue), LState.reg (*registry)
// and registry.array ([]LValue).
var stateLayout = func() (l struct {
	ok                bool
	uvcache, reg, arr uintptr
}) {
	st := reflect.TypeFor[lua.LState]()
	uv, ok1 := st.FieldByName("uvcache")
	reg, ok2 := st.FieldByName("reg")
	if !ok1 || !ok2 || uv.Type != reflect.TypeFor[*lua.Upvalue]() || reg.Type.Kind() != reflect.Pointer ||
		reg.Type.Elem().Kind() != reflect.Struct {
		return l
	}
	arr, ok3 := reg.Type.Elem().FieldByName("array")
	if !ok3 || arr.Type != reflect.TypeFor[[]lua.LValue]() {
		return l
	}
	l.ok, l.uvcache, l.reg, l.arr = true, uv.Offset, reg.Offset, arr.Offset
	return l
}()

// frameLayout locates LState.currentFrame, the frame the state runs (nil
// when it runs nothing: what GetStack(0) reports, allocating a Debug to
// report it), for idle.
var frameLayout = func() (l struct {
	ok  bool
	off uintptr
}) {
	f, ok := reflect.TypeFor[lua.LState]().FieldByName("currentFrame")
	if ok && f.Type.Kind() == reflect.Pointer {
		l.ok, l.off = true, f.Offset
	}
	return l
}()

// maxRecycledStack bounds the value stack of a state that is kept (a
// script may have grown it to a million values).
const maxRecycledStack = 4 * registrySize

// resetState makes idle L's open upvalues and value stack a fresh
// state's; false if it cannot (an unknown layout, a grown stack).
func resetState(L *lua.LState) bool {
	if !stateLayout.ok || !idle(L) {
		return false
	}
	p := unsafe.Pointer(L)
	reg := *(*unsafe.Pointer)(unsafe.Add(p, stateLayout.reg))
	if reg == nil {
		return false
	}
	arr := (*[]lua.LValue)(unsafe.Add(reg, stateLayout.arr))
	if len(*arr) > maxRecycledStack {
		return false
	}
	clear(*arr) // a block clear: a few hundred instructions for 4 KiB, where testing each slot took thousands
	*(**lua.Upvalue)(unsafe.Add(p, stateLayout.uvcache)) = nil
	return true
}

// openUpvalues reports whether L keeps a list of open upvalues (tests).
func openUpvalues(L *lua.LState) bool {
	return stateLayout.ok && *(**lua.Upvalue)(unsafe.Add(unsafe.Pointer(L), stateLayout.uvcache)) != nil
}

// idleStates are the main states of closed sessions that recycle, with
// their sessions' clones of the template's tables, for the next such
// session.
var idleStates struct {
	sync.Mutex
	list []idleState
}

type idleState struct {
	L    *lua.LState
	tabs []*lua.LTable
}

const maxIdleStates = 8

// putIdleState keeps L, a closed session's main state, if it is idle,
// and tabs, its clones of the template's tables.
func putIdleState(L *lua.LState, tabs []*lua.LTable) bool {
	if !resetState(L) {
		return false
	}
	L.Env = nil
	L.RemoveContext()
	idleStates.Lock()
	defer idleStates.Unlock()
	if len(idleStates.list) >= maxIdleStates {
		return false
	}
	idleStates.list = append(idleStates.list, idleState{L, tabs})
	return true
}

// takeIdleState is a recycled main state and its last session's tables
// (for install to restore), or nil. Its Global is a copy of its last one
// with a new registry (install sets the rest): the last session's
// threads keep the old one.
func takeIdleState() (*lua.LState, []*lua.LTable) {
	idleStates.Lock()
	n := len(idleStates.list)
	if n == 0 {
		idleStates.Unlock()
		return nil, nil
	}
	st := idleStates.list[n-1]
	idleStates.list[n-1] = idleState{}
	idleStates.list = idleStates.list[:n-1]
	idleStates.Unlock()
	L := st.L
	g := *L.G
	if !theWorld().registryAsInstalled(g.Registry) {
		g.Registry = L.NewTable()
	}
	g.Global = nil
	L.G = &g
	return L, st.tabs
}
