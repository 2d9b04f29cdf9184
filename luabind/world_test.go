package luabind

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"weak"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/pm"

	"github.com/xcallsh/xcallsh/emu"
)

// listing is what a script sees of the tables it can reach at the start:
// every pair of the globals, the libraries and the metatables, in
// iteration order, and the identities that tie them together.
const listing = `local out = {}
local task = spawn(0, function() end)
for _, t in ipairs({_G, string, math, table, getmetatable(""), getmetatable(task),
    getmetatable(task).__index, getmetatable(cpumask("0")), getmetatable(cpumask("0")).__index,
    getmetatable(csd_init(function() end)).__index}) do
  local names = {}
  for k, v in pairs(t) do names[#names + 1] = tostring(k) .. "=" .. type(v) end
  out[#out + 1] = table.concat(names, " ")
end
out[#out + 1] = tostring(_G._G == _G) .. tostring(getmetatable("") == string) .. tostring(string.__index == string) ..
  tostring(getmetatable(_G)) .. tostring(nr_cpu_ids) .. tostring(print) .. tostring(string.format)
return table.concat(out, "\n")`

func listOf(t *testing.T, s *Session) string {
	t.Helper()
	v, err := s.Exec("list.lua", listing)
	if err != nil {
		t.Fatal(err)
	}
	return v[0].String()
}

// A script's changes to the tables it can reach (rawset on _G, a library
// table, the string metatable, a type's methods, a metatable on _G) stay
// in its session: the template and every other session, one open at the
// same time included, see the tables as they were.
func TestWorldIsolation(t *testing.T) {
	fresh, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	want := listOf(t, fresh)
	if !strings.Contains(want, "smp_call_function_single=function") || !strings.Contains(want, "\ntruetruetruenil4function: 0x") {
		t.Fatalf("unexpected listing:\n%s", want)
	}

	evil, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer evil.Close()
	if _, err := evil.Exec("evil.lua", `
rawset(_G, "print", nil); rawset(_G, "evil", 1); _G.smp_call_function_single = nil; spawn = 1
string.upper = nil; rawset(string, "evil", 1); math.pi = 3; table.insert = print
getmetatable("").__index.lower = nil; getmetatable("").__index = {}
local task = spawn ~= 1 or true
getmetatable(cpumask("0")).__index.weight = nil
getmetatable(cpumask("0")).__tostring = nil
getmetatable(csd_init(function() end)).__index.locked = nil
setmetatable(_G, {__index = function() return 1 end, __newindex = function() error("no") end})
nr_cpu_ids = nil
`); err != nil {
		t.Fatal(err)
	}
	if v, err := evil.Exec("check.lua", `return rawget(_G, "evil"), string.evil, math.pi, undefined_name`); err != nil ||
		v[0] != lua.LNumber(1) || v[1] != lua.LNumber(1) || v[2] != lua.LNumber(3) || v[3] != lua.LNumber(1) {
		t.Fatalf("the changes did not take in their own session: %v %v", v, err)
	}

	var wg sync.WaitGroup
	got := make([]string, 4)
	for i := range got {
		wg.Add(1)
		go func() { // concurrently, as explore -j runs sessions
			defer wg.Done()
			s, err := New(Options{})
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			v, err := s.Exec("list.lua", listing)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = v[0].String()
		}()
	}
	wg.Wait()
	for i, g := range got {
		if g != want {
			t.Errorf("session %d after the changes:\n%s\nwant\n%s", i, g, want)
		}
	}
	if again := listOf(t, fresh); again != want {
		t.Errorf("an open session after the changes:\n%s\nwant\n%s", again, want)
	}
}

