package luabind

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// evil changes every table a script can reach; evilEnd leaves an open
// upvalue of a frame that a Go panic in a built-in unwound (a Lua error
// closes the upvalues of the frames it unwinds; a Go panic, which
// LState.PCall recovers too, does not).
const evilEnd = "local z = 1; rawset(_G, 'keep', function() return z end)\ngopanic()"

// withGoPanic gives s a built-in that panics.
func withGoPanic(s *Session) *Session {
	s.L.G.Global.RawSetString("gopanic", s.L.NewFunction(func(*lua.LState) int { panic("the end") }))
	return s
}

const evil = `
rawset(_G, "print", nil); rawset(_G, "evil", 1); _G.smp_call_function_single = nil; spawn = 1
string.upper = nil; rawset(string, "evil", 1); math.pi = 3; table.insert = print
getmetatable("").__index.lower = nil; getmetatable("").__index = {}
getmetatable(cpumask("0")).__index.weight = nil
getmetatable(cpumask("0")).__tostring = nil
getmetatable(csd_init(function() end)).__index.locked = nil
string[1] = "a"; string[2] = "b"; string[3] = "c"; table.remove(string); math[true] = 1; _G[1] = 2; _G[2.5] = 3
for i = 1, 100 do rawset(table, "k" .. i, i) end
for i = 1, 100 do table[i] = i end
rawset(_G, "ipairs", nil); rawset(_G, "ipairs", pairs); rawset(_G, "pairs", nil); rawset(string, "format", nil)
local function f() local x = 1; keep = function() return x end; error("boom") end
assert(not pcall(f))
assert(keep() == 1)
local G = _G
rawset(_G, "table", {}); string = 1; _G._G = {}
setmetatable(G, {__index = function() return 1 end, __newindex = function() error("no") end})
nr_cpu_ids = nil
`

