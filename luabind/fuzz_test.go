package luabind

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/xcall"
)

// fuzzArgs are argument expressions a generated call may get: valid and
// invalid CPU numbers, masks, waits, functions, csds and wrong types.
var fuzzArgs = []string{
	"0", "1", "2", "3", "-1", "4", "99", "-2147483649", "1.5", "nil", "true", "false",
	"'x'", "'0-3'", "'1,3'", "'9-1'", "{}", "{1,2}", "{'a'}", "cpumask('2-3')", "cpu_online_mask()",
	"f", "g", "boom", "cond", "csd", "XCALL_TYPE_SYNC", "XCALL_TYPE_ASYNC", "XCALL_TYPE_IRQ_WORK",
	"XCALL_TYPE_TTWU", "XCALL_ALL", "us(3)", "ms(1)", "0x7fffffff",
}

// fuzzExtremes are argument expressions for the top bytes (256 -
// len(fuzzExtremes) and up): numbers at and past every range, NaN and
// ±inf, and parameter names. Bytes below select fuzzArgs as they always
// did, so older corpus entries keep their meaning.
var fuzzExtremes = []string{
	"2^31", "2^53", "2^62", "2^63", "-2^63", "2^70", "0/0", "1/0", "-1/0", "-0.5",
	"2^63-4096", "1e13", "'csd_lock_timeout'", "'panic_on_ipistall'",
}

// fuzzArg is the argument expression byte v selects.
func fuzzArg(v int) string {
	if i := v - (256 - len(fuzzExtremes)); i >= 0 {
		return fuzzExtremes[i]
	}
	return fuzzArgs[v%len(fuzzArgs)]
}

// fuzzCalls are the API functions a generated script calls (name, arity).
var fuzzCalls = []struct {
	name  string
	arity int
}{
	{"smp_call_function_single", 4}, {"smp_call_function_single_async", 2}, {"smp_call_function_any", 4},
	{"smp_call_function_many", 4}, {"smp_call_function", 3}, {"on_each_cpu", 3}, {"on_each_cpu_mask", 4},
	{"on_each_cpu_cond", 4}, {"on_each_cpu_cond_mask", 5}, {"smp_call_on_cpu", 4}, {"kick_all_cpus_sync", 0},
	{"smp_xcall", 4}, {"smp_xcall_cond", 5}, {"smp_xcall_mask", 4}, {"smp_xcall_mask_cond", 5},
	{"smp_xcall_private", 3}, {"smp_xcall_any", 4}, {"cpu_down", 1}, {"cpu_up", 1},
	{"local_irq_disable", 0}, {"local_irq_enable", 0}, {"preempt_disable", 0}, {"preempt_enable", 0},
	{"udelay", 1}, {"mdelay", 1}, {"msleep", 1}, {"printk", 2}, {"cpumask", 1}, {"cpu_state", 1},
	{"ipi_drop", 2}, {"ipi_delay", 2}, {"param", 2}, {"fix", 2}, {"inject_csd", 2}, {"spawn", 2},
	{"run", 1}, {"hook", 2}, {"cpuhp_fail", 2}, {"csd_init", 2},
}

// script turns fuzz bytes into a Lua scenario: tasks and handlers making
// random API calls, each protected by pcall so that a bad argument does
// not end the script.
func script(data []byte) string {
	var b strings.Builder
	b.WriteString("param('csdlock_debug', 1)\nparam('csd_lock_timeout', 1)\n")
	b.WriteString("function f(i) udelay(1) end\nfunction g(i) smp_call_function_single(0, f, nil, 0) end\n")
	b.WriteString("function boom(i) error('boom') end\nfunction cond(cpu, i) return cpu % 2 == 0 end\ncsd = csd_init(f, nil)\n")
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		v := int(data[0])
		data = data[1:]
		return v
	}
	for task := 0; len(data) > 0 && task < 6; task++ {
		fmt.Fprintf(&b, "spawn(%d, function()\n", next()%4)
		for i := 0; i < 8 && len(data) > 0; i++ {
			c := fuzzCalls[next()%len(fuzzCalls)]
			args := make([]string, c.arity)
			for a := range args {
				args[a] = fuzzArg(next())
			}
			fmt.Fprintf(&b, "  pcall(%s)\n", strings.Join(append([]string{c.name}, args...), ", "))
		}
		b.WriteString("end)\n")
		fmt.Fprintf(&b, "pcall(run, %d)\n", 1+next()*1000)
	}
	b.WriteString("run(ms(2))\n")
	return b.String()
}

