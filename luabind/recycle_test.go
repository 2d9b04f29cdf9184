package luabind

import (
	"sync"
	"testing"

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
local function f() local x = 1; keep = function() return x end; error("boom") end
assert(not pcall(f))
assert(keep() == 1)
setmetatable(_G, {__index = function() return 1 end, __newindex = function() error("no") end})
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
	L := a.L
	a.Close()
	b, err := New(Options{Recycle: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.L != L {
		t.Fatal("the next recycling session made a new state: the test tests nothing")
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
	if putIdleState(busy) {
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
		if s == pl {
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
