package luabind

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/scripts"
	"github.com/xcallsh/xcallsh/xcall"
)

// compileFunc compiles src, a chunk returning one function expression,
// and returns that function's prototype.
func compileFunc(t *testing.T, src string) *lua.FunctionProto {
	t.Helper()
	chunk, err := parse.Parse(strings.NewReader("return "+src), "f.lua")
	if err != nil {
		t.Fatal(err)
	}
	proto, err := lua.Compile(chunk, "f.lua")
	if err != nil {
		t.Fatal(err)
	}
	if len(proto.FunctionPrototypes) != 1 {
		t.Fatalf("%s: %d functions, want one", src, len(proto.FunctionPrototypes))
	}
	return proto.FunctionPrototypes[0]
}

// TestNeverWaits: only a function that can call nothing, neither a
// function nor a metamethod, may run on the engine's stack.
func TestNeverWaits(t *testing.T) {
	for _, c := range []struct {
		src  string
		want bool
	}{
		{"function() end", true},
		{"function(info) return info end", true},
		{"function(a, ...) local t = {a, ...}; local n = not a; for i = 1, 10 do n = i end; return t, n end", true},
		{"function() local x; while true do x = x end end", true},             // loops are not waits: the timeout stops it
		{"function() local f = function() mdelay(1) end; return f end", true}, // makes a closure, calls nothing
		{"function() mdelay(1) end", false},                                   // a call
		{"function() return smp_processor_id() end", false},                   // a tail call
		{"function() for k in next, {} do end end", false},                    // the iterator is called
		{"function() x = 1 end", false},                                       // _G may have a __newindex
		{"function() return y end", false},                                    // or an __index
		{"function(t) return t.x end", false},                                 // t's __index
		{"function(t) t[1] = 0 end", false},                                   // __newindex
		{"function(t) return t:m() end", false},                               // SELF and a call
		{"function(a) return a + 1 end", false},                               // __add
		{"function(a) return -a end", false},                                  // __unm
		{"function(a) return #a end", false},                                  // __len
		{"function(a) return a .. 'x' end", false},                            // __concat
		{"function(a, b) if a == b then return 1 end end", false},             // __eq
		{"function(a, b) if a < b then return 1 end end", false},              // __lt
	} {
		fn := &lua.LFunction{Proto: compileFunc(t, c.src)}
		if got := neverWaits(fn); got != c.want {
			t.Errorf("neverWaits(%s) = %v, want %v", c.src, got, c.want)
		}
	}
	g := &lua.LFunction{IsG: true, GFunction: func(*lua.LState) int { return 0 }}
	if neverWaits(g) {
		t.Error("neverWaits(a Go function) = true, want false: it may wait")
	}
}

