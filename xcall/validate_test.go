package xcall

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
)

// ev builds an Event; Dst is -1 unless given.
func ev(t int64, kind EventKind, csd, cpu int, dst ...int) Event {
	e := Event{T: t, Kind: kind, CSD: csd, CPU: cpu, Dst: -1}
	if len(dst) > 0 {
		e.Dst = dst[0]
	}
	return e
}

func typed(e Event, typ uint32) Event { e.Type = typ; return e }

// syncCall is a remote SYNC single call of csd from CPU src to dst,
// starting at t: the whole clean protocol.
func syncCall(t int64, csd, src, dst int) []Event {
	return []Event{
		typed(ev(t, EvLock, csd, src), CSDTypeSync),
		typed(ev(t+10, EvQueue, csd, src, dst), CSDTypeSync),
		typed(ev(t+20, EvDequeue, csd, dst, dst), CSDTypeSync),
		typed(ev(t+30, EvRun, csd, dst, dst), CSDTypeSync),
		ev(t+40, EvUnlock, csd, dst),
		ev(t+50, EvWaitDone, csd, src),
	}
}

func feed(v *Validator, events []Event) {
	for _, e := range events {
		v.KernelEvent(e)
	}
}

func concat(parts ...[]Event) []Event {
	var out []Event
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestValidatorClean(t *testing.T) {
	events := concat(
		syncCall(0, 1, 0, 1),
		// ASYNC single call (wait=0) on the per-CPU csd, twice: unlock
		// before the run, then reuse.
		[]Event{
			ev(100, EvLock, 2, 0),
			ev(110, EvQueue, 2, 0, 3),
			ev(120, EvDequeue, 2, 3, 3),
			ev(130, EvUnlock, 2, 3),
			ev(130, EvRun, 2, 3, 3),
			ev(140, EvLock, 2, 0),
			ev(150, EvQueue, 2, 0, 2),
			ev(160, EvDequeue, 2, 2, 2),
			// fix async_unlock_before_func off: run, then unlock.
			ev(170, EvRun, 2, 2, 2),
			ev(180, EvUnlock, 2, 2),
		},
		// A self call: unlock, then run inline.
		[]Event{
			typed(ev(200, EvLock, 3, 1), CSDTypeSync),
			typed(ev(200, EvUnlock, 3, 1), CSDTypeSync),
			ev(200, EvRun, 3, 1),
			ev(210, EvWaitDone, 3, 1),
		},
		// -ENXIO: locked, unlocked, the waiter returns.
		[]Event{
			typed(ev(300, EvLock, 4, 0), CSDTypeSync),
			ev(300, EvUnlock, 4, 0),
			ev(300, EvWaitDone, 4, 0),
		},
		// Many-path with wait: locked ASYNC, SYNC OR'ed in before the
		// queue; a local run without a csd.
		[]Event{
			ev(400, EvLock, 5, 0),
			typed(ev(400, EvQueue, 5, 0, 1), CSDTypeSync),
			ev(400, EvLock, 6, 0),
			typed(ev(400, EvQueue, 6, 0, 2), CSDTypeSync),
			ev(410, EvRun, 0, 0),
			ev(420, EvDequeue, 5, 1, 1),
			ev(420, EvDequeue, 6, 2, 2),
			ev(430, EvRun, 5, 1, 1),
			ev(430, EvRun, 6, 2, 2),
			ev(440, EvUnlock, 5, 1),
			ev(440, EvUnlock, 6, 2),
			ev(450, EvWaitDone, 5, 0),
			ev(450, EvWaitDone, 6, 0),
		},
		// An irq_work-type csd: claimed without the lock bit, run, claimed again.
		[]Event{
			typed(ev(500, EvLock, 7, 0), CSDTypeIRQWork),
			typed(ev(500, EvQueue, 7, 0, 1), CSDTypeIRQWork),
			typed(ev(510, EvDequeue, 7, 1, 1), CSDTypeIRQWork),
			ev(520, EvRun, 7, 1, 1),
			typed(ev(530, EvLock, 7, 0), CSDTypeIRQWork),
			typed(ev(530, EvQueue, 7, 0, 1), CSDTypeIRQWork),
			typed(ev(540, EvDequeue, 7, 1, 1), CSDTypeIRQWork),
			ev(550, EvRun, 7, 1, 1),
		},
	)
	v := NewValidator()
	feed(v, events)
	if errs := v.Finish(false); len(errs) != 0 {
		t.Errorf("clean stream: %d violations:\n%s", len(errs), strings.Join(errs, "\n"))
	}
}

func TestValidatorReportsBrokenStreams(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []Event
		// allowPending is passed to Finish.
		allowPending bool
		want         []string // substrings, one per expected violation, in order
	}{{
		name: "run twice",
		events: concat(syncCall(0, 1, 0, 1)[:4],
			[]Event{typed(ev(35, EvRun, 1, 1, 1), CSDTypeSync)},
			syncCall(0, 1, 0, 1)[4:]),
		want: []string{"t=35ns csd #1: ran twice: on CPU 1, after CPU 1 at 30 ns"},
	}, {
		name:   "never run",
		events: syncCall(0, 1, 0, 2)[:2],
		want:   []string{"t=10ns csd #1: queued at 10 ns by CPU 0 for CPU 2, never ran"},
	}, {
		name:   "dequeued, never run",
		events: syncCall(0, 1, 0, 2)[:3],
		want:   []string{"t=20ns csd #1: dequeued by CPU 2, never ran"},
	}, {
		name:         "pending allowed",
		events:       syncCall(0, 1, 0, 2)[:2],
		allowPending: true,
	}, {
		name: "double queue",
		events: []Event{
			ev(0, EvLock, 2, 0),
			ev(10, EvQueue, 2, 0, 1),
			ev(20, EvQueue, 2, 0, 3),
			ev(30, EvDequeue, 2, 3, 3),
			ev(40, EvUnlock, 2, 3),
			ev(40, EvRun, 2, 3, 3),
		},
		want: []string{
			"t=20ns csd #2: queued on CPU 3 by CPU 0 while still queued on CPU 1 (queued at 10 ns by CPU 0)",
		},
	}, {
		name: "wait done before run",
		events: []Event{
			typed(ev(0, EvLock, 1, 0), CSDTypeSync),
			typed(ev(10, EvQueue, 1, 0, 1), CSDTypeSync),
			typed(ev(15, EvWaitDone, 1, 0), CSDTypeSync),
			typed(ev(20, EvDequeue, 1, 1, 1), CSDTypeSync),
			typed(ev(25, EvUnlock, 1, 1), CSDTypeSync),
			typed(ev(26, EvWaitDone, 1, 0), CSDTypeSync),
			typed(ev(30, EvRun, 1, 1, 1), CSDTypeSync),
		},
		want: []string{
			"t=15ns csd #1: a synchronous caller on CPU 0 returned while the csd is still locked",
			"t=25ns csd #1: SYNC csd unlocked by CPU 1 before its function ran",
			"t=26ns csd #1: a synchronous caller on CPU 0 returned before its function ran on CPU 1",
		},
	}, {
		name: "wait on an async csd",
		events: []Event{
			ev(0, EvLock, 1, 0),
			ev(10, EvQueue, 1, 0, 1),
			ev(20, EvDequeue, 1, 1, 1),
			ev(25, EvUnlock, 1, 1),
			ev(25, EvRun, 1, 1, 1),
			ev(26, EvWaitDone, 1, 0),
		},
		want: []string{"t=26ns csd #1: a caller on CPU 0 waited on an ASYNC csd"},
	}, {
		name:   "time backwards",
		events: concat(syncCall(100, 1, 0, 1), syncCall(50, 2, 0, 1)),
		want:   []string{"t=50ns: time went backwards: lock of csd #2 by CPU 0 at 50 ns after something at 150 ns"},
	}, {
		name: "reuse while locked",
		events: []Event{
			ev(0, EvLock, 3, 0),
			ev(10, EvQueue, 3, 0, 1),
			ev(20, EvDequeue, 3, 1, 1),
			ev(30, EvRun, 3, 1, 1), // fix off: still locked while it runs
			ev(35, EvLock, 3, 0),
			ev(40, EvUnlock, 3, 1),
		},
		want: []string{"t=35ns csd #3: locked by CPU 0 while still locked (locked at 0 ns by CPU 0)"},
	}, {
		name: "locked forever",
		events: []Event{
			ev(0, EvLock, 3, 2),
		},
		want: []string{"t=0ns csd #3: still locked at the end (locked at 0 ns by CPU 2)"},
	}, {
		name: "irq_work claimed while queued",
		events: []Event{
			typed(ev(0, EvLock, 4, 0), CSDTypeIRQWork),
			typed(ev(0, EvQueue, 4, 0, 1), CSDTypeIRQWork),
			typed(ev(5, EvLock, 4, 0), CSDTypeIRQWork),
			typed(ev(5, EvQueue, 4, 0, 1), CSDTypeIRQWork),
		},
		allowPending: true,
		want: []string{
			"t=5ns csd #4: claimed by CPU 0 while still queued on CPU 1 (queued at 0 ns)",
			"t=5ns csd #4: queued on CPU 1 by CPU 0 while still queued on CPU 1",
		},
	}, {
		name: "wrong target",
		events: []Event{
			ev(0, EvLock, 1, 0),
			ev(10, EvQueue, 1, 0, 1),
			ev(20, EvDequeue, 1, 2, 2),
			ev(30, EvUnlock, 1, 2),
			ev(30, EvRun, 1, 2, 2),
		},
		want: []string{
			"t=20ns csd #1: queued for CPU 1 but dequeued by CPU 2",
			"t=30ns csd #1: unlocked by CPU 2, but it was queued for CPU 1",
			"t=30ns csd #1: ran on CPU 2 but was queued for CPU 1",
		},
	}, {
		name: "run without dequeue",
		events: []Event{
			ev(0, EvLock, 1, 0),
			ev(10, EvQueue, 1, 0, 1),
			ev(20, EvUnlock, 1, 1),
			ev(20, EvRun, 1, 1, 1),
		},
		want: []string{
			"t=20ns csd #1: unlocked by CPU 1 while still queued on CPU 1",
			"t=20ns csd #1: ran on CPU 1 while still on the queue of CPU 1 (not dequeued)",
		},
	}, {
		name: "unlock of an unlocked csd",
		events: concat(syncCall(0, 1, 0, 1),
			[]Event{ev(60, EvUnlock, 1, 1)}),
		want: []string{"t=60ns csd #1: unlocked by CPU 1 while not locked"},
	}, {
		name: "inline run while queued",
		events: []Event{
			ev(0, EvLock, 1, 0),
			ev(10, EvQueue, 1, 0, 1),
			ev(20, EvRun, 1, 0),
		},
		allowPending: true,
		want:         []string{"t=20ns csd #1: run inline on CPU 0 while queued for CPU 1"},
	}, {
		name: "queue without lock",
		events: []Event{
			ev(0, EvQueue, 9, 0, 1),
		},
		allowPending: true,
		want:         []string{"t=0ns csd #9: queued on CPU 1 by CPU 0 without being locked or claimed first"},
	}} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			v := NewValidator()
			feed(v, tc.events)
			got := v.Finish(tc.allowPending)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d violations, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %d:\n got  %s\n want %s", i, got[i], w)
				}
			}
		})
	}
}

