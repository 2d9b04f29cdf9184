package xcall

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
)

// traceText collects every event of a run's record, one a line (the log
// lines are its printk events).
type traceText struct{ b strings.Builder }

func (s *traceText) Record(e *emu.Event) { s.b.WriteString(e.String() + "\n") }

// flushRun cross-calls functions that sometimes wait (a udelay in the
// handler) from three CPUs at once; noWait says whether the functions tell
// the handler when they will not wait, so that it runs them on the
// engine's stack; ref runs the reference flush (flush_ref_test.go) instead
// of flush.go's. It returns everything the run showed.
func flushRun(t *testing.T, machine string, seed uint64, noWait, ref bool) (string, int) {
	t.Helper()
	k := boot(t, machine)
	if seed != 0 {
		var err error
		if k, err = Boot(k.Spec, seed); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(k.Close)
	}
	if ref {
		UseReferenceFlush(k)
	}
	var out traceText
	k.M.AddRecorder(&out)
	v := NewValidator()
	v.Attach(k)
	calls, onEngine := 0, 0
	f := &Func{Name: "maybe_udelay", Fn: func(c *emu.Context, info any) error {
		calls++
		if c.Stackless() {
			onEngine++
		}
		if calls%3 == 0 {
			c.Delay(int64(100+calls), "udelay")
		}
		fmt.Fprintf(&out.b, "ran %d on %d at %d\n", calls, c.CPU, k.M.Now())
		return nil
	}}
	if noWait {
		f.NoWait = func(*emu.Context, any) bool { return (calls+1)%3 != 0 }
	}
	for cpu := 0; cpu < 3; cpu++ {
		k.M.Spawn(cpu, fmt.Sprintf("caller%d", cpu), func(c *emu.Context) {
			csd := k.NewCSD(f, nil)
			for i := 0; i < 5; i++ {
				k.SmpCallFunction(c, f, nil, true)
				k.SmpCallFunctionSingle(c, (cpu+1)%4, f, nil, i%2 == 0)
				k.SmpCallFunctionSingleAsync(c, 3, csd)
			}
		})
	}
	if err := k.M.RunUntil(1e9); err != nil {
		t.Fatal(err)
	}
	if calls < 40 {
		t.Fatalf("only %d calls ran", calls)
	}
	if errs := v.Errors(); len(errs) > 0 {
		t.Fatalf("the kernel broke its promises: %v", errs)
	}
	return fmt.Sprintf("%s%d calls, %d events, order %x\n", out.b.String(), calls, k.M.Executed(), k.M.OrderHash()), onEngine
}

// Running handler functions on the engine's stack, or in a coroutine,
// executes the same events in the same order, with the same output.
func TestFlushOnEngineStackSameAsInCoroutine(t *testing.T) {
	for _, machine := range []string{"x86-4", "arm64-8"} {
		for _, seed := range []uint64{0, 3} {
			want, none := flushRun(t, machine, seed, false, false)
			got, some := flushRun(t, machine, seed, true, false)
			if got != want {
				t.Fatalf("%s seed %d: the run differs with NoWait\n%s", machine, seed, firstDiff(got, want))
			}
			if none != 0 || some == 0 {
				t.Fatalf("%s seed %d: %d and %d calls ran on the engine's stack, want 0 and some", machine, seed, none, some)
			}
		}
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n got  %s\n want %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(al), len(bl))
}

// The steps of flush.go and the straight-line reference flush give the
// same runs, with functions that wait (in a coroutine) and with functions
// that run on the engine's stack.
func TestReferenceFlushSameRuns(t *testing.T) {
	for _, machine := range []string{"x86-4", "arm64-8"} {
		for _, seed := range []uint64{0, 3} {
			for _, noWait := range []bool{false, true} {
				want, _ := flushRun(t, machine, seed, noWait, false)
				got, _ := flushRun(t, machine, seed, noWait, true)
				if got != want {
					t.Fatalf("%s seed %d noWait %v: the reference flush differs\n%s", machine, seed, noWait, firstDiff(got, want))
				}
			}
		}
	}
}

// flushMixRun queues entries of every type (SYNC, ASYNC, IRQ_WORK, TTWU,
// through smp_xcall_private) on busy CPUs, with a hook at the dequeued
// point, and functions that sometimes wait; noWait and ref as for flushRun.
func flushMixRun(t *testing.T, machine string, noWait, ref bool) string {
	t.Helper()
	k := boot(t, machine)
	if ref {
		UseReferenceFlush(k)
	}
	var out traceText
	k.M.AddRecorder(&out)
	hooks := 0
	k.SetHook("flush_smp_call_function_queue:dequeued", func(cpu int, point string) error {
		hooks++
		fmt.Fprintf(&out.b, "hook %d on %d at %d\n", hooks, cpu, k.M.Now())
		return nil
	})
	calls := 0
	f := &Func{Name: "mixed", Fn: func(c *emu.Context, info any) error {
		calls++
		if calls%4 == 0 {
			c.Delay(int64(50+calls), "udelay")
		}
		fmt.Fprintf(&out.b, "ran %v (%d) on %d at %d\n", info, calls, c.CPU, k.M.Now())
		return nil
	}}
	if noWait {
		f.NoWait = func(*emu.Context, any) bool { return (calls+1)%4 != 0 }
	}
	types := []uint32{CSDTypeSync, CSDTypeAsync, CSDTypeIRQWork, CSDTypeTTWU}
	for cpu := 0; cpu < 3; cpu++ {
		k.M.Spawn(cpu, fmt.Sprintf("caller%d", cpu), func(c *emu.Context) {
			for i := 0; i < 12; i++ {
				typ := types[(i+cpu)%len(types)]
				csd := k.NewCSD(f, fmt.Sprintf("%d/%d type %#x", cpu, i, typ))
				dst := 3
				if i%3 == 1 {
					dst = (cpu + 1) % 4
				}
				// Only the SYNC ones wait: the others pile up behind them.
				k.SmpXcallPrivate(c, dst, csd, typ)
			}
		})
	}
	if err := k.M.RunUntil(1e9); err != nil {
		t.Fatal(err)
	}
	if calls < 30 || hooks == 0 {
		t.Fatalf("only %d calls ran, %d hooks", calls, hooks)
	}
	return fmt.Sprintf("%s%d calls, %d events, order %x\n", out.b.String(), calls, k.M.Executed(), k.M.OrderHash())
}

// The same for every type of entry: IRQ_WORK and TTWU entries reach
// passes 2 and 3, which the golden scenarios do not.
func TestReferenceFlushAllTypes(t *testing.T) {
	for _, machine := range []string{"x86-4", "arm64-8"} {
		for _, noWait := range []bool{false, true} {
			want := flushMixRun(t, machine, noWait, false)
			got := flushMixRun(t, machine, noWait, true)
			if got != want {
				t.Fatalf("%s noWait %v: the reference flush differs\n%s", machine, noWait, firstDiff(got, want))
			}
			if !strings.Contains(want, "type 0x30") || !strings.Contains(want, "type 0x20") {
				t.Fatalf("%s: no IRQ_WORK or TTWU entry ran:\n%s", machine, want)
			}
		}
	}
}
