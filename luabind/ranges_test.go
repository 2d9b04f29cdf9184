package luabind

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// special are the values every numeric argument is tried with: Lua source
// and the text the error message shows for it ("" when the number has no
// integer representation).
var special = []struct{ src, text string }{
	{"-1", "-1"},
	{"2^31", "2147483648"},
	{"2^53", "9007199254740992"},
	{"2^62", "4611686018427387904"},
	{"2^63", "9.223372036854776e+18"},
	{"-2^63", "-9223372036854775808"},
	{"2^70", "1.1805916207174113e+21"},
	{"-2^70", "-1.1805916207174113e+21"},
	{"0/0", ""},
	{"1/0", ""},
	{"-1/0", ""},
	{"1.5", ""},
	{"-0.5", ""},
}

// rangeArg is one numeric argument of one binding.
type rangeArg struct {
	call   string // the call, %s standing for the argument
	kernel bool   // called from a task (kernel code) rather than top level
	fname  string
	n      int
	what   string
	lo, hi int64
	// For a kernel function's CPU: what the call gives (as print shows it)
	// for a CPU out of range, instead of an error.
	enxio string
	// typeErr is the complaint about a string argument.
	typeErr string
}

// rangeArgs lists every numeric argument of the API on the default machine
// (4 CPUs).
var rangeArgs = []rangeArg{
	// Operator functions.
	{call: "spawn(%s, print)", fname: "spawn", n: 1, what: "cpu", lo: 0, hi: 3},
	{call: "run(%s)", fname: "run", n: 1, what: "duration", lo: 0, hi: 31536000000000000},
	{call: "param('csd_lock_timeout', %s)", fname: "param", n: 2, what: "csd_lock_timeout", lo: 0, hi: 2147483647},
	{call: "param('panic_on_ipistall', %s)", fname: "param", n: 2, what: "panic_on_ipistall", lo: 0, hi: 2147483647},
	{call: "param('csdlock_debug', %s)", fname: "param", n: 2, what: "csdlock_debug", lo: 0, hi: 1},
	{call: "ipi_drop(%s)", fname: "ipi_drop", n: 1, what: "cpu", lo: 0, hi: 3},
	{call: "ipi_drop(1, %s)", fname: "ipi_drop", n: 2, what: "n", lo: 0, hi: 2147483647},
	{call: "ipi_delay(%s, 0)", fname: "ipi_delay", n: 1, what: "cpu", lo: 0, hi: 3},
	{call: "ipi_delay(1, %s)", fname: "ipi_delay", n: 2, what: "d", lo: 0, hi: 31536000000000000},
	{call: "cpu_state(%s)", fname: "cpu_state", n: 1, what: "cpu", lo: 0, hi: 3},
	{call: "cpuhp_fail(%s, 'smpcfd:prepare')", fname: "cpuhp_fail", n: 1, what: "cpu", lo: 0, hi: 3},
	{call: "cpuhp_fail(1, 'smpcfd:prepare', %s)", fname: "cpuhp_fail", n: 3, what: "errno", lo: 1, hi: 4095},
	{call: "inject_csd(%s, print)", fname: "inject_csd", n: 1, what: "cpu", lo: 0, hi: 3},
	// Kernel functions: a CPU out of range is the kernel's answer.
	{call: "cpu_online(%s)", fname: "cpu_online", n: 1, enxio: "false"},
	{call: "cpu_to_node(%s)", fname: "cpu_to_node", n: 1, enxio: "-1"},
	{call: "tostring(cpumask_of(%s))", fname: "cpumask_of", n: 1, enxio: ""},
	{call: "cpu_online_mask():test(%s)", fname: "test", n: 2, enxio: "false"},
	{call: "smp_call_function_single(%s, print, nil, 1)", kernel: true, fname: "smp_call_function_single", n: 1, enxio: "-6"},
	{call: "smp_call_function_single_async(%s, csd_init(print))", kernel: true, fname: "smp_call_function_single_async", n: 1, enxio: "-6"},
	{call: "smp_call_on_cpu(%s, print)", kernel: true, fname: "smp_call_on_cpu", n: 1, enxio: "-6"},
	{call: "smp_xcall(%s, print, nil, 0)", kernel: true, fname: "smp_xcall", n: 1, enxio: "-6"},
	{call: "smp_xcall_cond(%s, print, nil, nil, 0)", kernel: true, fname: "smp_xcall_cond", n: 1, enxio: "-6"},
	{call: "smp_xcall_private(%s, csd_init(print), 0)", kernel: true, fname: "smp_xcall_private", n: 1, enxio: "-6"},
	{call: "cpu_down(%s)", kernel: true, fname: "cpu_down", n: 1, enxio: "-22"},
	{call: "cpu_up(%s)", kernel: true, fname: "cpu_up", n: 1, enxio: "-22"},
	// Kernel functions: the other numbers.
	{call: "local_irq_restore(%s)", kernel: true, fname: "local_irq_restore", n: 1, what: "flags", lo: 0, hi: 4294967295},
	{call: "ndelay(%s)", kernel: true, fname: "ndelay", n: 1, what: "ns", lo: 0, hi: 31536000000000000},
	{call: "udelay(%s)", kernel: true, fname: "udelay", n: 1, what: "us", lo: 0, hi: 31536000000000},
	{call: "mdelay(%s)", kernel: true, fname: "mdelay", n: 1, what: "ms", lo: 0, hi: 31536000000},
	{call: "msleep(%s)", kernel: true, fname: "msleep", n: 1, what: "ms", lo: 0, hi: 31536000000},
	{call: "smp_call_function_single(1, print, nil, %s)", kernel: true, fname: "smp_call_function_single", n: 4, what: "wait", lo: 0, hi: 1, typeErr: "boolean or number expected, got string"},
	{call: "smp_call_function_many('1', print, nil, %s)", kernel: true, fname: "smp_call_function_many", n: 4, what: "wait", lo: 0, hi: 1, typeErr: "boolean or number expected, got string"},
	{call: "smp_call_function_any('1', print, nil, %s)", kernel: true, fname: "smp_call_function_any", n: 4, what: "wait", lo: 0, hi: 1, typeErr: "boolean or number expected, got string"},
	{call: "smp_call_function(print, nil, %s)", kernel: true, fname: "smp_call_function", n: 3, what: "wait", lo: 0, hi: 1, typeErr: "boolean or number expected, got string"},
	{call: "on_each_cpu(print, nil, %s)", kernel: true, fname: "on_each_cpu", n: 3, what: "wait", lo: 0, hi: 1, typeErr: "boolean or number expected, got string"},
	{call: "on_each_cpu_mask('1', print, nil, %s)", kernel: true, fname: "on_each_cpu_mask", n: 4, what: "wait", lo: 0, hi: 1, typeErr: "boolean or number expected, got string"},
	{call: "on_each_cpu_cond(print, print, nil, %s)", kernel: true, fname: "on_each_cpu_cond", n: 4, what: "wait", lo: 0, hi: 1, typeErr: "boolean or number expected, got string"},
	{call: "on_each_cpu_cond_mask(print, print, nil, %s, '1')", kernel: true, fname: "on_each_cpu_cond_mask", n: 4, what: "wait", lo: 0, hi: 1, typeErr: "boolean or number expected, got string"},
	{call: "smp_call_on_cpu(1, print, nil, %s)", kernel: true, fname: "smp_call_on_cpu", n: 4, what: "phys", lo: 0, hi: 1, typeErr: "boolean or number expected, got string"},
	{call: "smp_xcall(1, print, nil, %s)", kernel: true, fname: "smp_xcall", n: 4, what: "flags", lo: 0, hi: 255},
	{call: "smp_xcall_cond(1, print, nil, nil, %s)", kernel: true, fname: "smp_xcall_cond", n: 5, what: "flags", lo: 0, hi: 255},
	{call: "smp_xcall_mask('1', print, nil, %s)", kernel: true, fname: "smp_xcall_mask", n: 4, what: "flags", lo: 0, hi: 255},
	{call: "smp_xcall_mask_cond('1', print, nil, nil, %s)", kernel: true, fname: "smp_xcall_mask_cond", n: 5, what: "flags", lo: 0, hi: 255},
	{call: "smp_xcall_private(1, csd_init(print), %s)", kernel: true, fname: "smp_xcall_private", n: 3, what: "flags", lo: 0, hi: 255},
	{call: "smp_xcall_any('1', print, nil, %s)", kernel: true, fname: "smp_xcall_any", n: 4, what: "flags", lo: 0, hi: 255},
}

