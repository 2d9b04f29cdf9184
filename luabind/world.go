package luabind

// A session's Lua world, set up once per process and cloned. Opening
// gopher-lua's libraries, sandboxing them and registering the API's ~105
// functions into fresh tables, one global at a time, cost 100-140 µs per
// session: most of an explore run of a short scenario. Instead, the first
// session of a process builds a template world (the globals, the library
// tables, the metatables, all in sorted key order, see order.go) whose
// functions are shared by every session, and each session clones the
// template's tables: every table a script can reach is its session's own,
// exactly as before (pairs, rawget, rawset and setmetatable on _G or on a
// library table see and change only that session's), and only the Go
// functions, which have no state a script can reach, are shared.
//
// A shared function finds its session through the Lua thread it is called
// on: every thread of a session runs under the session's luaContext
// (sessionOf). Nothing of a session is reachable from the template.

import (
	"maps"
	"reflect"
	"slices"
	"sync"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// world is the template of every session's Lua world.
type world struct {
	// tables are the template's tables, the globals first.
	tables []*lua.LTable
	// refs are the places in the tables that hold a template table (the
	// globals' _G and string, the string table's __index, ...): a clone
	// points them at its own clones.
	refs []tableRef
	// registry names the tables of the registry (the type metatables),
	// by index into tables.
	registry []registryEntry
	strMT    int // the string metatable's index into tables, or -1
	// shared are the Go functions the sessions share (the tables' and
	// their upvalues'): tostring's names of them need no cleanup.
	// entries are the tables' hash keys and values (restoreTable).
	entries []entries
	shared  map[*lua.LFunction]struct{}
	sformat *lua.LFunction // string.format as the API's printk calls it
}

type tableRef struct {
	table int        // the table holding the reference
	key   lua.LValue // its key; nil: the table's metatable
	to    int        // the table referred to
}

type registryEntry struct {
	name  lua.LValue // an LString, boxed once
	table int
}

// luaOptions are every session's lua.NewState options.
var luaOptions = lua.Options{SkipOpenLibs: true, CallStackSize: callStackSize,
	RegistrySize: registrySize, RegistryGrowStep: registrySize, RegistryMaxSize: 1 << 20}

// theWorld is the process's template, built by the first session. (Set
// in init: the shared functions refer to it, through tostring's names.)
var theWorld func() *world

func init() { theWorld = sync.OnceValue(buildWorld) }

// buildWorld sets up a Lua state as a session's used to be set up, sorts
// its tables and records them. Its state is never run.
func buildWorld() *world {
	L := lua.NewState(luaOptions)
	openSandbox(L)
	// boot's global, set before the API's so that a clone has it in its
	// place; every session's boot sets its value.
	L.SetGlobal("nr_cpu_ids", lua.LNumber(0))
	register(L)
	sortAll(L)

	w := &world{strMT: -1, shared: map[*lua.LFunction]struct{}{}}
	index := map[*lua.LTable]int{} // lookups only, never ranged
	var add func(t *lua.LTable) int
	add = func(t *lua.LTable) int {
		if i, ok := index[t]; ok {
			return i
		}
		i := len(w.tables)
		index[t] = i
		w.tables = append(w.tables, t)
		for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
			switch v := v.(type) {
			case *lua.LTable:
				w.refs = append(w.refs, tableRef{i, k, add(v)})
			case *lua.LFunction:
				w.share(v)
			}
		}
		if mt, ok := t.Metatable.(*lua.LTable); ok {
			w.refs = append(w.refs, tableRef{i, nil, add(mt)})
		}
		return i
	}
	add(L.G.Global)
	reg := L.G.Registry
	for k, v := reg.Next(lua.LNil); k != lua.LNil; k, v = reg.Next(k) {
		name, ok := k.(lua.LString)
		if t, isTable := v.(*lua.LTable); ok && isTable && t != reg {
			w.registry = append(w.registry, registryEntry{name, add(t)})
		}
	}
	if mt, ok := L.GetMetatable(lua.LString("")).(*lua.LTable); ok {
		w.strMT = add(mt)
	}
	w.sformat = L.GetGlobal("string").(*lua.LTable).RawGetString("format").(*lua.LFunction)
	// The references between the tables are install's to set: restore
	// leaves them.
	refKeys := make([][]lua.LValue, len(w.tables))
	for _, r := range w.refs {
		if r.key != nil {
			refKeys[r.table] = append(refKeys[r.table], r.key)
		}
	}
	for i, t := range w.tables {
		w.entries = append(w.entries, entriesOf(t, refKeys[i]))
	}
	return w
}

// share records fn, and the functions its upvalues hold, as shared.
func (w *world) share(fn *lua.LFunction) {
	if _, ok := w.shared[fn]; ok {
		return
	}
	w.shared[fn] = struct{}{}
	for _, uv := range fn.Upvalues {
		if f, ok := uv.Value().(*lua.LFunction); ok {
			w.share(f)
		}
	}
}