// The clone through gopher-lua's API (for a version whose table layout
// differs) iterates as the fast clone does; with the pinned version, the
// layout is recognised.
func TestCloneTable(t *testing.T) {
	if !tableLayoutOK {
		t.Error("gopher-lua's LTable layout changed: sessions are set up key by key (slow); update world.go's ltable")
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	tb := L.NewTable()
	for _, k := range []lua.LValue{lua.LString("b"), lua.LNumber(1), lua.LString("a"), lua.LNumber(2.5), lua.LTrue, lua.LNumber(2)} {
		tb.RawSet(k, lua.LString(k.String()))
	}
	tb.RawSetString("b", lua.LNil)
	tb.Metatable = L.NewTable()
	pairs := func(t *lua.LTable) string {
		var b strings.Builder
		for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
			b.WriteString(k.String() + "=" + v.String() + " ")
		}
		return b.String()
	}
	want := pairs(tb)
	for name, c := range map[string]*lua.LTable{"cloneTable": cloneTable(tb), "copyTable": copyTable(tb)} {
		if got := pairs(c); got != want || c.Metatable != tb.Metatable {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
		c.RawSetString("new", lua.LTrue)
		c.RawSetInt(1, lua.LFalse)
		if pairs(tb) != want {
			t.Errorf("%s: a change to the clone changed the original: %s", name, pairs(tb))
		}
	}
}

// Printing a shared function names it in the session without tying the
// session to the function (which lives as long as the process): a closed
// session that printed one is collected.
func TestSharedFunctionNameKeepsNoSession(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec("t.lua", `assert(tostring(print) == "function: 0x00000001"); assert(tostring(string.format) == "function: 0x00000002")`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	w := weak.Make(s)
	s = nil
	for range 5 {
		runtime.GC()
		if w.Value() == nil {
			return
		}
	}
	t.Error("the session is still reachable after printing a shared function")
}

// A session's functions find it when the owner of its Lua state has
// replaced the state's context, as the shell does for each command.
func TestSessionOfForeignContext(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.L.SetContext(ctx)
	if _, err := s.Exec("t.lua", `assert(nr_cpu_ids == 4 and math.random(3) and now() == 0 and tostring(print) == "function: 0x00000001")`); err != nil {
		t.Fatal(err)
	}
}

// dmesg_find's plain-text search answers as the pattern matcher does for
// every pattern without special characters.
func TestPlainPatternSameAsMatcher(t *testing.T) {
	lines := []string{"[    0.000000] smp: Bringing up secondary CPUs ...", "", "greet: hello from CPU 1, info=42", "a\x00b ]x"}
	for _, pat := range []string{"", "smp", "CPU 1,", "greet: hello", "nomatch", " ", "\x00", "x", "info=42", "hello from"} {
		for _, line := range lines {
			ms, err := pm.Find(pat, []byte(line), 0, 1)
			if plain := !strings.ContainsAny(pat, patternSpecials); plain && (err != nil || (len(ms) > 0) != strings.Contains(line, pat)) {
				t.Errorf("%q in %q: matcher %v %v, plain %v", pat, line, len(ms) > 0, err, strings.Contains(line, pat))
			}
		}
	}
}

// Patterns of literal characters and escaped punctuation are searched
// as text (literalPattern): the same answer as the matcher's, for every
// pattern and line; and patterns with anything else are left to it.
func TestLiteralPatternSameAsMatcher(t *testing.T) {
	lines := []string{"[    1.000000] smp: csd: Re-sending CSD lock (#1) IPI from CPU#00 to CPU#02",
		"", "100% done (ok)", "a.b-c+d*e?f[g]h^i$j", "a\x00b ]x", "%", "(#2)", "x-y", "%-"}
	pats := []string{"Re%-sending CSD lock %(#1%) IPI from CPU#00 to CPU#02", "%(#2%)", "100%% done", "%(ok%)",
		"a%.b%-c%+d%*e%?f%[g%]h%^i%$j", "%%", "%-", "x%-y", "%%%-", "%", "%a", "%d", "x%", "Re%-sending CSD lock %(#2%)",
		"x-y", "(#2)", "^%(", "j$", "%]", "%[g", "%b()", "%1", "%z", "%s", "[x]", ".", "%.", "a\x00"}
	for _, pat := range pats {
		lit, ok := literalPattern(pat)
		for _, line := range lines {
			ms, err := pm.Find(pat, []byte(line), 0, 1)
			if ok && (err != nil || (len(ms) > 0) != strings.Contains(line, lit)) {
				t.Errorf("%q (as %q) in %q: matcher %v %v, text %v", pat, lit, line, len(ms) > 0, err, strings.Contains(line, lit))
			}
		}
	}
	for pat, want := range map[string]bool{"Re%-sending %(#1%)": true, "%%": true, "plain": true, "%a": false, "x-y": false,
		"^x": false, "x$": false, "%": false, "(x)": false, "%1": false, "%b()": false, "[x]": false, "x*": false} {
		if _, ok := literalPattern(pat); ok != want {
			t.Errorf("literalPattern(%q) = %v, want %v", pat, ok, want)
		}
	}
}

// dmesg_find answers as the matcher does on every rendered line, for
// literal patterns searched in the text alone or in the whole line, and
// for patterns.
func TestDmesgFindSameAsMatcher(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Exec("log.lua", `printk("x-y (#1) CPU#00"); run(s(12)); printk("] z"); printk("1.5 q"); printk("Re-sending")`); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range s.K.M.Log() {
		lines = append(lines, l.String())
	}
	for _, pat := range []string{"x%-y", "%(#1%)", "CPU#00", "Re%-sending", "] z", "%] z", "0] ", "00000] x", "12.000000] ] z",
		" ", "1.5", "%.5 q", "q", "z", "", "x-y", "%[ ", "  0.", "nomatch", "sending", "%a%-", "^%[", "q$"} {
		want := lua.LValue(lua.LNil)
		for _, line := range lines {
			if ms, err := pm.Find(pat, []byte(line), 0, 1); err == nil && len(ms) > 0 {
				want = lua.LString(line)
				break
			}
		}
		s.L.G.Global.RawSetString("P", lua.LString(pat))
		v, err := s.Exec("find.lua", "return dmesg_find(P)")
		if err != nil || len(v) != 1 || v[0] != want {
			t.Errorf("dmesg_find(%q) = %v %v, want %v", pat, v, err, want)
		}
	}
}

// dmesg_find renders a log line as dmesg() does.
func TestAppendLogLine(t *testing.T) {
	for _, ns := range []int64{0, 1, 999, 1000, 1e9 - 1, 1e9, 5_000_123_456, 12_345_678_901_234, 99_999_999_999_999, 100_000_000_000_000,
		123_456_789_000_000_000, -1, -1e9 - 5000} {
		l := emu.LogLine{T: ns, CPU: 1, Text: "smp: text"}
		if got, want := string(appendLogLine([]byte("junk"), l)), "junk"+l.String(); got != want {
			t.Errorf("%d ns: %q, want %q", ns, got, want)
		}
	}
}

// irqchip_writes renders a register value as it did with fmt.
func TestHex64(t *testing.T) {
	for _, v := range []uint64{0, 1, 0x830, 0xfee00000_000000fd, 1<<64 - 1, 0x0123456789abcdef} {
		if got, want := hex64(v), fmt.Sprintf("0x%016x", v); got != want {
			t.Errorf("%#x: %s, want %s", v, got, want)
		}
	}
}

// Lua threads handed from one session to the next run each session's
// code with its own globals: sessions in turn and at once, each with
// tasks and handlers, see only their own values.
func TestThreadsReusedAcrossSessions(t *testing.T) {
	src := `X = ...
local seen = {}
function f() seen[#seen + 1] = X .. ":" .. tostring(rawget(_G, "X")) end
local ts = {}
for i = 1, 3 do ts[i] = spawn(i - 1, function() smp_call_function_single(3, f, nil, 1); return X end) end
run(ms(1))
for i = 1, 3 do assert(ts[i]:done() and ts[i]:result() == X, "task " .. i) end
return table.concat(seen, " ")`
	proto, err := Compile("t.lua", src)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				s, err := New(Options{})
				if err != nil {
					t.Error(err)
					return
				}
				x := lua.LString(strings.Repeat("x", g*100+i+1))
				fn := s.L.NewFunctionFromProto(proto)
				s.L.Push(fn)
				s.L.Push(x)
				if err := s.L.PCall(1, 1, nil); err != nil {
					t.Error(err)
				} else if got, want := s.L.Get(-1).String(), strings.TrimSpace(strings.Repeat(string(x)+":"+string(x)+" ", 3)); got != want {
					t.Errorf("session %d/%d saw %q, want %q", g, i, got, want)
				}
				s.Close()
			}
		}()
	}
	wg.Wait()
	idleThreads.Lock()
	n := len(idleThreads.list)
	idleThreads.Unlock()
	if n == 0 {
		t.Error("no thread was left idle for the next session")
	}
}