// want is what `print(pcall(function() return CALL end))` prints for the
// value v of a, on line line; "" when v is in range (not checked).
func (a rangeArg) want(v float64, src, text string, line int) string {
	bad := func(msg string) string {
		return fmt.Sprintf("false\tt.lua:%d: bad argument #%d to '%s' (%s)", line, a.n, a.fname, msg)
	}
	switch {
	case src == "'x'":
		if a.typeErr != "" {
			return bad(a.typeErr)
		}
		return bad("number expected, got string")
	case text == "":
		return bad("number has no integer representation")
	case a.what == "":
		if v >= 0 && v < 4 || v == -1 && strings.HasPrefix(a.fname, "smp_xcall") {
			return "" // a valid CPU, or XCALL_ALL
		}
		return "true\t" + a.enxio
	case v >= float64(a.lo) && v <= float64(a.hi):
		return ""
	}
	return bad(fmt.Sprintf("%s %s out of range %d-%d", a.what, text, a.lo, a.hi))
}

// TestArgumentRanges calls every numeric argument of every binding with
// values out of its range, NaN, ±inf, huge and fractional numbers and a
// string, and checks the exact error, or the kernel's answer for a CPU.
func TestArgumentRanges(t *testing.T) {
	for _, a := range rangeArgs {
		t.Run(a.fname+"#"+strconv.Itoa(a.n)+"/"+a.call, func(t *testing.T) {
			vals := append([]struct{ src, text string }{{"'x'", "x"}}, special...)
			if a.what != "" {
				vals = append(vals, struct{ src, text string }{strconv.FormatInt(a.lo-1, 10), strconv.FormatInt(a.lo-1, 10)})
				if a.hi < 1<<53 {
					vals = append(vals, struct{ src, text string }{strconv.FormatInt(a.hi+1, 10), strconv.FormatInt(a.hi+1, 10)})
				} else {
					vals = append(vals, struct{ src, text string }{strconv.FormatInt(2*a.hi, 10), strconv.FormatInt(2*a.hi, 10)})
				}
			} else {
				vals = append(vals, struct{ src, text string }{"4", "4"}, struct{ src, text string }{"-2", "-2"})
			}
			var src strings.Builder
			var want []string
			line := 1
			if a.kernel {
				src.WriteString("spawn(0, function()\n")
				line = 2
			}
			for _, v := range vals {
				f := lua2float(t, v.src)
				w := a.want(f, v.src, v.text, line)
				if w == "" {
					continue
				}
				want = append(want, w)
				fmt.Fprintf(&src, "print(pcall(function() return "+a.call+" end))\n", v.src)
				line++
			}
			if a.kernel {
				src.WriteString("end)\nrun(ms(1))\n")
			}
			var out strings.Builder
			s, err := New(Options{Stdout: &out})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Exec("t.lua", src.String()); err != nil {
				t.Fatalf("%v\n%s", err, src.String())
			}
			got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(got) != len(want) {
				t.Fatalf("got %d lines, want %d:\n%s\nscript:\n%s", len(got), len(want), out.String(), src.String())
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("line %d:\n got  %s\n want %s", i+1, got[i], want[i])
				}
			}
		})
	}
}