// A recycled state is a fresh one to the next session: it sees every
// table as the template has it (the listing of TestWorldIsolation), no
// open upvalue of the last session's frames, closures that capture as
// they should; and only idle states of recycling sessions are kept.
func TestRecycledStateIsFresh(t *testing.T) {
	fresh, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := listOf(t, fresh)
	fresh.Close()

	a, err := New(Options{Recycle: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Exec("evil.lua", evil); err != nil {
		t.Fatal(err)
	}
	if _, err := withGoPanic(a).Exec("end.lua", evilEnd); err == nil || err.Error() != "end.lua:2: the end" {
		t.Fatal(err)
	}
	if !openUpvalues(a.L) {
		t.Fatal("the error left no open upvalue: the test tests nothing")
	}
	L, G, R := a.L, a.tabs[0], a.L.G.Registry
	a.Close()
	a.Close() // hands the state on once
	idleStates.Lock()
	kept := 0
	for _, st := range idleStates.list {
		if st.L == L {
			kept++
		}
	}
	idleStates.Unlock()
	if kept != 1 {
		t.Fatalf("the closed session's state is kept %d times, want once", kept)
	}
	b, err := New(Options{Recycle: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if reg := b.L.G.Registry; reg != R || !theWorld().registryAsInstalled(reg) || reg.RawGetString(sessionKey).(*lua.LUserData).Value != b {
		t.Error("the recycled state's registry is not the last one, set as install sets it")
	}
	if b.L != L || b.tabs[0] != G {
		t.Fatal("the next recycling session made a new state or new globals: the test tests nothing")
	}
	if openUpvalues(b.L) {
		t.Error("the recycled state keeps the last session's open upvalues")
	}
	if got := listOf(t, b); got != want {
		t.Errorf("a recycled state's session:\n%s\nwant\n%s", got, want)
	}
	if _, err := b.Exec("closures.lua", `
assert(keep == nil and evil == nil and rawget(_G, "evil") == nil)
local function mk() local y = 0; return function() y = y + 1; return y end end
local p, q = mk(), mk()
p(); p()
assert(p() == 3 and q() == 1)`); err != nil {
		t.Error(err)
	}

	// Not kept: a state with values on its stack; any state of a
	// session that does not recycle.
	busy := lua.NewState(luaOptions)
	busy.Push(lua.LTrue)
	if putIdleState(busy, nil) {
		t.Error("a state with a value on its stack was kept")
	}
	plain, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	pl := plain.L
	plain.Close()
	idleStates.Lock()
	for _, s := range idleStates.list {
		if s.L == pl {
			t.Error("a session that does not recycle handed on its state")
		}
	}
	idleStates.Unlock()
}

// Recycling sessions on several goroutines at once, as explore's
// workers run them, each changing everything it can: every session
// still starts from the template's tables.
func TestRecycleConcurrent(t *testing.T) {
	fresh, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := listOf(t, fresh)
	fresh.Close()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				s, err := New(Options{Recycle: true, Seed: uint64(g*10 + i)})
				if err != nil {
					t.Error(err)
					return
				}
				v, err := s.Exec("list.lua", listing)
				if err != nil {
					t.Error(err)
				} else if got := v[0].String(); got != want {
					t.Errorf("goroutine %d, session %d:\n%s\nwant\n%s", g, i, got, want)
				}
				if _, err := s.Exec("evil.lua", evil); err != nil {
					t.Error(err)
				}
				if i%2 == 0 {
					withGoPanic(s).Exec("end.lua", evilEnd)
				}
				s.Close()
			}
		}()
	}
	wg.Wait()
}

// restoreTable makes a changed clone equal, field by field, to a new
// clone of its template, whatever a script did to it: random sets and
// deletions of string, number and boolean keys, old and new, array
// growth and shrinking, a metatable. Past maxRestoreExtra new keys it
// declines, leaving the table as it was.
func TestRestoreTable(t *testing.T) {
	if !tableLayoutOK {
		t.Skip("another gopher-lua table layout: nothing is restored")
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	tmpl := L.NewTable()
	for i, k := range []lua.LValue{lua.LString("b"), lua.LNumber(1), lua.LString("a"), lua.LNumber(2.5), lua.LTrue, lua.LNumber(2), lua.LString("c")} {
		tmpl.RawSet(k, lua.LNumber(i))
	}
	tmpl.RawSetString("c", lua.LNil) // a deleted key keeps its place
	tmpl.Metatable = L.NewTable()
	empty := L.NewTable()
	keys := []lua.LValue{lua.LString("a"), lua.LString("b"), lua.LString("c"), lua.LString("d"), lua.LString("e"),
		lua.LNumber(1), lua.LNumber(2), lua.LNumber(3), lua.LNumber(7), lua.LNumber(2.5), lua.LNumber(-1), lua.LTrue, lua.LFalse}
	vals := []lua.LValue{lua.LNil, lua.LNil, lua.LNumber(9), lua.LString("x"), tmpl}
	rng := uint64(1)
	next := func(n int) int { // xorshift: the same cases every run
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return int(rng % uint64(n))
	}
	for _, p := range []*lua.LTable{tmpl, empty} {
		for round := range 300 {
			c := cloneTable(p)
			for range next(20) {
				switch next(4) {
				case 0, 1:
					c.RawSet(keys[next(len(keys))], vals[next(len(vals))])
				case 2:
					c.Append(vals[2+next(3)])
				case 3:
					c.Metatable = vals[next(len(vals))]
				}
			}
			if !restoreTable(c, p, entriesOf(p, nil)) {
				t.Fatalf("round %d: not restored", round)
			}
			if got, want := dump(c), dump(cloneTable(p)); got != want {
				t.Fatalf("round %d: restored\n%s\nwant\n%s", round, got, want)
			}
		}
	}
	c := cloneTable(tmpl)
	for i := range maxRestoreExtra + 1 {
		c.RawSetString(fmt.Sprint("new", i), lua.LTrue)
	}
	before := dump(c)
	if restoreTable(c, tmpl, entriesOf(tmpl, nil)) || dump(c) != before {
		t.Error("a table with too many new keys was restored, or changed")
	}
}

// dump is every field of t, in order.
func dump(t *lua.LTable) string {
	x := (*ltable)(unsafe.Pointer(t))
	var b strings.Builder
	fmt.Fprintf(&b, "mt %v\narray %v %v\nkeys %v %v\n", x.Metatable, x.array == nil, x.array, x.keys == nil, x.keys)
	for _, k := range x.keys {
		fmt.Fprintf(&b, "%v:%v ", k, x.k2i[k])
		if ks, ok := k.(lua.LString); ok {
			fmt.Fprintf(&b, "s=%v ", x.strdict[string(ks)])
		} else {
			fmt.Fprintf(&b, "d=%v ", x.dict[k])
		}
	}
	fmt.Fprintf(&b, "\nsizes %d %d %d nil %v %v %v\n", len(x.strdict), len(x.dict), len(x.k2i), x.strdict == nil, x.dict == nil, x.k2i == nil)
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		fmt.Fprintf(&b, "%v=%v ", k, v)
	}
	return b.String()
}

// A task still waiting when its session closes is unwound, and its Lua
// thread, idle again, serves the next session's tasks.
func TestKilledTaskThreadReused(t *testing.T) {
	idleThreads.Lock()
	idleThreads.list = nil
	idleThreads.Unlock()
	a, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Exec("a.lua", `local x = {}
local t = spawn(1, function() local y = x; msleep(1000); return y end)
run(ms(1))
assert(not t:done())`); err != nil {
		t.Fatal(err)
	}
	a.Close()
	idleThreads.Lock()
	n := len(idleThreads.list)
	var th *lua.LState
	if n == 1 {
		th = idleThreads.list[0]
	}
	idleThreads.Unlock()
	if n != 1 || !idle(th) || openUpvalues(th) {
		t.Fatalf("%d idle threads after the session closed, want the killed task's, idle", n)
	}
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if v, err := b.Exec("b.lua", `X = 7
local t = spawn(2, function() return X * 6 end)
run(ms(1))
return t:result()`); err != nil || len(v) != 1 || v[0] != lua.LNumber(42) {
		t.Errorf("the next session's task: %v %v", v, err)
	}
	idleThreads.Lock()
	n = len(idleThreads.list)
	idleThreads.Unlock()
	if n != 0 || len(b.pool) != 1 || b.pool[0] != th {
		t.Errorf("the next session's task did not run on the killed task's thread")
	}
}

// idle reads the state's current frame where GetStack(0) would allocate
// to report it: the two agree on a state running a Go function with no
// arguments (an empty stack, a frame), and on one that runs nothing.
func TestIdleWithoutGetStack(t *testing.T) {
	if !frameLayout.ok {
		t.Skip("another gopher-lua state layout: idle calls GetStack")
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	check := func(want bool) {
		t.Helper()
		_, running := L.GetStack(0)
		if idle(L) != want || running == want {
			t.Errorf("idle %v, GetStack running %v; want idle %v", idle(L), running, want)
		}
	}
	check(true)
	L.SetGlobal("probe", L.NewFunction(func(L *lua.LState) int {
		if L.GetTop() != 0 {
			t.Errorf("the probe has %d values on its stack", L.GetTop())
		}
		check(false)
		return 0
	}))
	if err := L.DoString("probe()"); err != nil {
		t.Fatal(err)
	}
	check(true)
}
