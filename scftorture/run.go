// This file is the driver of a run, which has no counterpart in the
// kernel: it boots the machine, loads the module (scf_torture_init), runs
// virtual time in slices, doing the stats and stutter kthreads' work
// between them, unloads the module (rmmod) when the time is up, and
// watches for what the kernel leaves to other tools (stalls, a stuck
// machine, the validator, WARNs, use after free), as scftorture.go's
// opening comment lists.

package scftorture

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/xcall"
)

// DefaultStallTimeout is how long an invocation (or the cleanup) may make no
// progress before the test fails with a stall: CONFIG_RCU_CPU_STALL_TIMEOUT's
// default, 21 s. An invoker spinning on a csd with preemption disabled is
// what the RCU CPU stall detector reports after that long.
const DefaultStallTimeout = 21 * scfSecond

// Result is what a Run found.
type Result struct {
	// Verdict is "SUCCESS", "FAILURE" or "LOCK_HOTPLUG", as the End line
	// says; "" when the module printed no End line (init failed, or
	// nthreads was 0).
	Verdict string
	// Invocations is scf_invoked_count summed over CPUs: handler runs.
	Invocations int64
	// Calls counts scftorture_invoke_one() runs.
	Calls int64
	Stats Stats
	Onoff OnoffStats

	Errs      int // n_errs: a single-CPU handler ran on the wrong CPU
	MBInErrs  int // n_mb_in_errs: a handler did not see the caller's store
	MBOutErrs int // n_mb_out_errs: a waiting caller returned before its handler(s) finished
	AllocErrs int // n_alloc_errs (always 0 here)

	// What the kernel leaves to other tools, checked here too.
	UseAfterFree    int      // handlers that ran on an scf_check already freed
	KernelWarnings  int      // WARN splats other than scftorture's own
	ValidatorErrors []string // the invariant validator's findings
	Stalls          []string // watchdog findings (no progress, stuck machine)
	Panic           string   // an emulated kernel panic
	CSDReports      int      // "non-responsive CSD lock" reports (not a failure by themselves)
	IPIsDropped     int      // IPIs lost by WithIPIDrop

	VirtualTime int64  // virtual ns at the End line
	Hash        uint64 // emu's hash of the executed event order
}

// Failed reports whether the verdict is anything but SUCCESS.
func (r *Result) Failed() bool { return r.Verdict != "SUCCESS" }

// Option adjusts a Run run.
type Option func(*options)

type options struct {
	stallTimeout int64
	fixes        []fixSetting
	drops        []ipiDrop
	setup        func(k *xcall.Kernel) error
	stopAfter    int64 // end once this many handler invocations ran (benchmarks)
}

type fixSetting struct {
	name string
	on   bool
}

type ipiDrop struct{ cpu, every int }

// WithStallTimeout sets how long an invocation or the cleanup may make no
// progress, in virtual ns, before the test fails (default
// DefaultStallTimeout).
func WithStallTimeout(d int64) Option {
	return func(o *options) { o.stallTimeout = d }
}

// WithFix turns the named historical fix (see Fixes) on or off for the run.
func WithFix(name string, on bool) Option {
	return func(o *options) { o.fixes = append(o.fixes, fixSetting{name, on}) }
}

// WithIPIDrop loses every every-th call-function IPI sent to cpu in the
// interrupt controller (the every-th time a sender finds cpu's
// call_single_queue empty and kicks it).
func WithIPIDrop(cpu, every int) Option {
	return func(o *options) { o.drops = append(o.drops, ipiDrop{cpu, every}) }
}

// WithKernel calls setup with the booted kernel before the module loads:
// to set parameters (CSDLockDebug, ...), faults, or keep k to Interrupt it.
func WithKernel(setup func(k *xcall.Kernel) error) Option {
	return func(o *options) { o.setup = setup }
}

// WithStopAfter ends the test once n handler invocations ran, at the
// driver's next look (every 50 µs of virtual time): the benchmarks' op
// count. With it, Params.Duration may be 0.
func WithStopAfter(n int64) Option {
	return func(o *options) { o.stopAfter = n }
}

