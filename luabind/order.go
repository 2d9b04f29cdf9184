package luabind

// Iteration order. gopher-lua's tables iterate in insertion order, and its
// libraries (and some bindings) are filled from Go maps, in an order that
// changes from run to run: `for k in pairs(_G)` listed the globals in a
// different order in every run. Here every table a script can reach at
// the start iterates in sorted key order.
//
// The first session of a process finds the order by copying its tables in
// sorted order (sortAll). Later sessions insert the names, in that order,
// before the libraries fill them (an existing key keeps its place), which
// is cheaper than copying: explore boots a session per run.

import (
	"cmp"
	"slices"
	"sync"

	lua "github.com/yuin/gopher-lua"
)

// libNames are the library tables that are seeded, besides the globals.
var libNames = []string{lua.MathLibName, lua.StringLibName, lua.TabLibName}

// learnedOrder is the sorted key names of the globals and of each library
// table of libNames, as the first session set them up.
var learnedOrder struct {
	sync.Mutex
	globals []string
	libs    [][]string // by libNames' index
}

// sentinel marks a seeded key that the set-up has not set (yet).
var sentinel = &lua.LUserData{}

// seedTables inserts the learned names into the fresh globals and library
// tables, before the libraries are opened, and reports whether it did.
func (s *Session) seedTables() bool {
	learnedOrder.Lock()
	globals, libs := learnedOrder.globals, learnedOrder.libs
	learnedOrder.Unlock()
	if globals == nil {
		return false
	}
	L := s.L
	G := L.G.Global
	tables := map[string]*lua.LTable{} // lookups only, never ranged
	for i, name := range libNames {
		t := L.CreateTable(0, len(libs[i]))
		for _, k := range libs[i] {
			t.RawSetString(k, sentinel)
		}
		tables[name] = t
	}
	for _, k := range globals {
		if t, ok := tables[k]; ok {
			G.RawSetString(k, t) // the library opener fills this table
		} else {
			G.RawSetString(k, sentinel)
		}
	}
	return true
}

// sortTables makes iteration order depend only on names: after seeding,
// it drops the seeded names the set-up left unset and sorts the
// metatables' method tables; without, it copies everything (sortAll) and
// learns the order for the next sessions.
func (s *Session) sortTables(seeded bool) {
	L := s.L
	if !seeded {
		s.sortAll()
		G := L.G.Global
		learnedOrder.Lock()
		defer learnedOrder.Unlock()
		if learnedOrder.globals == nil {
			learnedOrder.libs = make([][]string, len(libNames))
			for i, name := range libNames {
				learnedOrder.libs[i] = stringKeys(G.RawGetString(name).(*lua.LTable))
			}
			learnedOrder.globals = stringKeys(G)
		}
		return
	}
	unseed(L.G.Global)
	for _, name := range libNames {
		unseed(L.G.Global.RawGetString(name).(*lua.LTable))
	}
	// The registry's metatables: their method tables come from Go maps.
	reg := L.G.Registry
	for k, v := reg.Next(lua.LNil); k != lua.LNil; k, v = reg.Next(k) {
		mt, ok := v.(*lua.LTable)
		if !ok || k == lua.LString("_LOADED") {
			continue
		}
		for mk, mv := mt.Next(lua.LNil); mk != lua.LNil; mk, mv = mt.Next(mk) {
			if t, ok := mv.(*lua.LTable); ok {
				mt.RawSet(mk, sortedCopy(L, t)) // an existing key keeps its place
			}
		}
	}
}

// unseed deletes the keys of t still holding the sentinel.
func unseed(t *lua.LTable) {
	var unset []lua.LValue
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		if v == sentinel {
			unset = append(unset, k)
		}
	}
	for _, k := range unset {
		t.RawSet(k, lua.LNil)
	}
}

// stringKeys lists t's string keys in iteration order.
func stringKeys(t *lua.LTable) []string {
	var out []string
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		if str, ok := k.(lua.LString); ok {
			out = append(out, string(str))
		}
	}
	return out
}

// sortedCopy is a copy of t (its values as they are) filled in sorted key
// order.
func sortedCopy(L *lua.LState, t *lua.LTable) *lua.LTable {
	kvs := sortedPairs(t)
	c := L.CreateTable(0, len(kvs))
	c.Metatable = t.Metatable
	for _, e := range kvs {
		c.RawSet(e.k, e.v)
	}
	return c
}

type keyValue struct{ k, v lua.LValue }

// sortedPairs lists t's pairs, numbers first (ascending), then strings
// (sorted), then other keys in iteration order.
func sortedPairs(t *lua.LTable) []keyValue {
	var kvs []keyValue
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		kvs = append(kvs, keyValue{k, v})
	}
	rank := func(v lua.LValue) int {
		switch v.(type) {
		case lua.LNumber:
			return 0
		case lua.LString:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(kvs, func(a, b keyValue) int {
		if c := cmp.Compare(rank(a.k), rank(b.k)); c != 0 {
			return c
		}
		switch ak := a.k.(type) {
		case lua.LNumber:
			return cmp.Compare(ak, b.k.(lua.LNumber))
		case lua.LString:
			return cmp.Compare(ak, b.k.(lua.LString))
		}
		return 0
	})
	return kvs
}

// sortAll replaces every table reachable from the globals (and the
// registry's metatables) by a copy filled in sorted key order; the
// globals' copy becomes the globals. Run after everything is registered,
// before any script.
func (s *Session) sortAll() {
	L := s.L
	oldG := L.G.Global
	strMT, _ := L.GetMetatable(lua.LString("")).(*lua.LTable)
	copies := map[*lua.LTable]*lua.LTable{} // lookups only, never ranged
	var functions []*lua.LFunction
	var sorted func(t *lua.LTable) *lua.LTable
	sorted = func(t *lua.LTable) *lua.LTable {
		if c, ok := copies[t]; ok {
			return c
		}
		kvs := sortedPairs(t)
		c := L.CreateTable(0, len(kvs))
		c.Metatable = t.Metatable
		copies[t] = c
		for _, e := range kvs {
			v := e.v
			switch x := v.(type) {
			case *lua.LTable:
				v = sorted(x)
			case *lua.LFunction:
				functions = append(functions, x)
			}
			c.RawSet(e.k, v)
		}
		if mt, ok := c.Metatable.(*lua.LTable); ok {
			c.Metatable = sorted(mt)
		}
		return c
	}
	newG := sorted(oldG)
	reg := L.G.Registry
	for k, v := reg.Next(lua.LNil); k != lua.LNil; k, v = reg.Next(k) {
		if t, ok := v.(*lua.LTable); ok && t != reg {
			reg.RawSet(k, sorted(t)) // an existing key keeps its place
		}
	}
	if strMT != nil {
		L.SetMetatable(lua.LString(""), sorted(strMT))
	}
	for _, fn := range functions {
		if fn.Env == oldG {
			fn.Env = newG
		}
	}
	L.G.Global = newG
	L.Env = newG
}