// FuzzLuaAPI: random sequences of API calls with random arguments never
// panic in Go, never hang, and keep the kernel's invariants (the
// validator, xcall/validate.go, with its time checks), whether the run
// ends cleanly or not.
func FuzzLuaAPI(f *testing.F) {
	f.Add([]byte{0, 0, 1, 21, 0, 9})
	f.Add([]byte{1, 17, 3, 7, 2, 2, 5, 200, 18, 1, 8, 2, 3, 33, 19, 2})
	f.Add([]byte("hotplug and calls racing each other"))
	f.Add([]byte{3, 9, 24, 4, 0, 0, 0, 0, 7, 8, 9, 10, 11, 12})
	for _, seed := range extremeSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src := script(data)
		var v *xcall.Validator
		// Half the inputs run on recycled states (explore's sessions),
		// after whatever the previous input left in them.
		s, err := New(Options{Timeout: 5 * time.Second, Recycle: len(data)%2 == 0, Setup: func(k *xcall.Kernel) {
			v = xcall.NewValidator()
			v.Attach(k)
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, err = s.Exec("fuzz.lua", src)
		if err != nil && strings.Contains(err.Error(), "syntax error") {
			t.Fatalf("the generator wrote bad Lua: %v\n%s", err, src)
		}
		if err != nil && strings.Contains(err.Error(), "--timeout") {
			t.Fatalf("hang:\n%s", src)
		}
		// The protocol's invariants hold on every run, a failing one too
		// (a Lua error, a panic, a stuck machine): a failure ends the run
		// early, it never excuses a csd locked twice or run on the wrong
		// CPU. Only the end-of-run check, that all queued work ran, is
		// left out: a dropped IPI or a failure may leave work behind.
		// A violation the modelled kernel commits itself, and warns about
		// at that instant, is the model being faithful (kernelWarned).
		for _, e := range v.Finish(true) {
			if !kernelWarned(s.K.M.Log(), e) {
				t.Fatalf("invariant violated (run error: %v): %s\n%s", err, e, src)
			}
		}
	})
}

// kernelWarned reports whether the validator's violation e is one the
// modelled kernel commits and catches itself: an unlock of a csd that was
// never locked, which csd_unlock()'s WARN_ON(!(csd->node.u_flags &
// CSD_FLAG_LOCK)) (kernel/smp.c) reports on the same CPU at the same
// instant. The proposed smp_xcall_private() does that when it runs an
// IRQ_WORK or TTWU csd on the caller's own CPU: it unlocks a csd it never
// locked (docs/kernel.md, "smp_xcall_private"). Any other violation is
// the emulator's.
func kernelWarned(log []emu.LogLine, e string) bool {
	var t int64
	var csd, cpu int
	if n, _ := fmt.Sscanf(e, "t=%dns csd #%d: unlocked by CPU %d while not locked", &t, &csd, &cpu); n != 3 ||
		!strings.HasSuffix(e, "while not locked") {
		return false
	}
	want := fmt.Sprintf("WARNING: CPU: %d PID: ", cpu)
	for _, l := range log {
		if l.T == t && l.CPU == cpu && strings.HasPrefix(l.Text, want) && strings.Contains(l.Text, " csd_unlock+") {
			return true
		}
	}
	return false
}

// kernelWarned excuses only the unlock the kernel warned about, on that
// CPU at that instant.
func TestKernelWarned(t *testing.T) {
	log := []emu.LogLine{
		{T: 60, CPU: 1, Text: "------------[ cut here ]------------"},
		{T: 60, CPU: 1, Text: "WARNING: CPU: 1 PID: 100 at kernel/smp.c:370 csd_unlock+0x48/0x60"},
	}
	for _, tc := range []struct {
		e    string
		want bool
	}{
		{"t=60ns csd #1: unlocked by CPU 1 while not locked", true},
		{"t=61ns csd #1: unlocked by CPU 1 while not locked", false},
		{"t=60ns csd #1: unlocked by CPU 2 while not locked", false},
		{"t=60ns csd #1: unlocked by CPU 1 while still queued on CPU 2: it could be reused while queued", false},
		{"t=60ns csd #1: locked by CPU 1 while locked", false},
	} {
		if got := kernelWarned(log, tc.e); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.e, got, tc.want)
		}
	}
}