// runDigest runs src in a new session and returns everything a run shows:
// the event record (every event, its text), the kernel log, print's
// output, the error and where the clock ended.
func runDigest(t *testing.T, chunk, src string, opts Options) string {
	t.Helper()
	var out bytes.Buffer
	h := fnv.New64a()
	lines := 0
	opts.Stdout = &out
	if opts.Timeout == 0 {
		opts.Timeout = time.Minute
	}
	opts.Setup = func(k *xcall.Kernel) {
		k.M.AddRecorder(recorderFunc(func(e *emu.Event) {
			fmt.Fprintln(h, e.String())
			lines++
		}))
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Exec(chunk, src)
	var b strings.Builder
	fmt.Fprintf(&b, "record: %d events, fnv64a %016x\n", lines, h.Sum64())
	for _, l := range s.K.M.Log() {
		b.WriteString(l.String() + "\n")
	}
	fmt.Fprintf(&b, "stdout:\n%s\nerror: %v\nended at %d ns, panic %q, stuck %q\n",
		out.String(), err, s.K.M.Now(), s.K.Panicked(), s.K.M.Stuck())
	return b.String()
}

type recorderFunc func(e *emu.Event)

func (f recorderFunc) Record(e *emu.Event) { f(e) }

// hasNeverWaiting reports whether a chunk defines a function that never
// waits (neverWaits), anywhere in it.
func hasNeverWaiting(t *testing.T, name, src string) bool {
	t.Helper()
	chunk, err := parse.Parse(strings.NewReader(src), name)
	if err != nil {
		t.Fatal(err)
	}
	proto, err := lua.Compile(chunk, name)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(p *lua.FunctionProto) bool
	walk = func(p *lua.FunctionProto) bool {
		if neverWaits(&lua.LFunction{Proto: p}) {
			return true
		}
		for _, q := range p.FunctionPrototypes {
			if walk(q) {
				return true
			}
		}
		return false
	}
	for _, q := range proto.FunctionPrototypes {
		if walk(q) {
			return true
		}
	}
	return false
}

// TestStacklessSameRuns: a cross-called function that never waits runs
// on the engine's stack (xcall.Func.NoWait), and nothing a run shows
// changes: every built-in scenario that has such a function, on every
// built-in machine at seed 0 and under random and PCT decisions at other
// seeds, and the edge cases below (an error, the timeout, a call to this
// CPU, an async csd, a broadcast), give the same record, log, output and
// error with and without. Not parallel: it flips stacklessFuncs.
func TestStacklessSameRuns(t *testing.T) {
	type runCase struct {
		name, chunk, src string
		opts             Options
	}
	var cases []runCase
	for _, sc := range scripts.All() {
		chunk := "scripts/" + sc.Name + ".lua"
		if !hasNeverWaiting(t, chunk, sc.Source) {
			continue
		}
		if strings.Contains(sc.Source, "-- machines: its own") {
			cases = append(cases, runCase{sc.Name + "/own", chunk, sc.Source, Options{}})
			continue
		}
		for _, m := range machines.Builtins() {
			if testing.Short() && m.Name != machines.Default {
				continue
			}
			cases = append(cases, runCase{sc.Name + "/" + m.Name, chunk, sc.Source,
				Options{Machine: m.Name, MachineForced: true}})
		}
		cases = append(cases,
			runCase{sc.Name + "/seed-7", chunk, sc.Source, Options{Seed: 7}},
			runCase{sc.Name + "/pct-3", chunk, sc.Source, Options{Seed: 3, Sched: emu.SchedConfig{Strategy: emu.StrategyPCT}}})
	}
	if len(cases) < 10 {
		t.Fatalf("only %d scenario runs have a function that never waits", len(cases))
	}
	for _, c := range []struct{ name, src string }{
		{"error", `
local t = spawn(0, function()
  smp_call_function_single(1, function() local x; for i = x, 2 do end end, nil, 1)
end)
run(ms(1))`},
		{"self-async-broadcast", `
local n = 0
local function bump(info) n = info end
local t = spawn(0, function()
  smp_call_function_single(0, bump, 5, 1)
  smp_call_function_single_async(2, csd_init(bump, 6))
  on_each_cpu(function() end, nil, 1)
  smp_call_function_many("1-3", bump, 7, 0)
end)
run(ms(1))
print(n, t:done())`},
		{"timeout", `
local t = spawn(0, function()
  smp_call_function_single(1, function() while true do end end, nil, 1)
end)
run(ms(1))`},
	} {
		opts := Options{}
		if c.name == "timeout" {
			opts.Timeout = 50 * time.Millisecond
		}
		cases = append(cases, runCase{c.name, "t.lua", c.src, opts})
	}
	defer func(old bool) { stacklessFuncs = old }(stacklessFuncs)
	for _, c := range cases {
		stacklessFuncs = false
		want := runDigest(t, c.chunk, c.src, c.opts)
		stacklessFuncs = true
		got := runDigest(t, c.chunk, c.src, c.opts)
		if got != want {
			t.Errorf("%s: on the engine's stack:\n%s\nin a coroutine:\n%s", c.name, got, want)
		}
	}
}