// lua2float is the value of one of the test's Lua expressions.
func lua2float(t *testing.T, src string) float64 {
	switch src {
	case "'x'":
		return math.NaN()
	case "0/0":
		return math.NaN()
	case "1/0":
		return math.Inf(1)
	case "-1/0":
		return math.Inf(-1)
	}
	if b, e, ok := strings.Cut(src, "^"); ok {
		exp, err := strconv.Atoi(e)
		if err != nil {
			t.Fatal(err)
		}
		sign := 1.0
		if b == "-2" {
			sign = -1
		}
		return sign * math.Pow(2, float64(exp))
	}
	f, err := strconv.ParseFloat(src, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRangeMessages pins the messages of the cases that used to overflow,
// and the limits that do not show in a single argument's range.
func TestRangeMessages(t *testing.T) {
	cases := []struct{ src, want string }{
		// The brief: 2^62 ms used to overflow into a report every few ns.
		{`print(pcall(function() return param("csd_lock_timeout", 2^62) end))`,
			"false\tt.lua:1: bad argument #2 to 'param' (csd_lock_timeout 4611686018427387904 out of range 0-2147483647)"},
		{`print(param("csd_lock_timeout", 2^31-1), param("csd_lock_timeout"))`, "5000\t2147483647"},
		{`print(param("csdlock_debug", true), param("csdlock_debug", false), param("csdlock_debug"))`, "0\t1\t0"},
		{`print(pcall(function() return ipi_delay(1, 2^63-4096) end))`,
			"false\tt.lua:1: bad argument #2 to 'ipi_delay' (d 9223372036854771712 out of range 0-31536000000000000)"},
		// Units: any finite number, rounded to whole ns, up to a year.
		{`print(ns(7), us(1.1), ms(0.5), s(1), ns(1.5), s(365*24*3600))`, "7\t1100\t500000\t1000000000\t2\t31536000000000000"},
		{`print(pcall(function() return s(365*24*3600+1) end))`,
			"false\tt.lua:1: bad argument #1 to 's' (s 31536001 out of range 0-31536000)"},
		{`print(pcall(function() return ms(-1) end))`,
			"false\tt.lua:1: bad argument #1 to 'ms' (ms -1 out of range 0-31536000000)"},
		{`print(pcall(function() return us(2^70) end))`,
			"false\tt.lua:1: bad argument #1 to 'us' (us 1.1805916207174113e+21 out of range 0-31536000000000)"},
		{`print(pcall(function() return ns(0/0) end))`,
			"false\tt.lua:1: bad argument #1 to 'ns' (number has no integer representation)"},
		{`print(pcall(function() return s(1/0) end))`,
			"false\tt.lua:1: bad argument #1 to 's' (number has no integer representation)"},
		{`print(pcall(function() return ms('x') end))`,
			"false\tt.lua:1: bad argument #1 to 'ms' (number expected, got string)"},
		// Pending drops add up to an int at most.
		{"ipi_drop(1, 2^31-2)\nipi_drop(1)\nprint(pcall(function() return ipi_drop(1, 1) end))\nipi_drop(2, 2^31-1)\nprint('done')",
			"false\tt.lua:3: bad argument #2 to 'ipi_drop' (n 1 out of range 0-0)\ndone"},
		// The clock stops at a century: a run that would pass it is refused.
		{"for i = 1, 99 do run(s(365*24*3600)) end\nrun(s(365*24*3600) - 2^20)\nprint(pcall(function() return run(2^20 + 1) end))\nprint(run(2^20), now())",
			"false\tt.lua:3: bad argument #1 to 'run' (duration 1048577 out of range 0-1048576 (virtual time stops at 100 years))\nok\t3153600000000000000"},
		// A table of CPU numbers: out of range is left out, a fraction is an error.
		{`print(cpumask({1, 2^63, -2^63, -1, 99, 2^70}))`, "1"},
		{`print(pcall(function() return cpumask({1, 0/0}) end))`,
			"false\tt.lua:1: bad argument #1 to 'cpumask' (array of CPU numbers expected, found NaN)"},
		{`print(pcall(function() return cpumask({1, 2.5, 'x'}) end))`,
			"false\tt.lua:1: bad argument #1 to 'cpumask' (array of CPU numbers expected, found 2.5)"},
		// smp_call_on_cpu's function returns an int.
		{"spawn(0, function() print(smp_call_on_cpu(1, function() return -7 end), smp_call_on_cpu(1, function() return 'x' end)) end)\nrun(ms(1))",
			"-7\t0"},
	}
	for _, c := range cases {
		var out strings.Builder
		s, err := New(Options{Stdout: &out})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Exec("t.lua", c.src); err != nil {
			t.Errorf("%s: %v", c.src, err)
		}
		s.Close()
		if got := strings.TrimSuffix(out.String(), "\n"); got != strings.TrimSuffix(c.want, "\n") {
			t.Errorf("%s:\n got  %q\n want %q", c.src, got, c.want)
		}
	}
}

// TestOnCPUResultNotAnInt: a function smp_call_on_cpu runs must return an
// int; 2^40 fails the run, naming the function's line.
func TestOnCPUResultNotAnInt(t *testing.T) {
	for _, v := range []string{"2^40", "1.5", "0/0", "-2^31-1"} {
		got := exec(t, Options{}, "spawn(0, function()\n smp_call_on_cpu(1, function()\n return "+v+"\n end)\nend)\nrun(ms(1))")
		f := map[string]float64{"2^40": 1 << 40, "1.5": 1.5, "0/0": math.NaN(), "-2^31-1": -1<<31 - 1}[v]
		want := fmt.Sprintf("t.lua:2: smp_call_on_cpu: func returned %s, not an int (-2147483648-2147483647)", numText(f))
		if got != want {
			t.Errorf("return %s:\n got  %s\n want %s", v, got, want)
		}
	}
}

// TestInfoAddr: an info number prints as itself only when it is a whole
// number below 2^64; others get the hashed address, the same on every
// architecture (a float past 2^64 converts to uint64 differently on each).
func TestInfoAddr(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want uint64
	}{{0, 0}, {5, 5}, {1 << 63, 1 << 63}, {1<<64 - 2048, 1<<64 - 2048}} {
		if got := (luaInfo{lua.LNumber(c.v)}).Addr(); got != c.want {
			t.Errorf("Addr(%v) = %#x, want %#x", c.v, got, c.want)
		}
	}
	for _, v := range []float64{1 << 64, 1 << 70, -1, 1.5, math.NaN(), math.Inf(1)} {
		got := (luaInfo{lua.LNumber(v)}).Addr()
		if got&^0xffffffff != 0xffff888000000000 {
			t.Errorf("Addr(%v) = %#x, want a hashed address", v, got)
		}
	}
}

// TestCPUHPFailLimit: failures waiting for a bring-up are bounded.
func TestCPUHPFailLimit(t *testing.T) {
	got := exec(t, Options{}, "for i = 1, 4096 do cpuhp_fail(i % 4, 'smpcfd:prepare') end\ncpuhp_fail(1, 'smpcfd:prepare')")
	if want := "t.lua:2: cpuhp_fail: too many failures waiting for a bring-up (limit 4096)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