// extremeSeeds are inputs whose calls get the extreme numbers of
// fuzzExtremes: one task per value, calling the functions with numeric
// arguments with that value everywhere (and a valid CPU or parameter name
// where the value alone would stop at the first argument).
func extremeSeeds() [][]byte {
	index := map[string]byte{}
	for i, c := range fuzzCalls {
		index[c.name] = byte(i)
	}
	base := 256 - len(fuzzExtremes)
	byName := func(src string) byte {
		for i, e := range fuzzExtremes {
			if e == src {
				return byte(base + i)
			}
		}
		for i, a := range fuzzArgs {
			if a == src {
				return byte(i)
			}
		}
		panic("no fuzz argument " + src)
	}
	var seeds [][]byte
	for i := range fuzzExtremes[:12] {
		x := byte(base + i)
		one := byName("1")
		calls := [][]byte{
			{index["param"], byName("'csd_lock_timeout'"), x},
			{index["param"], byName("'panic_on_ipistall'"), x},
			{index["ipi_delay"], one, x},
			{index["ipi_drop"], x, x},
			{index["mdelay"], x},
			{index["udelay"], x},
			{index["msleep"], x},
			{index["smp_call_function_single"], x, byName("f"), byName("nil"), x},
			{index["smp_xcall"], x, byName("f"), byName("nil"), x},
			{index["cpu_down"], x},
			{index["cpuhp_fail"], one, x},
			{index["run"], x},
			{index["spawn"], x, byName("f")},
			{index["smp_call_on_cpu"], x, byName("f"), x, x},
			{index["smp_xcall_private"], x, byName("csd"), x},
			{index["cpu_up"], x},
		}
		// Two tasks of eight calls, each followed by a short run.
		var data []byte
		for t := 0; t < 2; t++ {
			data = append(data, byte(i+t)%4)
			for _, c := range calls[8*t : 8*t+8] {
				data = append(data, c...)
			}
			data = append(data, 1)
		}
		seeds = append(seeds, data)
	}
	return seeds
}

// TestExtremeSeedsDecode: the seeds call what they mean to, with the
// extreme values, and older bytes still pick fuzzArgs.
func TestExtremeSeedsDecode(t *testing.T) {
	seeds := extremeSeeds()
	src := script(seeds[3])
	for _, want := range []string{
		"pcall(param, 'csd_lock_timeout', 2^63)", "pcall(ipi_delay, 1, 2^63)", "pcall(mdelay, 2^63)",
		"pcall(smp_call_function_single, 2^63, f, nil, 2^63)", "pcall(run, 2^63)", "pcall(cpu_up, 2^63)",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("seed 3 lacks %s:\n%s", want, src)
		}
	}
	if got := fuzzArg(200); got != fuzzArgs[200%len(fuzzArgs)] {
		t.Errorf("byte 200 gives %s", got)
	}
	if got := fuzzArg(255); got != "'panic_on_ipistall'" {
		t.Errorf("byte 255 gives %s", got)
	}
}
