package luabind

// Stable names for values that Lua prints as addresses. gopher-lua prints
// a table as "table: 0xc000123456", its heap address: different on every
// run, so that two runs of the same seed printed different bytes. Here a
// table, function, thread or userdata is named by the order in which the
// session first printed it: "table: 0x00000001", then 0x00000002, ...

import (
	"fmt"
	"regexp"
	"runtime"
	"sync"
	"weak"

	lua "github.com/yuin/gopher-lua"
)

// valueNames numbers the objects a session has printed. It holds them
// weakly: a collected object's entry is dropped by a cleanup, and since
// numbers only ever grow, when the collector runs never changes a number.
type valueNames struct {
	mu   sync.Mutex // the cleanups run on another goroutine
	ids  map[any]uint64
	next uint64
}

// nameID is p's number. With cleanup, the entry goes when p is collected;
// the template world's shared functions (world.go) live as long as the
// process, and a cleanup of theirs would keep the session alive as long.
func nameID[T any](n *valueNames, p *T, cleanup bool) uint64 {
	key := weak.Make(p)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ids == nil {
		n.ids = map[any]uint64{}
	}
	if id, ok := n.ids[key]; ok {
		return id
	}
	n.next++
	n.ids[key] = n.next
	if !cleanup {
		return n.next
	}
	runtime.AddCleanup(p, func(k weak.Pointer[T]) {
		n.mu.Lock()
		delete(n.ids, k)
		n.mu.Unlock()
	}, key)
	return n.next
}

// ValueString is how the session prints v without metamethods: as Lua
// does, but with a stable name in place of an address.
func (s *Session) ValueString(v lua.LValue) string {
	var id uint64
	switch v := v.(type) {
	case *lua.LTable:
		id = nameID(&s.names, v, true)
	case *lua.LFunction:
		id = nameID(&s.names, v, !theWorld().isShared(v))
	case *lua.LUserData:
		id = nameID(&s.names, v, true)
	case *lua.LState:
		id = nameID(&s.names, v, true)
	default:
		return v.String()
	}
	return fmt.Sprintf("%s: 0x%08x", v.Type(), id)
}

// ToString is tostring(v): the __tostring metamethod's result, if v has
// one, else ValueString. Other code that prints Lua values (printk's
// arguments, say) goes through it.
func (s *Session) ToString(L *lua.LState, v lua.LValue) string {
	if _, ok := L.GetMetaField(v, "__tostring").(*lua.LFunction); ok {
		return lua.LVAsString(L.ToStringMeta(v))
	}
	return s.ValueString(v)
}

// tostring is the scripts' tostring: __tostring's result as it is, as
// gopher-lua's, else ValueString.
func (s *Session) tostring(L *lua.LState) int {
	v := L.CheckAny(1)
	if _, ok := L.GetMetaField(v, "__tostring").(*lua.LFunction); ok {
		L.Push(L.ToStringMeta(v))
		return 1
	}
	L.Push(lua.LString(s.ValueString(v)))
	return 1
}

// errorObject is the message of a run ended by error(v) with v not a
// string or a number: "(error object is a table value)", as the standalone
// lua of Lua 5.2 and later words it (5.1's says only "(error object is not
// a string)", which names no type), located
// where error was called (the first Lua frame of the traceback).
func errorObject(api *lua.ApiError) string {
	msg := fmt.Sprintf("(error object is a %s value)", api.Object.Type())
	if m := traceLocRE.FindStringSubmatch(api.StackTrace); m != nil {
		return m[1] + " " + msg
	}
	return msg
}

var traceLocRE = regexp.MustCompile(`(?m)^\t(\S+:\d+:) in `)
