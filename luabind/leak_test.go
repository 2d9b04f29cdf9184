package luabind

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/xcall"
)

// heapAfter runs src in a session and returns the heap in use after a
// full collection, with the session still open (so what it keeps counts).
// The register-write log is off: it keeps up to xcall.MaxWrites writes by
// design, for irqchip_writes().
func heapAfter(t testing.TB, src string) uint64 {
	t.Helper()
	s, err := New(Options{Setup: func(k *xcall.Kernel) { k.RecordWrites = false }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Exec("leak.lua", src); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(s)
	return ms.HeapInuse
}

// TestMemoryFlat: what a script no longer holds is collected, so a loop
// of calls keeps the heap flat: 4 times as many calls (a closure made per
// call, a csd per call, a kworker per call, a task per iteration) leave
// the heap within 2 MiB of where it was. Before, every function ever
// passed stayed in a table (about 200 bytes a call) and every finished
// thread in the machine's list (a task's Lua thread with it: 24 KiB).
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("runs half a million cross-calls")
	}
	const margin = 2 << 20
	loop := func(body string) func(n int) string {
		return func(n int) string {
			return fmt.Sprintf("function f() end\nlocal t = spawn(2, function() for i = 1, %d do %s end end)\nrun(s(1000))\nassert(t:done())", n, body)
		}
	}
	cases := []struct {
		name string
		n    int
		src  func(n int) string
	}{
		{"closure per call", 50000, loop("smp_call_function_single(3, function() end, nil, 1)")},
		{"function made once", 50000, loop("smp_call_function_single(3, f, nil, 1)")},
		{"csd per call", 20000, loop("smp_call_function_single_async(3, csd_init(function() end))")},
		{"cond per call", 10000, loop("on_each_cpu_cond(function() return true end, function() end, nil, 1)")},
		{"kworker per call", 10000, loop("smp_call_on_cpu(3, function() end)")},
		{"task per iteration", 2000, func(n int) string {
			return fmt.Sprintf("for i = 1, %d do spawn(i %% 4, function() smp_call_function_single(3, function() end, nil, 1) end) run(us(100)) end", n)
		}},
	}
	for _, c := range cases {
		small := heapAfter(t, c.src(c.n))
		big := heapAfter(t, c.src(4*c.n))
		t.Logf("%s: %d KiB after %d, %d KiB after %d", c.name, small>>10, c.n, big>>10, 4*c.n)
		if big > small+margin {
			t.Errorf("%s: the heap grew from %d KiB after %d to %d KiB after %d (%d bytes per iteration)",
				c.name, small>>10, c.n, big>>10, 4*c.n, (big-small)/uint64(3*c.n))
		}
	}
}

// nameSink collects the function names of csd_function_entry events.
type nameSink struct{ names []string }

func (s *nameSink) Record(e *emu.Event) {
	if e.Kind == emu.EvCSDFuncEntry {
		s.names = append(s.names, e.Func)
	}
}

// TestFuncKeepsItsName: a function keeps the name it got on its first
// call for as long as it exists, across collections and whatever the
// globals become, as when the session kept a table of them.
func TestFuncKeepsItsName(t *testing.T) {
	sink := &nameSink{}
	s, err := New(Options{Setup: func(k *xcall.Kernel) { k.M.AddRecorder(sink) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	steps := []string{
		"local h = function() end\nkeep = {h}\nspawn(0, function() smp_call_function_single(1, h, nil, 1) end)\nrun(ms(1))",
		"handler = keep[1]\nspawn(0, function() smp_call_function_single(1, handler, nil, 1) end)\nrun(ms(1))",
		"function named() end\nspawn(0, function() smp_call_function_single(1, named, nil, 1) end)\nrun(ms(1))",
		"other = named\nnamed = nil\nspawn(0, function() smp_call_function_single(1, other, nil, 1) end)\nrun(ms(1))",
		// A closure per call: each gets its line's name.
		"spawn(0, function() for i = 1, 3 do smp_call_function_single(1, function() end, nil, 1) end end)\nrun(ms(1))",
	}
	for i, src := range steps {
		if _, err := s.Exec(fmt.Sprintf("s%d.lua", i), src); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		runtime.GC()
	}
	got := strings.Join(sink.names, " ")
	if want := "s0_1 s0_1 named named s4_1 s4_1 s4_1"; got != want {
		t.Errorf("names %q, want %q", got, want)
	}
}

// TestHiddenUpvalue: the Func hung off a function does not disturb its
// upvalues, nor closures made inside it, nor a Go function passed as one.
func TestHiddenUpvalue(t *testing.T) {
	var out strings.Builder
	s, err := New(Options{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	src := `local n, m = 0, 10
local function inc(info)
  n = n + info
  local g = function() m = m + 1 return n + m end
  last = g()
end
spawn(0, function()
  smp_call_function_single(1, inc, 1, 1)
  smp_call_function_single(2, inc, 2, 1)
  smp_call_function_single(3, print, "go function", 1)
  smp_call_function_single(3, print, "again", 1)
  inc(4)
end)
run(ms(1))
print(n, m, last)`
	if _, err := s.Exec("t.lua", src); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "go function\nagain\n7\t13\t20\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