func TestValidatorTimeHook(t *testing.T) {
	v := NewValidator()
	at := func(what string) func() string { return func() string { return what } }
	v.Time(100, at("a"))
	v.Time(100, at("ipi_send_cpu"))
	v.Time(90, at("csd_queue_cpu"))
	v.Time(101, at("b"))
	v.Time(95, at("c"))
	got := v.Errors()
	want := []string{
		"t=90ns: time went backwards: csd_queue_cpu at 90 ns after something at 100 ns",
		"t=95ns: time went backwards: c at 95 ns after something at 101 ns",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestValidatorCapsErrors(t *testing.T) {
	v := NewValidator()
	for i := 0; i < maxErrors+5; i++ {
		v.KernelEvent(ev(int64(i), EvUnlock, 1, 0))
	}
	got := v.Errors()
	if len(got) != maxErrors+1 || got[maxErrors] != "... and 5 more violations" {
		t.Errorf("got %d errors, last %q", len(got), got[len(got)-1])
	}
}

// recorder keeps the kernel's events.
type recorder struct{ events []Event }

func (r *recorder) KernelEvent(e Event) { r.events = append(r.events, e) }

// bootRun boots machine name, attaches a validator and a recorder, runs
// job in a task on CPU 0 and runs the machine for a millisecond.
func bootRun(t *testing.T, name string, job func(k *Kernel, c *emu.Context)) (*Validator, []Event) {
	t.Helper()
	k := boot(t, name)
	v := NewValidator()
	v.Attach(k)
	rec := &recorder{}
	k.Events = append(k.Events, rec)
	done := false
	k.M.Spawn(0, "driver", func(c *emu.Context) {
		job(k, c)
		done = true
	})
	if err := k.M.RunUntil(1_000_000); err != nil {
		t.Fatal(err)
	}
	if !done {
		t.Fatalf("the driver task did not finish: %s", k.M.Stuck())
	}
	if k.M.Pending() {
		t.Fatalf("events still pending after 1 ms")
	}
	return v, rec.events
}

// calls exercises every path that emits events.
func calls(k *Kernel, c *emu.Context) {
	var ran []string
	f := &Func{Name: "probe", Fn: func(c *emu.Context, info any) error {
		ran = append(ran, fmt.Sprintf("%v@%d", info, c.CPU))
		return nil
	}}
	k.SmpCallFunctionSingle(c, 1, f, "sync", true)
	k.SmpCallFunctionSingle(c, 2, f, "async", false)
	k.SmpCallFunctionSingle(c, 3, f, "async-reuse", false)
	k.SmpCallFunctionSingle(c, 0, f, "self", true)
	k.SmpCallFunctionSingle(c, 99, f, "enxio", true)
	k.SmpCallFunction(c, f, "all", true)
	k.SmpCallFunction(c, f, "all-nowait", false)
	k.OnEachCPUCondMask(c, nil, f, "each", true, k.OnlineMask())
	csd := k.NewCSD(f, "private")
	k.SmpCallFunctionSingleAsync(c, 1, csd)
	c.Delay(50_000, "let it run")
	k.SmpCallFunctionSingleAsync(c, 1, csd)
	c.Delay(50_000, "let it run")
}

func TestValidatorOnTheKernel(t *testing.T) {
	for _, m := range []string{"x86-4", "arm64-8"} {
		t.Run(m, func(t *testing.T) {
			v, events := bootRun(t, m, calls)
			if errs := v.Finish(false); len(errs) != 0 {
				t.Fatalf("violations on a clean run:\n%s", strings.Join(errs, "\n"))
			}
			if len(events) < 30 {
				t.Fatalf("only %d events recorded", len(events))
			}
			// Mutation test: the kernel's own stream, with one event
			// deleted or duplicated, must be reported. A lost or repeated
			// EvWaitDone is invisible (a waiter's absence proves nothing),
			// and so are the many-path local runs, which carry no csd. A
			// lost inline run looks like a call refused with -ENXIO (lock,
			// unlock, no run), so only its duplication is checked.
			for i, e := range events {
				if e.Kind == EvWaitDone || e.CSD == 0 {
					continue
				}
				for _, mut := range []string{"delete", "duplicate"} {
					if mut == "delete" && e.Kind == EvRun && e.Dst < 0 {
						continue
					}
					var s []Event
					s = append(s, events[:i]...)
					if mut == "duplicate" {
						s = append(s, e, e)
					}
					s = append(s, events[i+1:]...)
					mv := NewValidator()
					feed(mv, s)
					if errs := mv.Finish(false); len(errs) == 0 {
						t.Errorf("%s of event %d (%s of csd #%d on CPU %d at %d ns) went unnoticed",
							mut, i, e.Kind, e.CSD, e.CPU, e.T)
					}
				}
			}
		})
	}
}