// Run boots spec with seed, loads scftorture with parameters p, lets
// it run for p.Duration (or p.ShutdownSecs) of virtual time, unloads it and
// returns what it found. Every kernel log line is also written to log (if
// not nil) as dmesg prints it. It reads no host clock: how fast a run went
// is its caller's business (xcallsh torture prints it).
//
// A FAILURE is a result, not an error. The error is for runs that could not
// happen: a machine that does not boot, an unknown fix, parameters the
// module refuses (ErrZeroWeights), no end time, or an Interrupt.
func Run(spec *machines.Spec, seed uint64, p Params, log io.Writer, opts ...Option) (*Result, error) {
	if err := checkEnd(p, opts); err != nil {
		return nil, err
	}
	k, err := xcall.Boot(spec, seed)
	if err != nil {
		return nil, fmt.Errorf("torture: %w", err)
	}
	defer k.Close()
	return RunKernel(k, p, log, opts...)
}

// checkEnd refuses parameters with no end of test.
func checkEnd(p Params, opts []Option) error {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if p.Duration <= 0 && p.ShutdownSecs <= 0 && o.stopAfter <= 0 {
		return errors.New("torture: no end: Duration and ShutdownSecs are both <= 0")
	}
	return nil
}

// RunKernel is Run on a kernel booted by the caller (xcall.Boot or
// xcall.BootSched), on which nothing has run yet: for a caller that
// watches the machine from its boot on (xcallsh's traces and reports).
// Booted from the same machine, seed and schedule, it is exactly Run's
// run. It does not close k.
func RunKernel(k *xcall.Kernel, p Params, log io.Writer, opts ...Option) (*Result, error) {
	o := options{stallTimeout: DefaultStallTimeout}
	for _, f := range opts {
		f(&o)
	}
	if err := checkEnd(p, opts); err != nil {
		return nil, err
	}
	if o.stallTimeout <= 0 {
		o.stallTimeout = DefaultStallTimeout
	}
	k.RecordWrites = false // nobody reads a torture run's register writes
	k.Modules = " scftorture torture"
	for _, f := range o.fixes {
		if !k.SetFix(f.name, f.on) {
			return nil, fmt.Errorf("torture: unknown fix %q", f.name)
		}
	}
	if log == nil {
		log = io.Discard
	}
	t := &torture{k: k, p: p, o: o, rng: k.M.Rand(), nr: k.NrCPUIDs(), out: log}
	for _, d := range o.drops {
		if d.cpu < 0 || d.cpu >= t.nr || d.every < 1 {
			return nil, fmt.Errorf("torture: bad IPI drop: cpu %d every %d (cpus 0-%d, every >= 1)", d.cpu, d.every, t.nr-1)
		}
		dr := &ipiDropper{k: k, cpu: d.cpu, every: d.every}
		t.dropped = append(t.dropped, dr)
		k.Events = append(k.Events, dr)
	}
	if o.setup != nil {
		if err := o.setup(k); err != nil {
			return nil, fmt.Errorf("torture: %w", err)
		}
	}
	// The validator sees the kernel's events only: Attach would also make
	// it a trace sink, which turns tracing on and formats every tracepoint
	// (several times slower). The events carry the same time stamps.
	v := xcall.NewValidator()
	k.Events = append(k.Events, v)

	initErr := t.init()
	res := &Result{}
	if initErr == nil {
		if err := t.run(v, res); err != nil {
			t.flush()
			t.fill(res)
			return res, err
		}
	}
	t.fill(res)
	t.flush()
	return res, initErr
}

// fill copies the counters into r.
func (t *torture) fill(r *Result) {
	r.Stats = Stats{}
	for _, kt := range t.invokers {
		r.Stats.add(&kt.stats)
	}
	r.Invocations = 0
	for _, n := range t.invoked {
		r.Invocations += n
	}
	r.Calls = t.calls
	r.Onoff = t.onoff
	r.Errs, r.MBInErrs, r.MBOutErrs, r.AllocErrs = t.nErrs, t.nMBInErrs, t.nMBOut, t.nAllocErr
	r.UseAfterFree = t.nUAF
	r.KernelWarnings = t.k.Stats.Warnings - t.ownWarns
	r.Stalls = t.stalls
	r.Panic = t.k.Panicked()
	r.CSDReports = t.k.Stats.Reports
	r.IPIsDropped = 0
	for _, d := range t.dropped {
		r.IPIsDropped += d.n / d.every
	}
	if r.VirtualTime == 0 {
		r.VirtualTime = t.k.M.Now()
	}
	r.Hash = t.k.M.OrderHash()
}