// install gives L (a fresh state) a clone of the template's world, for
// session s. tabs, if not nil, are the clones of a closed session of
// the same state (recycle.go), which restore makes clones of the
// template again; it returns the clones L now has.
func (w *world) install(L *lua.LState, s *Session, tabs []*lua.LTable) []*lua.LTable {
	ud := L.NewUserData()
	ud.Value = s
	L.G.Registry.RawSetString(sessionKey, ud)
	if tabs == nil {
		tabs = make([]*lua.LTable, len(w.tables))
		for i, t := range w.tables {
			tabs[i] = cloneTable(t)
		}
	} else {
		for i, t := range w.tables {
			if !restoreTable(tabs[i], t, w.entries[i]) {
				tabs[i] = cloneTable(t)
			}
		}
	}
	for _, r := range w.refs {
		if r.key == nil {
			tabs[r.table].Metatable = tabs[r.to]
		} else {
			setRef(tabs[r.table], r.key, tabs[r.to])
		}
	}
	for _, e := range w.registry {
		setRef(L.G.Registry, e.name, tabs[e.table])
	}
	if w.strMT >= 0 {
		L.SetMetatable(lua.LString(""), tabs[w.strMT])
	}
	L.G.Global = tabs[0]
	L.Env = tabs[0]
	return tabs
}

// setRef sets t[key] to to, a table, unless it holds it already (a
// table restored in place, install's last time): a key t has keeps its
// place either way.
func setRef(t *lua.LTable, key lua.LValue, to *lua.LTable) {
	if t.RawGet(key) != lua.LValue(to) {
		t.RawSet(key, to)
	}
}

// registryAsInstalled reports whether reg has exactly the keys install
// sets in a new state's registry, in install's order, and nothing else
// (no array part, no metatable): then install sets every value anew.
func (w *world) registryAsInstalled(reg *lua.LTable) bool {
	if !tableLayoutOK {
		return false
	}
	r := (*ltable)(unsafe.Pointer(reg))
	n := 1 + len(w.registry)
	if len(r.keys) != n || len(r.strdict) != n || len(r.dict) != 0 || len(r.array) != 0 || r.Metatable != lua.LNil ||
		r.keys[0] != lua.LString(sessionKey) {
		return false
	}
	for i, e := range w.registry {
		if r.keys[i+1] != e.name {
			return false
		}
	}
	return true
}

// isShared reports whether fn is one of the template's functions.
func (w *world) isShared(fn *lua.LFunction) bool {
	_, ok := w.shared[fn]
	return ok
}

// ltable is lua.LTable's layout (gopher-lua v1.1.2): its fields are
// unexported, and copying them is ten times faster than setting a fresh
// table's keys one by one. tableLayoutOK checks the layout; if a version
// of gopher-lua changes it, cloneTable copies key by key instead.
type ltable struct {
	Metatable lua.LValue

	array   []lua.LValue
	dict    map[lua.LValue]lua.LValue
	strdict map[string]lua.LValue
	keys    []lua.LValue
	k2i     map[lua.LValue]int
}

var tableLayoutOK = func() bool {
	a, b := reflect.TypeFor[lua.LTable](), reflect.TypeFor[ltable]()
	if a.Size() != b.Size() || a.NumField() != b.NumField() {
		return false
	}
	for i := range a.NumField() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || fa.Type != fb.Type || fa.Offset != fb.Offset {
			return false
		}
	}
	return true
}()

// cloneTable is a copy of t that iterates in the same order, with the
// same metatable (install repoints template tables).
func cloneTable(t *lua.LTable) *lua.LTable {
	if !tableLayoutOK {
		return copyTable(t)
	}
	src := (*ltable)(unsafe.Pointer(t))
	c := &ltable{
		Metatable: src.Metatable,
		array:     slices.Clone(src.array),
		dict:      maps.Clone(src.dict),
		strdict:   maps.Clone(src.strdict),
		keys:      slices.Clone(src.keys),
		k2i:       maps.Clone(src.k2i),
	}
	return (*lua.LTable)(unsafe.Pointer(c))
}

// maxRestoreExtra bounds the keys a script may have added to a table
// that restoreTable restores: past it, the table's maps have grown, and
// a new clone is smaller.
const maxRestoreExtra = 64

