package luabind

// Iteration order. gopher-lua's tables iterate in insertion order, and its
// libraries (and some bindings) are filled from Go maps, in an order that
// changes from run to run: `for k in pairs(_G)` listed the globals in a
// different order in every run. Here every table a script can reach at
// the start iterates in sorted key order: the template world (world.go)
// is copied in sorted order once (sortAll), and every session clones it,
// order included.

import (
	"cmp"
	"slices"

	lua "github.com/yuin/gopher-lua"
)

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
func sortAll(L *lua.LState) {
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