// flush writes the log lines printed since the last flush.
func (t *torture) flush() {
	log, _ := t.k.M.LogSince(t.logged)
	if len(log) == 0 {
		return
	}
	var b strings.Builder
	for _, l := range log {
		b.WriteString(l.String())
		b.WriteByte('\n')
	}
	t.logged = t.k.M.LogPrinted()
	io.WriteString(t.out, b.String())
}

// run drives the machine from the module's load to its End line.
func (t *torture) run(v *xcall.Validator, res *Result) error {
	k, m, p := t.k, t.k.M, &t.p
	end := p.Duration
	if p.ShutdownSecs > 0 && (end <= 0 || p.ShutdownSecs < end) {
		end = p.ShutdownSecs
	}
	if end <= 0 {
		end = 1<<62 - 1 // stopAfter only
	}
	const slice = 10 * Jiffy // longest slice between two watchdog looks
	nextStat := int64(-1)
	if p.StatInterval > 0 {
		nextStat = p.StatInterval
	}
	// torture_stutter: at each step set the pause's end stutter ahead,
	// then sleep stutter-1 and stutter jiffies.
	nextStutter := int64(-1)
	if p.Stutter > Jiffy {
		nextStutter = 0
	}
	stopping, stopAt := false, int64(0)
	var failure []string
	for {
		now := m.Now()
		if nextStutter == now && !stopping {
			t.stutterTill = now + p.Stutter
			nextStutter = now + 2*p.Stutter - Jiffy
		}
		if !stopping && (now >= end || t.o.stopAfter > 0 && t.invocations() >= t.o.stopAfter) {
			stopping, stopAt = true, now
			t.fullstop = true
			cpu := k.CPUOnlineMask().Next(0)
			t.rmmod = t.spawn(emu.KindTask, cpu, "rmmod", -1, t.cleanup)
		}
		if stopping && t.rmmod.done {
			break
		}
		next := now + slice
		if t.o.stopAfter > 0 {
			next = now + 50*scfUsec
		}
		if stopping {
			// Step from event to event, so that the End line comes
			// right after the cleanup.
			if e, ok := m.NextEventTime(); ok && e < next {
				next = e
			}
		} else {
			next = min(next, end)
			if nextStat >= 0 {
				next = min(next, nextStat)
			}
			if nextStutter >= 0 {
				next = min(next, nextStutter)
			}
		}
		if err := m.RunUntil(next); err != nil {
			return fmt.Errorf("torture: %w", err)
		}
		t.flush()
		if nextStat >= 0 && m.Now() >= nextStat && !stopping {
			t.pr(0, t.statsLine())
			nextStat += p.StatInterval
		}
		if failure = t.health(stopping, stopAt); failure != nil {
			break
		}
	}
	if failure != nil {
		// The module would never get to print its verdict: rmmod hangs,
		// or the machine is dead. Say why, then what it would have said.
		for _, f := range failure {
			t.pr(0, "scftorture: !!! "+f)
		}
		t.stalls = append(t.stalls, failure...)
		t.scfdone = true
		t.pr(0, t.statsLine())
	} else {
		// Let the calls still in flight land before the end-of-run check.
		limit := m.Now() + t.o.stallTimeout
		for !t.quiet() {
			next, ok := m.NextEventTime()
			if !ok || next > limit {
				break
			}
			if err := m.RunUntil(next); err != nil {
				return fmt.Errorf("torture: %w", err)
			}
			if ok, _ := m.Stopped(); ok {
				break
			}
		}
		t.flush()
	}
	quiet := failure == nil && t.quiet()
	if ok, _ := m.Stopped(); ok {
		quiet = false
	}
	res.ValidatorErrors = v.Finish(!quiet)
	for _, e := range res.ValidatorErrors {
		t.pr(0, "scftorture: !!! validator: "+e)
	}
	if w := k.Stats.Warnings - t.ownWarns; w > 0 {
		t.pr(0, fmt.Sprintf("scftorture: !!! %d kernel WARNING splat(s) during the test", w))
	}
	if t.nUAF > 0 {
		t.pr(0, fmt.Sprintf("scftorture: !!! %d use(s) of a freed scf_check", t.nUAF))
	}
	if t.nthreads == 0 && failure == nil {
		res.VirtualTime = m.Now()
		return nil // scf_torture_cleanup() skipped everything
	}
	onoffFailed := t.onoff.OnlineAttempts != t.onoff.OnlineSuccesses || t.onoff.OfflineAttempts != t.onoff.OfflineSuccesses
	switch {
	case t.nErrs != 0 || t.nMBInErrs != 0 || t.nMBOut != 0 || failure != nil ||
		len(res.ValidatorErrors) > 0 || k.Stats.Warnings > t.ownWarns || t.nUAF > 0 || k.Panicked() != "":
		res.Verdict = "FAILURE"
	case onoffFailed:
		res.Verdict = "LOCK_HOTPLUG"
	default:
		res.Verdict = "SUCCESS"
	}
	t.printModuleParms("End of test: " + res.Verdict)
	res.VirtualTime = m.Now()
	return nil
}