// restoreTable makes c, a clone of t (cloneTable) that a closed session's
// script may have changed, iterate and answer exactly as a new clone of
// t, in place, without allocating; false if it cannot (another table
// layout, a table grown much larger), and then c is unchanged.
//
// gopher-lua's tables keep their hash keys in the order they were first
// set (keys, and k2i their places), and never remove one (a key set to
// nil leaves its place): a clone's keys are t's followed by those the
// script added. restoreTable removes the added keys, sets every key of
// t in ents to t's value (or removes it where t has none), copies t's
// array part and metatable. The keys ents leave out, those whose values
// are the world's tables, are install's: it points them at the clones
// again (setRef: no write where the key holds its clone already). Maps
// and slices that t does not have are dropped, so that c has them
// exactly when t does.
//
// ents are t's entries (entriesOf): the string keys with a value first,
// the common case, then the others; each key is set apart from the
// others, so the order does not matter.
func restoreTable(c, t *lua.LTable, ents entries) bool {
	if !tableLayoutOK {
		return false
	}
	dst, src := (*ltable)(unsafe.Pointer(c)), (*ltable)(unsafe.Pointer(t))
	n := len(src.keys)
	if len(dst.keys) < n || len(dst.keys)-n > maxRestoreExtra || cap(dst.array) > 2*len(src.array)+maxRestoreExtra {
		return false
	}
	for _, k := range dst.keys[n:] {
		if ks, ok := k.(lua.LString); ok {
			delete(dst.strdict, string(ks))
		} else {
			delete(dst.dict, k)
		}
		delete(dst.k2i, k)
	}
	clear(dst.keys[n:])
	dst.keys = dst.keys[:n]
	for _, e := range ents.strs {
		if !identical(dst.strdict[e.key], e.val) {
			dst.strdict[e.key] = e.val
		}
	}
	for _, e := range ents.rest {
		switch {
		case e.val == nil && e.str:
			delete(dst.strdict, e.skey)
		case e.val == nil:
			delete(dst.dict, e.key)
		case e.str:
			if !identical(dst.strdict[e.skey], e.val) {
				dst.strdict[e.skey] = e.val
			}
		default:
			if !identical(dst.dict[e.key], e.val) {
				dst.dict[e.key] = e.val
			}
		}
	}
	if src.keys == nil {
		dst.keys, dst.k2i = nil, nil
	}
	if src.strdict == nil {
		dst.strdict = nil
	}
	if src.dict == nil {
		dst.dict = nil
	}
	if src.array == nil {
		dst.array = nil
	} else {
		old := dst.array
		if cap(old) < len(src.array) {
			dst.array = slices.Clone(src.array)
		} else {
			dst.array = old[:len(src.array)]
			copy(dst.array, src.array)
			if len(old) > len(src.array) {
				clear(old[len(src.array):])
			}
		}
	}
	dst.Metatable = src.Metatable
	return true
}

// identical reports whether a and b are the same interface value, word
// for word: the same pointer, or the same boxed number or string. Equal
// values boxed apart are not identical, and restoreTable then writes one
// over the other, to the same effect; it saves runtime.ifaceeq's call.
func identical(a, b lua.LValue) bool {
	return *(*[2]unsafe.Pointer)(unsafe.Pointer(&a)) == *(*[2]unsafe.Pointer)(unsafe.Pointer(&b))
}

// entries are a template table's hash keys and their values there, for
// restoreTable, but for the keys that refer to the world's tables
// (install's to set): the common case, a string key with a value, in a
// list of its own, and the others.
type entries struct {
	strs []strEntry
	rest []entry
}

type strEntry struct {
	key string
	val lua.LValue
}

// entry is a hash key of a template table and its value there (nil: the
// key has no value, but keeps its place).
type entry struct {
	str  bool   // a string key: skey, else key
	skey string // the string key
	key  lua.LValue
	val  lua.LValue
}

// entriesOf lists t's hash keys in order, with their values, for
// restoreTable, but for those in skip: the template's tables never
// change.
func entriesOf(t *lua.LTable, skip []lua.LValue) entries {
	var ents entries
	if !tableLayoutOK {
		return ents
	}
	src := (*ltable)(unsafe.Pointer(t))
	for _, k := range src.keys {
		if slices.Contains(skip, k) {
			continue
		}
		if ks, ok := k.(lua.LString); ok {
			if v, ok := src.strdict[string(ks)]; ok {
				ents.strs = append(ents.strs, strEntry{string(ks), v})
			} else {
				ents.rest = append(ents.rest, entry{str: true, skey: string(ks)})
			}
		} else {
			e := entry{key: k}
			if v, ok := src.dict[k]; ok {
				e.val = v
			}
			ents.rest = append(ents.rest, e)
		}
	}
	return ents
}

// copyTable is cloneTable through gopher-lua's API: the pairs set in
// iteration order.
func copyTable(t *lua.LTable) *lua.LTable {
	c := &lua.LTable{Metatable: t.Metatable}
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		c.RawSet(k, v)
	}
	return c
}

// sessionKey is the registry's entry naming a state's session. Scripts
// cannot reach the registry.
const sessionKey = "xcallsh.session"

// sessionOf is the session whose Lua thread L is: through the thread's
// context, or, if its owner replaced that (the shell runs each command
// under a context of its own), through the registry.
func sessionOf(L *lua.LState) *Session {
	if c, ok := L.Context().(*luaContext); ok {
		return c.s
	}
	return L.G.Registry.RawGetString(sessionKey).(*lua.LUserData).Value.(*Session)
}

// sessionFn is a shared Lua function running f for the calling session.
func sessionFn(f func(s *Session, L *lua.LState) int) lua.LGFunction {
	return func(L *lua.LState) int { return f(sessionOf(L), L) }
}
