package luabind

import (
	"strings"
	"testing"
	"time"
)

// exec runs src in a fresh session on the default machine and returns the
// error message ("" if none).
func exec(t *testing.T, opts Options, src string) string {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Exec("t.lua", src)
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestSandbox(t *testing.T) {
	for _, src := range []string{
		`assert(io == nil and os == nil and debug == nil and package == nil)`,
		`assert(dofile == nil and loadfile == nil and require == nil and module == nil)`,
		`assert(string.dump == nil and collectgarbage == nil)`,
		// loadstring compiles source text only: a bytecode chunk is refused.
		`local f, err = loadstring("\27Lua\81\0\1\4\8\4\8\0"); assert(f == nil and err)`,
		`local f = loadstring("return 1 + 1"); assert(f() == 2)`,
	} {
		if msg := exec(t, Options{}, src); msg != "" {
			t.Errorf("%s: %s", src, msg)
		}
	}
}

// math.random draws from the run's seeded generator: the same draws for
// the same seed, other draws for another seed.
func TestMathRandomIsSeeded(t *testing.T) {
	draw := func(seed uint64) string {
		s, err := New(Options{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		v, err := s.Exec("t.lua", "return math.random(1000000), math.random(), math.random(5, 9)")
		if err != nil {
			t.Fatal(err)
		}
		return v[0].String() + " " + v[1].String() + " " + v[2].String()
	}
	if a, b := draw(3), draw(3); a != b {
		t.Errorf("seed 3 gave %s then %s", a, b)
	}
	if draw(3) == draw(4) {
		t.Error("seeds 3 and 4 drew the same")
	}
}

func TestErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"spawn(9, function() end)", "t.lua:1: bad argument #1 to 'spawn' (cpu 9 out of range 0-3)"},
		{"spawn(0, function()\n smp_call_function_single('x', function() end, nil, 1)\nend)\nrun(1000)",
			"t.lua:2: bad argument #1 to 'smp_call_function_single' (number expected, got string)"},
		{"smp_call_function_single(1, function() end, nil, 1)",
			"t.lua:1: smp_call_function_single: must be called from a task or a cross-called function"},
		{"spawn(0, function()\n error('in a task')\nend)\nrun(1000)", "t.lua:2: in a task"},
		{"spawn(0, function()\n smp_call_function_single(2, function()\n  error('in a handler')\n end, nil, 1)\nend)\nrun(ms(1))",
			"t.lua:3: in a handler"},
		{"local function f() return f() + 1 end\nf()", "t.lua:1: stack overflow"},
		{"spawn(0, function()\n smp_call_function_single(1, function() msleep(1) end, nil, 1)\nend)\nrun(ms(1))",
			"t.lua:2: msleep: BUG: sleeping function called from invalid context"},
		{"spawn(0, function()\n preempt_disable()\n cpu_down(2)\nend)\nrun(ms(1))",
			"t.lua:3: cpu_down: BUG: sleeping function called from invalid context"},
		{"local s = string.rep('x', 1e10)", "t.lua:1: bad argument #2 to 'rep' (result of 10000000000 bytes exceeds the limit of 64 MiB)"},
		{"run(-1)", "t.lua:1: bad argument #1 to 'run' (duration -1 out of range 0-31536000000000000)"},
		{"param('nope')", `t.lua:1: bad argument #1 to 'param' (unknown parameter "nope"`},
		{"fix('nope', true)", `t.lua:1: bad argument #1 to 'fix' (unknown fix "nope"`},
		{"hook('nowhere', function() end)", `t.lua:1: bad argument #1 to 'hook' (unknown point "nowhere"`},
	} {
		got := exec(t, Options{}, tc.src)
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q:\n got  %s\n want %s", tc.src, got, tc.want)
		}
	}
}

func TestLimits(t *testing.T) {
	got := exec(t, Options{Timeout: 200 * time.Millisecond}, "spawn(1, function()\n while true do end\nend)\nrun(ms(1))")
	if got != "t.lua:2: stopped: the run took longer than the --timeout of 200ms (host time)" {
		t.Errorf("runaway task: %s", got)
	}
	got = exec(t, Options{Timeout: 200 * time.Millisecond}, "local x = 0\nwhile true do x = x + 1 end")
	if got != "t.lua:2: stopped: the run took longer than the --timeout of 200ms (host time)" {
		t.Errorf("runaway top level: %s", got)
	}
	got = exec(t, Options{MemoryLimit: 256 << 20, Timeout: time.Minute},
		"local t = {}\nfor i = 1, 1e9 do t[i] = {i, i, i} end")
	if !strings.Contains(got, "stopped: the run used more than 256 MiB of memory") {
		t.Errorf("memory: %s", got)
	}
	got = exec(t, Options{}, "run(s(1e9))")
	if got != "t.lua:1: bad argument #1 to 's' (s 1000000000 out of range 0-31536000)" {
		t.Errorf("virtual time: %s", got)
	}
}