// quiet reports whether no cross-call work is left: every
// call_single_queue is empty and no CPU is inside an interrupt handler.
func (t *torture) quiet() bool {
	for cpu := 0; cpu < t.nr; cpu++ {
		if t.k.QueueDepth(cpu) != 0 || t.k.M.CPU(cpu).Hardirq != 0 {
			return false
		}
	}
	return true
}

// invocations is the total of scf_invoked_count.
func (t *torture) invocations() int64 {
	var n int64
	for _, x := range t.invoked {
		n += x
	}
	return n
}

// health is the driver's look at the machine between slices: a panic, an
// error, a machine on which nothing can run any more, or a thread that has
// made no progress for the stall timeout. nil if all is well.
func (t *torture) health(stopping bool, stopAt int64) []string {
	k, m := t.k, t.k.M
	if stopped, why := m.Stopped(); stopped {
		if p := k.Panicked(); p != "" {
			return []string{"kernel panic: " + p}
		}
		return []string{fmt.Sprintf("machine stopped: %v", why)}
	}
	if s := m.Stuck(); s != "" {
		return []string{"machine stuck, nothing can run any more: " + s}
	}
	now, limit := m.Now(), t.o.stallTimeout
	var out []string
	for _, kt := range t.invokers {
		if kt.busySince >= 0 && now-kt.busySince >= limit {
			out = append(out, fmt.Sprintf("scftorture_invoker %d stalled: no progress for %s s: %s",
				kt.idx, scfSeconds(now-kt.busySince), scfDescribe(kt.c)))
		}
	}
	if out == nil && stopping && now-stopAt >= limit {
		out = append(out, fmt.Sprintf("rmmod hung: cleanup made no progress for %s s: %s", scfSeconds(now-stopAt), scfDescribe(t.rmmod.c)))
		for _, kt := range append(t.invokers, t.onoffT) {
			if kt != nil && !kt.done {
				out = append(out, fmt.Sprintf("  %s (thread %d) not stopped: %s", kt.c.Name, kt.idx, scfDescribe(kt.c)))
			}
		}
	}
	return out
}

// scfDescribe says what context c is doing, as emu's stuck reports do.
func scfDescribe(c *emu.Context) string {
	if c.Done() {
		return fmt.Sprintf("%s done", c.Name)
	}
	if !c.Waiting() {
		return fmt.Sprintf("CPU%d runnable (%s)", c.CPU, c.Name)
	}
	w := c.Wait
	s := fmt.Sprintf("CPU%d %s", c.CPU, w.What)
	if w.Num > 0 {
		s += fmt.Sprintf(" #%d", w.Num)
	}
	if w.Owner >= 0 {
		s += fmt.Sprintf(" owned by CPU%d", w.Owner)
	}
	return s + " (" + c.Name + ")"
}

func scfSeconds(ns int64) string { return fmt.Sprintf("%d.%03d", ns/scfSecond, ns%scfSecond/1_000_000) }

// ipiDropper implements WithIPIDrop: it watches the kernel's events for
// pushes that find cpu's queue empty (each is followed by an IPI to cpu)
// and arms a drop in the interrupt controller on every every-th.
type ipiDropper struct {
	k          *xcall.Kernel
	cpu, every int
	n          int
}

// KernelEvent implements xcall.EventSink.
func (d *ipiDropper) KernelEvent(e xcall.Event) {
	if e.Kind != xcall.EvQueue || e.Dst != d.cpu || d.k.QueueDepth(d.cpu) != 1 {
		return
	}
	d.n++
	if d.n%d.every == 0 {
		d.k.Faults.Drop(d.cpu, 1)
	}
}
