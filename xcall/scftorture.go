// This file mirrors Linux's kernel/scftorture.c (the torture test of the
// smp_call_function() family, as of Kingxukai/linux 0291023e7330, mainline
// with per-CPU free-lists; docs/kernel.md#scftorture) together with the parts of
// kernel/torture.c it relies on: torture_onoff (CPU hotplug), stutter,
// kthread start/stop and the onoff statistics. It describes the module's
// behaviour; it copies none of its code.
//
// The module is emulated as loaded with insmod (so holdoff defaults to 0 and
// resched_cpu() is never used), on a kernel with CONFIG_HOTPLUG_CPU=y,
// without KASAN, at HZ=1000. Its kthreads are emu contexts: one invoker per
// thread on CPU i % nr_cpu_ids, a torture_onoff thread, and an "rmmod" task
// that runs scf_torture_cleanup() when the test's time is up. The stats and
// stutter kthreads only read or write plain variables at fixed times, so
// they are run by the driver between slices of virtual time: the machine
// sees no extra contexts or events.
//
// Departures, each deliberate:
//
//   - Time-valued parameters are virtual nanoseconds; the Start/End lines
//     print them in the kernel's units (rounded up when not whole).
//   - kmalloc() never fails (n_alloc_errs stays 0). Freed scf_check objects
//     are recycled, as the slab would; a recycled object starts with
//     scfc_in false (kmalloc leaves it undefined), so that a handler that
//     sees an object nobody armed reports it.
//   - The invoker spends invokeCost of virtual time per invocation (its
//     own work: selection, allocation, statistics), so that a loop of calls
//     that complete inline still lets time advance.
//   - What the kernel leaves to other tools is checked here too, and fails
//     the test: the invariant validator, any kernel WARN, a use of a freed
//     scf_check (what KASAN would catch), an emulated panic, and a stall (an
//     invocation or the cleanup that makes no progress for StallTimeout of
//     virtual time, or a machine on which nothing can run any more, where
//     the kernel would print RCU CPU stall or hung-task warnings and rmmod
//     would hang). These print lines of our own, "scftorture: !!! ...".

package xcall

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
)

// TortureHZ is the jiffy rate the emulated kernel uses for scftorture's
// jiffy-valued parameters (onoff_interval, stutter) and the onoff statistics.
const TortureHZ = 1000

// Virtual-time units of scftorture's parameters.
const (
	Jiffy     = int64(1_000_000_000 / TortureHZ)
	scfSecond = int64(1_000_000_000)
	scfUsec   = int64(1000)
)

// invokeCost is the virtual time one scftorture_invoke_one() spends on its
// own work (selection, allocation, statistics), besides the calls it makes.
const invokeCost = 100

// DefaultStallTimeout is how long an invocation (or the cleanup) may make no
// progress before the test fails with a stall: CONFIG_RCU_CPU_STALL_TIMEOUT's
// default, 21 s. An invoker spinning on a csd with preemption disabled is
// what the RCU CPU stall detector reports after that long.
const DefaultStallTimeout = 21 * scfSecond

// TortureParams are scftorture's module parameters (scftorture.<name>=).
// Time-valued ones are in virtual nanoseconds; the comment of each names the
// kernel's own unit, in which the Start and End lines print it.
type TortureParams struct {
	Holdoff      int64 // holdoff: seconds each invoker sleeps before starting
	Longwait     int64 // longwait: seconds; if > 0 handlers sometimes busy-wait 1..longwait whole seconds
	Nthreads     int   // nthreads: invoker kthreads; -1 = num_online_cpus()
	OnoffHoldoff int64 // onoff_holdoff: seconds before the first CPU-hotplug operation
	// OnoffInterval is onoff_interval: jiffies (HZ=1000, so 1 ms) between
	// CPU-hotplug operations; 0 disables hotplug.
	OnoffInterval int64
	// ShutdownSecs is shutdown_secs: seconds until the test ends (the
	// module's own end; Duration is ours). <= 0 disables it.
	ShutdownSecs    int64
	StatInterval    int64 // stat_interval: seconds between statistics lines; <= 0: only at the end
	Stutter         int64 // stutter: jiffies; invokers alternately pause for stutter and run for stutter-1 jiffy; 0 disables
	UseCPUsReadLock bool  // use_cpus_read_lock: protect invocations with cpus_read_lock() instead of preempt_disable()
	Verbose         int   // verbose: extra messages

	// Relative weights of the primitives; -1 = default (see docs/kernel.md#scftorture).
	WeightResched    int
	WeightSingle     int
	WeightSingleRPC  int
	WeightSingleWait int
	WeightMany       int
	WeightManyWait   int
	WeightAll        int
	WeightAllWait    int

	// Duration is the virtual time after which the module is unloaded
	// (rmmod), which ends the test. Ours, not the kernel's.
	Duration int64
}

// DefaultTortureParams returns the module's defaults when loaded with
// insmod, and a Duration of one virtual second.
func DefaultTortureParams() TortureParams {
	return TortureParams{
		Nthreads:         -1,
		StatInterval:     60 * scfSecond,
		Stutter:          5 * Jiffy,
		WeightResched:    -1,
		WeightSingle:     -1,
		WeightSingleRPC:  -1,
		WeightSingleWait: -1,
		WeightMany:       -1,
		WeightManyWait:   -1,
		WeightAll:        -1,
		WeightAllWait:    -1,
		Duration:         scfSecond,
	}
}

// TortureStats mirrors struct scf_statistics: what the invokers did, summed
// over all threads.
type TortureStats struct {
	Resched       int64
	Single        int64 // smp_call_function_single, no wait
	SingleOfl     int64 // ... that returned an error (offline or invalid CPU)
	SingleRPC     int64
	SingleRPCOfl  int64 // printed as 0 by the kernel (its summing loop omits it)
	SingleWait    int64 // smp_call_function_single, wait
	SingleWaitOfl int64
	Many          int64
	ManyWait      int64
	All           int64
	AllWait       int64
}

func (s *TortureStats) add(o *TortureStats) {
	s.Resched += o.Resched
	s.Single += o.Single
	s.SingleOfl += o.SingleOfl
	s.SingleRPC += o.SingleRPC
	s.SingleRPCOfl += o.SingleRPCOfl
	s.SingleWait += o.SingleWait
	s.SingleWaitOfl += o.SingleWaitOfl
	s.Many += o.Many
	s.ManyWait += o.ManyWait
	s.All += o.All
	s.AllWait += o.AllWait
}

// OnoffStats are torture_onoff's counters; times in jiffies.
type OnoffStats struct {
	OnlineAttempts, OnlineSuccesses   int64
	OfflineAttempts, OfflineSuccesses int64
	MinOnline, MaxOnline              int64 // -1 until the first success
	MinOffline, MaxOffline            int64
	SumOnline, SumOffline             int64
}

// TortureResult is what a run of RunTorture found.
type TortureResult struct {
	// Verdict is "SUCCESS", "FAILURE" or "LOCK_HOTPLUG", as the End line
	// says; "" when the module printed no End line (init failed, or
	// nthreads was 0).
	Verdict string
	// Invocations is scf_invoked_count summed over CPUs: handler runs.
	Invocations int64
	// Calls counts scftorture_invoke_one() runs.
	Calls int64
	Stats TortureStats
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

	VirtualTime int64         // virtual ns at the End line
	HostTime    time.Duration // measured with the clock of WithClock
	Hash        uint64        // emu's hash of the executed event order
}

// Failed reports whether the verdict is anything but SUCCESS.
func (r *TortureResult) Failed() bool { return r.Verdict != "SUCCESS" }

// ErrZeroWeights is returned (wrapped) when every weight resolves to zero:
// scftorture refuses to load with -EINVAL.
var ErrZeroWeights = errors.New("all zero weights makes no sense")

// TortureOption adjusts a RunTorture run.
type TortureOption func(*tortureOptions)

type tortureOptions struct {
	clock        func() time.Time
	stallTimeout int64
	fixes        []fixSetting
	drops        []ipiDrop
	setup        func(k *Kernel) error
	stopAfter    int64 // end once this many handler invocations ran (benchmarks)
}

type fixSetting struct {
	name string
	on   bool
}

type ipiDrop struct{ cpu, every int }

// WithClock sets the host clock read for the final report line (default
// time.Now). It is read twice, at the start and at the end; the emulation
// itself never reads it.
func WithClock(now func() time.Time) TortureOption {
	return func(o *tortureOptions) { o.clock = now }
}

// WithStallTimeout sets how long an invocation or the cleanup may make no
// progress, in virtual ns, before the test fails (default
// DefaultStallTimeout).
func WithStallTimeout(d int64) TortureOption {
	return func(o *tortureOptions) { o.stallTimeout = d }
}

// WithFix turns the named historical fix (see Fixes) on or off for the run.
func WithFix(name string, on bool) TortureOption {
	return func(o *tortureOptions) { o.fixes = append(o.fixes, fixSetting{name, on}) }
}

// WithIPIDrop loses every every-th call-function IPI sent to cpu in the
// interrupt controller (the every-th time a sender finds cpu's
// call_single_queue empty and kicks it).
func WithIPIDrop(cpu, every int) TortureOption {
	return func(o *tortureOptions) { o.drops = append(o.drops, ipiDrop{cpu, every}) }
}

// WithKernel calls setup with the booted kernel before the module loads:
// to set parameters (CSDLockDebug, ...), faults, or keep k to Interrupt it.
func WithKernel(setup func(k *Kernel) error) TortureOption {
	return func(o *tortureOptions) { o.setup = setup }
}

// withStopAfter ends the test once n handler invocations ran (benchmarks).
func withStopAfter(n int64) TortureOption {
	return func(o *tortureOptions) { o.stopAfter = n }
}

// Primitives, as SCF_PRIM_*.
const (
	scfPrimResched = iota
	scfPrimSingle
	scfPrimSingleRPC
	scfPrimMany
	scfPrimAll
)

var scfPrimName = [...]string{
	"resched_cpu",
	"smp_call_function_single",
	"smp_call_function_single_rpc",
	"smp_call_function_many",
	"smp_call_function",
}

// scfNPrims is SCF_NPRIMS: the size of the selector table.
const scfNPrims = 8

// scfSelector is one entry of the selector table: its weight is cumulative.
type scfSelector struct {
	weight uint64
	prim   int
	wait   bool
}

// scfCheck is struct scf_check: what a caller and its handler(s) share.
// Written by the invoker before the call (cpu, wait, rpc, in) and by the
// handlers (out, done); freed is the model's own record of kfree().
type scfCheck struct {
	in, out   bool
	cpu       int // -1 unless a single-CPU call
	wait, rpc bool
	done      bool          // the completion
	waiters   emu.WaitQueue // wait_for_completion() sleepers
	freed     bool
}

// arg is the check object as a call's info: nil stays an untyped nil.
func (s *scfCheck) arg() any {
	if s == nil {
		return nil
	}
	return s
}

// tortureThread is one torture kthread: an emu context plus what kthread_stop()
// and the stall watchdog need. Written by the thread itself, except stop
// (by the stopper) and the wake-up of sleepQ.
type tortureThread struct {
	c         *emu.Context
	idx       int            // invokers: the thread number (scfp->cpu)
	stop      bool           // kthread_should_stop()
	done      bool           // the thread function returned
	doneQ     emu.WaitQueue  // kthread_stop() waiters
	sleepQ    *emu.WaitQueue // the sleep in progress, for kthread_stop() to cut short
	busySince int64          // invokers: start of the invocation in progress, -1 if none
	stats     TortureStats   // invokers: this thread's scf_statistics
}

// scfWarnSite is a WARN site in kernel/scftorture.c (line numbers of
// Kingxukai/linux 0291023e7330, counted by hand; offsets illustrative).
type scfWarnSite struct {
	id   int // index into torture.warned
	line int
	at   string
}

var (
	scfWarnSelAdd   = scfWarnSite{0, 243, "scf_sel_add+0x9e/0xd0 [scftorture]"}
	scfWarnSelRand  = scfWarnSite{1, 280, "scf_sel_rand+0x6d/0x80 [scftorture]"}
	scfWarnMBIn     = scfWarnSite{2, 296, "scf_handler+0x13b/0x1a0 [scftorture]"}
	scfWarnWrongCPU = scfWarnSite{3, 337, "scf_handler_1+0x4e/0x90 [scftorture]"}
	scfWarnMBOut    = scfWarnSite{4, 455, "scftorture_invoke_one+0x2b5/0x5d0 [scftorture]"}
	scfWarnAffinity = scfWarnSite{5, 496, "scftorture_invoker+0x10c/0x2b0 [scftorture]"}
	scfWarnSetCPUs  = scfWarnSite{6, 487, "scftorture_invoker+0x5f/0x2b0 [scftorture]"}
	nScfWarnSites   = 7
)

// Frames pushed for call traces (Enter/Leave).
const (
	scfFrameKthread   = "kthread+0xf7/0x130"
	scfFrameInvoker   = "scftorture_invoker+0x1a2/0x2b0 [scftorture]"
	scfFrameInvokeOne = "scftorture_invoke_one+0x1c4/0x5d0 [scftorture]"
	scfFrameHandler   = "scf_handler+0x5c/0x1a0 [scftorture]"
	scfFrameHandler1  = "scf_handler_1+0x3a/0x90 [scftorture]"
	scfFrameOnoff     = "torture_onoff+0x1d2/0x2a0 [torture]"
	scfFrameCleanup   = "scf_torture_cleanup+0x7e/0x220 [scftorture]"
)

// torture is one loaded scftorture module: its statics, its kthreads, and
// the driver's bookkeeping. The module's statics are written by the
// contexts that run its code (invokers, handlers, the hotplug thread,
// rmmod), one at a time as every context is; the per-CPU ones (invoked,
// pools) by code running on that CPU, as in the kernel. The driver writes
// fullstop, stutterTill and the log position, between slices.
type torture struct {
	k    *Kernel
	p    TortureParams
	o    tortureOptions
	rng  *rand.Rand
	nr   int
	out  io.Writer
	lw   int64 // longwait in whole seconds
	shut bool  // the module's "shutdown" parameter (false as a module)

	// nextR is the random number of the handler invocation about to run,
	// drawn early by handlerNoWait (drawn says so).
	nextR uint64
	drawn bool

	nthreads  int
	sel       []scfSelector
	totweight uint64

	fnHandler, fnHandler1, fnCleanup *Func

	invoked   []int64 // scf_invoked_count, per CPU; written by that CPU's handlers
	nErrs     int
	nMBInErrs int
	nMBOut    int
	nAllocErr int
	nUAF      int
	calls     int64
	scfdone   bool
	bang      string
	fullstop  bool // fullstop != FULLSTOP_DONTSTOP
	nStarted  int
	warned    []bool
	ownWarns  int

	pools [][]*scfCheck // scf_free_pool, per CPU
	slab  []*scfCheck   // kfree()d objects, for kmalloc()

	invokers []*tortureThread
	onoffT   *tortureThread
	rmmod    *tortureThread
	onoff    OnoffStats

	// cpus_read_lock(): a reader count and a pending writer (the hotplug
	// path), for use_cpus_read_lock.
	hpReaders int
	hpWriter  bool
	hpReadQ   emu.WaitQueue
	hpWriteQ  emu.WaitQueue

	stutterTill int64 // stutter_till_abs_time; 0: not stuttering

	rpcWhat []string // per target CPU: what an RPC caller waits for (no formatting per call)

	stalls  []string
	logged  int
	dropped []*ipiDropper
}

// RunTorture boots spec with seed, loads scftorture with parameters p, lets
// it run for p.Duration (or p.ShutdownSecs) of virtual time, unloads it and
// returns what it found. Every kernel log line is also written to log (if
// not nil) as dmesg prints it, and after the verdict one line of our own:
// the virtual time covered and the handler invocations per host second.
//
// A FAILURE is a result, not an error. The error is for runs that could not
// happen: a machine that does not boot, an unknown fix, parameters the
// module refuses (ErrZeroWeights), no end time, or an Interrupt.
func RunTorture(spec *machines.Spec, seed uint64, p TortureParams, log io.Writer, opts ...TortureOption) (*TortureResult, error) {
	o := tortureOptions{clock: time.Now, stallTimeout: DefaultStallTimeout}
	for _, f := range opts {
		f(&o)
	}
	if p.Duration <= 0 && p.ShutdownSecs <= 0 && o.stopAfter <= 0 {
		return nil, errors.New("torture: no end: Duration and ShutdownSecs are both <= 0")
	}
	if o.stallTimeout <= 0 {
		o.stallTimeout = DefaultStallTimeout
	}
	hostStart := o.clock()
	k, err := Boot(spec, seed)
	if err != nil {
		return nil, fmt.Errorf("torture: %w", err)
	}
	defer k.Close()
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
	v := NewValidator()
	k.Events = append(k.Events, v)

	initErr := t.init()
	res := &TortureResult{}
	if initErr == nil {
		if err := t.run(v, res); err != nil {
			t.flush()
			t.fill(res)
			return res, err
		}
	}
	t.fill(res)
	t.flush()
	res.HostTime = o.clock().Sub(hostStart)
	if initErr == nil {
		fmt.Fprintln(log, t.summary(res))
	}
	return res, initErr
}

// summary is our line after the verdict.
func (t *torture) summary(r *TortureResult) string {
	rate := "n/a"
	if h := r.HostTime.Seconds(); h > 0 {
		rate = fmt.Sprintf("%.0f", float64(r.Invocations)/h)
	}
	return fmt.Sprintf("xcallsh torture: %d.%09d s virtual, %d handler invocations in %.3f s host: %s invocations per host second",
		r.VirtualTime/scfSecond, r.VirtualTime%scfSecond, r.Invocations, r.HostTime.Seconds(), rate)
}

// fill copies the counters into r.
func (t *torture) fill(r *TortureResult) {
	r.Stats = TortureStats{}
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

// pr prints one line to the kernel log (from cpu).
func (t *torture) pr(cpu int, text string) { t.k.M.Printk(cpu, text) }

// verbosef is VERBOSE_SCFTORTOUT.
func (t *torture) verbosef(cpu int, format string, args ...any) {
	if t.p.Verbose != 0 {
		t.pr(cpu, "scftorture: "+fmt.Sprintf(format, args...))
	}
}

// torout is VERBOSE_TOROUT_STRING inside kernel/torture.c, which knows the
// torture type.
func (t *torture) torout(cpu int, s string) {
	if t.p.Verbose != 0 {
		t.pr(cpu, "scftorture-torture: "+s)
	}
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

// scfUnits converts ns into the kernel's unit for printing: whole values
// exactly, others rounded up (so that a positive value stays positive).
func scfUnits(ns, unit int64) int64 {
	if ns > 0 {
		return (ns + unit - 1) / unit
	}
	return ns / unit
}

func scfBool(b bool) int {
	if b {
		return 1
	}
	return 0
}

// printModuleParms is scftorture_print_module_parms(tag). Note the quirk
// kept from the kernel: shutdown_secs= prints the shutdown boolean.
func (t *torture) printModuleParms(tag string) {
	p := &t.p
	t.pr(0, fmt.Sprintf("scftorture: --- %s:  verbose=%d holdoff=%d longwait=%d nthreads=%d onoff_holdoff=%d onoff_interval=%d shutdown_secs=%d stat_interval=%d stutter=%d use_cpus_read_lock=%d, weight_resched=%d, weight_single=%d, weight_single_rpc=%d, weight_single_wait=%d, weight_many=%d, weight_many_wait=%d, weight_all=%d, weight_all_wait=%d",
		tag, p.Verbose, scfUnits(p.Holdoff, scfSecond), scfUnits(p.Longwait, scfSecond), p.Nthreads,
		scfUnits(p.OnoffHoldoff, scfSecond), scfUnits(p.OnoffInterval, Jiffy), scfBool(t.shut),
		scfUnits(p.StatInterval, scfSecond), scfUnits(p.Stutter, Jiffy), scfBool(p.UseCPUsReadLock),
		p.WeightResched, p.WeightSingle, p.WeightSingleRPC, p.WeightSingleWait,
		p.WeightMany, p.WeightManyWait, p.WeightAll, p.WeightAllWait))
}

// init is scf_torture_init() up to the creation of the kthreads.
func (t *torture) init() error {
	k, p := t.k, &t.p
	t.lw = scfUnits(p.Longwait, scfSecond)
	t.warned = make([]bool, nScfWarnSites)
	t.invoked = make([]int64, t.nr)
	t.pools = make([][]*scfCheck, t.nr)
	t.onoff.MinOnline, t.onoff.MinOffline = -1, -1
	t.rpcWhat = make([]string, t.nr)
	for cpu := range t.rpcWhat {
		t.rpcWhat[cpu] = fmt.Sprintf("waits in wait_for_completion for scf_handler_1 on CPU%d", cpu)
	}
	t.fnHandler = &Func{Name: "scf_handler", Size: 0x1a0, Module: "scftorture", Fn: t.scfHandler, NoWait: t.handlerNoWait}
	t.fnHandler1 = &Func{Name: "scf_handler_1", Size: 0x90, Module: "scftorture", Fn: t.scfHandler1, NoWait: t.handlerNoWait}
	t.fnCleanup = &Func{Name: "scf_cleanup_handler", Size: 0x10, Module: "scftorture",
		Fn: func(*emu.Context, any) error { return nil }, NoWait: NeverWaits}

	// torture_init_begin() prints the torture core's own parameters.
	t.pr(0, "torture module --- scftorture:  disable_onoff_at_boot=0 ftrace_dump_at_shutdown=0 verbose_sleep_frequency=0 verbose_sleep_duration=1 random_shuffle=0")
	t.printModuleParms("Start of test")

	// Resolve the weights: all <= 0 selects the defaults (an explicit 0
	// stays 0); otherwise -1 means 0.
	params := []int{p.WeightResched, p.WeightSingle, p.WeightSingleRPC, p.WeightSingleWait,
		p.WeightMany, p.WeightManyWait, p.WeightAll, p.WeightAllWait}
	defaults := []int{2 * t.nr, 2 * t.nr, 2 * t.nr, 2 * t.nr, 2, 2, 1, 1}
	w := make([]int, len(params))
	allNonPos := true
	for _, v := range params {
		if v > 0 {
			allNonPos = false
		}
	}
	allZero := true
	for i, v := range params {
		switch {
		case allNonPos && v == 0:
			w[i] = 0
		case allNonPos:
			w[i] = defaults[i]
		case v == -1:
			w[i] = 0
		default:
			w[i] = v
		}
		if w[i] != 0 {
			allZero = false
		}
	}
	if allZero {
		t.pr(0, "scftorture: !!! "+ErrZeroWeights.Error())
		// The unwind path: scf_torture_cleanup() finds no statistics and
		// prints no End line.
		return fmt.Errorf("scftorture init: %w (-EINVAL)", ErrZeroWeights)
	}
	if w[0] != 0 {
		t.pr(0, "scftorture: !!! built as module, weight_resched ignored")
	}
	t.selAdd(w[1], scfPrimSingle, false)
	t.selAdd(w[2], scfPrimSingleRPC, true)
	t.selAdd(w[3], scfPrimSingle, true)
	t.selAdd(w[4], scfPrimMany, false)
	t.selAdd(w[5], scfPrimMany, true)
	t.selAdd(w[6], scfPrimAll, false)
	t.selAdd(w[7], scfPrimAll, true)
	t.selDump()

	if p.OnoffInterval > 0 {
		t.torout(0, "Creating torture_onoff task")
		t.onoffT = t.spawn(emu.KindKworker, 0, "torture_onoff", -1, t.onoffThread)
	}
	if p.Stutter > Jiffy {
		t.torout(0, "Creating torture_stutter task")
	}
	t.nthreads = p.Nthreads
	if t.nthreads < 0 {
		t.nthreads = k.NumOnline()
		p.Nthreads = t.nthreads // the module parameter itself is updated
	}
	t.verbosef(0, "Starting %d smp_call_function() threads", t.nthreads)
	t.nStarted = t.nthreads
	for i := 0; i < t.nthreads; i++ {
		t.torout(0, "Creating scftorture_invoker task")
		cpu := i % t.nr
		if !k.Online(cpu) {
			// set_cpus_allowed_ptr() to an offline CPU fails; the thread
			// runs where the scheduler puts it.
			t.warnOnce(nil, 0, scfWarnSetCPUs, "")
			cpu = k.online.Next(0)
		}
		t.invokers = append(t.invokers, t.spawn(emu.KindTask, cpu, "scftorture_invo", i, t.invoker))
	}
	return nil
}

// spawn creates a torture kthread (torture_create_kthread) running fn.
func (t *torture) spawn(kind emu.Kind, cpu int, name string, idx int, fn func(kt *tortureThread)) *tortureThread {
	kt := &tortureThread{idx: idx, busySince: -1}
	kt.c = t.k.M.SpawnKind(kind, cpu, name, func(c *emu.Context) {
		Enter(c, scfFrameKthread)
		fn(kt)
		kt.done = true
		kt.doneQ.Wake(t.k.M, t.k.T.WakeLatency)
	}, false)
	return kt
}

// selAdd is scf_sel_add(): append a cumulative entry, skipping zero
// weights and (with a WARN) weights that would overflow the percentages,
// which is what a negative weight other than -1 becomes as unsigned long.
func (t *torture) selAdd(weight, prim int, wait bool) {
	if weight == 0 {
		return
	}
	if weight < 0 || len(t.sel) >= scfNPrims {
		t.warnOnce(nil, 0, scfWarnSelAdd, "")
		return
	}
	t.totweight += uint64(weight)
	t.sel = append(t.sel, scfSelector{weight: t.totweight, prim: prim, wait: wait})
}

// selDump is scf_sel_dump(): each entry's share with three decimals.
func (t *torture) selDump() {
	var old uint64
	for _, s := range t.sel {
		w := (s.weight - old) * 100000 / t.totweight
		wait := "nowait"
		if s.wait {
			wait = "wait"
		}
		t.pr(0, fmt.Sprintf("scf_sel_dump: %3d.%03d %s(%s)", w/1000, w%1000, scfPrimName[s.prim], wait))
		old = s.weight
	}
}

// random is torture_random(): 32 random bits, from the machine's PRNG.
func (t *torture) random() uint64 { return uint64(t.rng.Uint32()) }

// selRand is scf_sel_rand(): w uniform in 0..total, the first entry whose
// cumulative weight reaches w (so the first entry has one extra chance).
func (t *torture) selRand(c *emu.Context) scfSelector {
	w := t.random() % (t.totweight + 1)
	for _, s := range t.sel {
		if s.weight >= w {
			return s
		}
	}
	t.warnOnce(c, c.CPU, scfWarnSelRand, "")
	return scfSelector{} // scf_sel_array[0] of an empty table: a no-op resched
}

// kmalloc allocates an scf_check (never fails here).
func (t *torture) kmalloc() *scfCheck {
	if n := len(t.slab); n > 0 {
		s := t.slab[n-1]
		t.slab = t.slab[:n-1]
		s.freed, s.in, s.done = false, false, false
		return s
	}
	return &scfCheck{}
}

// addToFreeList is scf_add_to_free_list(): park s on the pool chosen by the
// running CPU modulo nthreads (safe from IPI context).
func (t *torture) addToFreeList(c *emu.Context, s *scfCheck) {
	if s == nil {
		return
	}
	s.freed = true
	i := c.CPU % t.nthreads
	t.pools[i] = append(t.pools[i], s)
}

// cleanupFreeList is scf_cleanup_free_list(cpu): kfree() a pool's objects.
func (t *torture) cleanupFreeList(cpu int) {
	pool := t.pools[cpu]
	if len(pool) == 0 {
		return
	}
	t.slab = append(t.slab, pool...)
	clear(pool)
	t.pools[cpu] = pool[:0]
}

// mustStop is torture_must_stop() for thread kt.
func (t *torture) mustStop(kt *tortureThread) bool { return t.fullstop || kt.stop }

// sleep is a kthread's schedule_timeout_*() / hrtimeout: leave the CPU for
// d ns, or less if kthread_stop() wakes the thread (it wakes interruptible
// and uninterruptible sleepers alike).
func (t *torture) sleep(kt *tortureThread, d int64, what string) {
	if kt.stop || d <= 0 {
		return
	}
	m := t.k.M
	q := new(emu.WaitQueue)
	kt.sleepQ = q
	end := m.Now() + d
	m.At(end, func() { q.Wake(m, 0) })
	for !kt.stop && m.Now() < end {
		kt.c.Block(q, emu.WaitInfo{What: what, Owner: -1})
	}
	kt.sleepQ = nil
}

// kthreadStop is kthread_stop(): ask kt to stop, wake it, wait for it.
func (t *torture) kthreadStop(c *emu.Context, kt *tortureThread) {
	if kt == nil {
		return
	}
	kt.stop = true
	if kt.sleepQ != nil {
		kt.sleepQ.Wake(t.k.M, t.k.T.WakeLatency)
	}
	for !kt.done {
		c.Block(&kt.doneQ, emu.WaitInfo{What: "waits in kthread_stop for " + kt.c.Name, Owner: -1})
	}
}

// kthreadStopping is torture_kthread_stopping(): wait for kthread_stop().
func (t *torture) kthreadStopping(kt *tortureThread, title string) {
	t.torout(kt.c.CPU, title+" is stopping")
	for !kt.stop {
		t.sleep(kt, 50*Jiffy, "sleeps in torture_kthread_stopping")
	}
}

// rebind moves kt, which runs elsewhere, back to cpu
// (set_cpus_allowed_ptr): it sleeps for a nanosecond while the driver
// migrates it, and wakes up on cpu.
func (t *torture) rebind(kt *tortureThread, cpu int) {
	m := t.k.M
	if kt.c.CPU == cpu {
		return
	}
	c := kt.c
	m.At(m.Now(), func() {
		if c.Waiting() && t.k.Online(cpu) && c.CPU != cpu {
			m.Migrate(c.CPU, cpu, func(x *emu.Context) bool { return x != c })
		}
	})
	c.Sleep(1, "migrates")
}

// protect / unprotect are the invocation's protection: preempt_disable()
// or, with use_cpus_read_lock, cpus_read_lock().
func (t *torture) protect(c *emu.Context) {
	if !t.p.UseCPUsReadLock {
		t.k.PreemptDisable(c)
		return
	}
	for t.hpWriter {
		c.Block(&t.hpReadQ, emu.WaitInfo{What: "waits in cpus_read_lock", Owner: -1})
	}
	t.hpReaders++
}

func (t *torture) unprotect(c *emu.Context) {
	if !t.p.UseCPUsReadLock {
		t.k.PreemptEnable(c)
		return
	}
	t.hpReaders--
	if t.hpReaders == 0 && t.hpWriter {
		t.hpWriteQ.Wake(t.k.M, t.k.T.WakeLatency)
	}
}

// cpusWriteLock / cpusWriteUnlock are the hotplug side of cpu_hotplug_lock
// as _cpu_down()/_cpu_up() take it: new readers wait, then the writer
// waits for the readers inside to leave.
func (t *torture) cpusWriteLock(c *emu.Context) {
	t.hpWriter = true
	for t.hpReaders > 0 {
		c.Block(&t.hpWriteQ, emu.WaitInfo{What: "waits in cpus_write_lock", Owner: -1})
	}
}

func (t *torture) cpusWriteUnlock() {
	t.hpWriter = false
	t.hpReadQ.Wake(t.k.M, t.k.T.WakeLatency)
}

// invoker is scftorture_invoker(): one per thread, on CPU idx % nr_cpu_ids.
func (t *torture) invoker(kt *tortureThread) {
	c := kt.c
	Enter(c, scfFrameInvoker)
	t.verbosef(c.CPU, "scftorture_invoker %d: task started", kt.idx)
	cpu := kt.idx % t.nr
	if t.p.Holdoff > 0 {
		t.sleep(kt, t.p.Holdoff, "sleeps in holdoff")
	}
	t.verbosef(c.CPU, "scftorture_invoker %d: Waiting for all SCF torturers from cpu %d", kt.idx, c.CPU)
	if c.CPU != cpu {
		t.warnOnce(c, c.CPU, scfWarnAffinity, fmt.Sprintf("scftorture_invoker: Wanted CPU %d, running on %d, nr_cpu_ids = %d", kt.idx, c.CPU, t.nr))
	}
	// The start "barrier": only the last thread to arrive waits, for a
	// count that it has itself brought to zero, so nobody waits.
	t.nStarted--
	t.verbosef(c.CPU, "scftorture_invoker %d started", kt.idx)
	for {
		t.cleanupFreeList(cpu)
		t.invokeOne(kt)
		wasOffline := false
		for !t.k.Online(cpu) && !t.mustStop(kt) {
			t.sleep(kt, TortureHZ/5*Jiffy, "sleeps while its CPU is offline")
			wasOffline = true
		}
		if wasOffline {
			t.rebind(kt, cpu)
		}
		c.PreemptPoint() // cond_resched()
		t.stutterWait(kt)
		if t.mustStop(kt) {
			break
		}
	}
	t.verbosef(c.CPU, "scftorture_invoker %d ended", kt.idx)
	t.kthreadStopping(kt, "scftorture_invoker")
}

// stutterWait is stutter_wait(): sleep out a stutter pause.
func (t *torture) stutterWait(kt *tortureThread) {
	if till := t.stutterTill; till != 0 && t.k.M.Now() < till {
		t.sleep(kt, till-t.k.M.Now(), "sleeps in stutter_wait")
	}
}

// invokeOne is scftorture_invoke_one(): one randomly chosen call.
func (t *torture) invokeOne(kt *tortureThread) {
	c, k, st := kt.c, t.k, &kt.stats
	Enter(c, scfFrameInvokeOne)
	kt.busySince = k.M.Now()
	t.calls++
	c.Delay(invokeCost, "scftorture_invoke_one")
	sel := t.selRand(c)
	var chk *scfCheck
	if sel.prim == scfPrimSingle || sel.wait {
		chk = t.kmalloc()
		chk.cpu, chk.wait, chk.out, chk.rpc = -1, sel.wait, false, false
	}
	t.protect(c)
	switch sel.prim {
	case scfPrimResched:
		// resched_cpu() is only used when built in.
	case scfPrimSingle:
		cpu := int(t.random() % uint64(t.nr))
		if sel.wait {
			st.SingleWait++
		} else {
			st.Single++
		}
		if chk != nil {
			chk.cpu = cpu
			chk.in = true
		}
		if ret := k.SmpCallFunctionSingle(c, cpu, t.fnHandler1, chk.arg(), sel.wait); ret != 0 {
			if sel.wait {
				st.SingleWaitOfl++
			} else {
				st.SingleOfl++
			}
			t.addToFreeList(c, chk)
			chk = nil
		}
	case scfPrimSingleRPC:
		if chk == nil {
			break
		}
		cpu := int(t.random() % uint64(t.nr))
		st.SingleRPC++
		chk.cpu, chk.wait, chk.done, chk.rpc = cpu, true, false, true
		chk.in = true
		if ret := k.SmpCallFunctionSingle(c, cpu, t.fnHandler1, chk, false); ret == 0 {
			t.unprotect(c)
			for !chk.done {
				c.Block(&chk.waiters, emu.WaitInfo{What: t.rpcWhat[cpu], Owner: -1})
			}
			t.protect(c)
		} else {
			st.SingleRPCOfl++
			t.addToFreeList(c, chk)
			chk = nil
		}
	case scfPrimMany:
		if sel.wait {
			st.ManyWait++
		} else {
			st.Many++
		}
		if chk != nil {
			chk.in = true
		}
		k.SmpCallFunctionMany(c, k.online, t.fnHandler, chk.arg(), sel.wait)
	case scfPrimAll:
		if sel.wait {
			st.AllWait++
		} else {
			st.All++
		}
		if chk != nil {
			chk.in = true
		}
		k.SmpCallFunction(c, t.fnHandler, chk.arg(), sel.wait)
	}
	if chk != nil && sel.wait {
		if (k.NumOnline() > 1 || sel.prim == scfPrimSingle) && !chk.out {
			t.warnOnce(c, c.CPU, scfWarnMBOut, "")
			t.pr(c.CPU, fmt.Sprintf("scftorture_invoke_one: Memory-ordering failure, scfs_prim: %d.", sel.prim))
			t.nMBOut++ // and leak the object rather than trash it
		} else {
			t.addToFreeList(c, chk)
		}
	}
	t.unprotect(c)
	kt.busySince = -1
	if t.random()&0xfff == 0 {
		t.sleep(kt, Jiffy, "sleeps in schedule_timeout_uninterruptible")
	}
	Leave(c)
}

// scfHandler is scf_handler() as a Func.
func (t *torture) scfHandler(c *emu.Context, info any) error {
	Enter(c, scfFrameHandler)
	t.handle(c, info)
	Leave(c)
	return nil
}

// scfHandler1 is scf_handler_1(): scf_handler() plus the placement check.
func (t *torture) scfHandler1(c *emu.Context, info any) error {
	Enter(c, scfFrameHandler1)
	if chk, _ := info.(*scfCheck); chk != nil && c.CPU != chk.cpu {
		t.warnOnce(c, c.CPU, scfWarnWrongCPU, fmt.Sprintf("scf_handler_1: Wanted CPU %d got CPU %d", chk.cpu, c.CPU))
		t.nErrs++
	}
	Enter(c, scfFrameHandler)
	t.handle(c, info)
	Leave(c)
	Leave(c)
	return nil
}

// handle is the body of scf_handler(): the memory-ordering check on the
// way in, the count, the occasional udelay (or longwait busy-wait), and
// the hand-back: out = true (and complete()) for a waiting caller, free
// for a no-wait single call.
func (t *torture) handle(c *emu.Context, info any) {
	r := t.nextR
	if !t.drawn {
		r = t.random()
	}
	t.drawn = false
	chk, _ := info.(*scfCheck)
	if chk != nil {
		if chk.freed {
			t.nUAF++
			if t.nUAF == 1 {
				t.pr(c.CPU, fmt.Sprintf("scftorture: !!! scf_handler on CPU %d: scf_check used after it was freed", c.CPU))
			}
		}
		chk.out = false // with several receivers, the last one decides
		if !chk.in {
			t.warnOnce(c, c.CPU, scfWarnMBIn, "")
			t.nMBInErrs++
		}
	}
	t.invoked[c.CPU]++
	if d := t.handlerDelay(r); d > 0 {
		c.Delay(d, "udelay")
	}
	if chk == nil {
		return
	}
	if chk.wait {
		chk.out = true
		if chk.rpc {
			chk.done = true
			chk.waiters.Wake(t.k.M, t.k.T.WakeLatency)
		}
	} else {
		t.addToFreeList(c, chk)
	}
}

// handlerDelay is how long an invocation that drew r busy-waits: now and
// then a udelay (or, with longwait, whole seconds of them).
func (t *torture) handlerDelay(r uint64) int64 {
	switch {
	case t.lw <= 0 && r&0xffc0 == 0:
		return int64(r&0x3f) * scfUsec
	case r&0xfff != 0:
		return 0
	case t.lw <= 0:
		return int64((r>>12)&0xff+1) * scfUsec
	default:
		return (int64(r>>12)%t.lw + 1) * scfSecond // 1000 udelay(1000) per second
	}
}

// handlerNoWait is the handlers' Func.NoWait: the call comes next, so it
// draws that invocation's random number now and tells whether it delays.
func (t *torture) handlerNoWait(*emu.Context, any) bool {
	t.nextR, t.drawn = t.random(), true
	return t.handlerDelay(t.nextR) == 0
}

// warnOnce is WARN_ONCE/WARN_ON_ONCE at a kernel/scftorture.c site: the
// banner, the text, the dump, once per site. c may be nil (init).
func (t *torture) warnOnce(c *emu.Context, cpu int, ws scfWarnSite, text string) {
	if ws.id < len(t.warned) {
		if t.warned[ws.id] {
			return
		}
		t.warned[ws.id] = true
	}
	t.k.warnBanner(c, cpu, "kernel/scftorture.c", ws.line, ws.at, text)
	t.ownWarns++
}

// onoffThread is torture_onoff(): every onoff_interval jiffies (plus up to
// one jiffy of fuzz) pick a CPU at random up to the highest CPU online at
// the start; offline it if it is online and hotpluggable, else online it.
func (t *torture) onoffThread(kt *tortureThread) {
	c, k := kt.c, t.k
	Enter(c, scfFrameOnoff)
	t.torout(c.CPU, "torture_onoff task started")
	maxcpu := -1
	for cpu := k.online.Next(0); cpu >= 0; cpu = k.online.Next(cpu + 1) {
		maxcpu = cpu
	}
	t.onlineAll(kt, "Initial")
	if maxcpu <= 0 {
		t.torout(c.CPU, "Only one CPU, so CPU-hotplug testing is disabled")
	} else {
		if t.p.OnoffHoldoff > 0 {
			t.torout(c.CPU, "torture_onoff begin holdoff")
			t.sleep(kt, t.p.OnoffHoldoff+int64(t.random()%uint64(Jiffy)), "sleeps in torture_onoff holdoff")
			t.torout(c.CPU, "torture_onoff end holdoff")
		}
		for !t.mustStop(kt) {
			cpu := int(t.random() % uint64(maxcpu+1))
			if !t.offline(kt, cpu) {
				t.online(kt, cpu)
			}
			t.sleep(kt, t.p.OnoffInterval+int64(t.random()%uint64(Jiffy)), "sleeps in torture_onoff")
		}
	}
	t.kthreadStopping(kt, "torture_onoff")
	t.onlineAll(kt, "Final")
}

// hotpluggable is cpu_is_hotpluggable(): on x86 the boot CPU is not.
func (t *torture) hotpluggable(cpu int) bool { return !(cpu == 0 && t.k.Spec.IsX86()) }

func scfJiffies(ns int64) int64 { return ns / Jiffy }

// offline is torture_offline(); false if it did not try.
func (t *torture) offline(kt *tortureThread, cpu int) bool {
	k := t.k
	if !k.Online(cpu) || !t.hotpluggable(cpu) || k.NumOnline() <= 1 {
		return false
	}
	o := &t.onoff
	t.hotplugOp(kt, cpu, "offlin", "offline", k.CPUDown, &o.OfflineAttempts, &o.OfflineSuccesses, &o.MinOffline, &o.MaxOffline, &o.SumOffline)
	return true
}

// online is torture_online(); false if it did not try.
func (t *torture) online(kt *tortureThread, cpu int) bool {
	k := t.k
	if k.Online(cpu) || !t.hotpluggable(cpu) {
		return false
	}
	o := &t.onoff
	t.hotplugOp(kt, cpu, "onlin", "online", k.CPUUp, &o.OnlineAttempts, &o.OnlineSuccesses, &o.MinOnline, &o.MaxOnline, &o.SumOnline)
	return true
}

// hotplugOp is the common body of torture_offline() and torture_online():
// the verbose lines ("offlining 3", "offline 3 failed", "offlined 3"), the
// operation under the hotplug write lock, and its statistics in jiffies.
func (t *torture) hotplugOp(kt *tortureThread, cpu int, stem, verb string, op func(*emu.Context, int) int,
	attempts, successes, minJ, maxJ, sumJ *int64) {
	c, k := kt.c, t.k
	if t.p.Verbose > 1 {
		t.pr(c.CPU, fmt.Sprintf("scftorture-torture:torture_onoff task: %sing %d", stem, cpu))
	}
	start := scfJiffies(k.M.Now())
	*attempts++
	t.cpusWriteLock(c)
	ret := op(c, cpu)
	t.cpusWriteUnlock()
	if ret != 0 {
		if t.p.Verbose != 0 {
			t.pr(c.CPU, fmt.Sprintf("scftorture-torture:torture_onoff task: %s %d failed: errno %d", verb, cpu, ret))
		}
		return
	}
	if t.p.Verbose > 1 {
		t.pr(c.CPU, fmt.Sprintf("scftorture-torture:torture_onoff task: %sed %d", stem, cpu))
	}
	*successes++
	d := scfJiffies(k.M.Now()) - start
	*sumJ += d
	if *minJ < 0 {
		*minJ, *maxJ = d, d
	}
	*minJ, *maxJ = min(*minJ, d), max(*maxJ, d)
}

// onlineAll is torture_online_all(): bring every possible CPU online,
// outside the statistics.
func (t *torture) onlineAll(kt *tortureThread, phase string) {
	c, k := kt.c, t.k
	for cpu := 0; cpu < t.nr; cpu++ {
		if k.Online(cpu) {
			continue
		}
		t.cpusWriteLock(c)
		ret := k.CPUUp(c, cpu)
		t.cpusWriteUnlock()
		if ret != 0 && t.p.Verbose != 0 {
			t.pr(c.CPU, fmt.Sprintf("scftorture-torture:torture_online_all: %s scftorture online %d: errno %d", phase, cpu, ret))
		}
	}
}

// statsLine is the line scf_torture_stats_print() builds with
// torture_onoff_stats() in the middle. The "!!! " flag, once set, stays.
func (t *torture) statsLine() string {
	var s TortureStats
	for _, kt := range t.invokers {
		s.add(&kt.stats)
	}
	var invoked int64
	for _, n := range t.invoked {
		invoked += n
	}
	if t.nErrs != 0 || t.nMBInErrs != 0 || t.nMBOut != 0 || t.nAllocErr != 0 {
		t.bang = "!!! "
	}
	ver := "ver"
	if t.scfdone {
		ver = "VER"
	}
	o := &t.onoff
	return fmt.Sprintf("scftorture:  %sscf_invoked_count %s: %d resched: %d single: %d/%d single_ofl: %d/%d single_rpc: %d single_rpc_ofl: %d many: %d/%d all: %d/%d ",
		t.bang, ver, invoked, s.Resched, s.Single, s.SingleWait, s.SingleOfl, s.SingleWaitOfl,
		s.SingleRPC, 0, s.Many, s.ManyWait, s.All, s.AllWait) +
		fmt.Sprintf("onoff: %d/%d:%d/%d %d,%d:%d,%d %d:%d (HZ=%d) ",
			o.OnlineSuccesses, o.OnlineAttempts, o.OfflineSuccesses, o.OfflineAttempts,
			o.MinOnline, o.MaxOnline, o.MinOffline, o.MaxOffline, o.SumOnline, o.SumOffline, TortureHZ) +
		fmt.Sprintf("ste: %d stnmie: %d stnmoe: %d staf: %d", t.nErrs, t.nMBInErrs, t.nMBOut, t.nAllocErr)
}

// cleanup is scf_torture_cleanup(), run by the rmmod task once the driver
// has set fullstop: stop the torture core's threads (onoff brings every
// CPU back first), then the invokers one by one, wait for an empty call on
// every other CPU, stop the stats thread (which prints once more when
// woken), print the final statistics and free everything. The verdict is
// printed by the driver, which adds the checks of its own.
func (t *torture) cleanup(kt *tortureThread) {
	c := kt.c
	Enter(c, scfFrameCleanup)
	t.kthreadStop(c, t.onoffT)
	t.scfdone = true
	if t.nthreads == 0 {
		return
	}
	for _, inv := range t.invokers {
		t.kthreadStop(c, inv)
	}
	t.k.SmpCallFunction(c, t.fnCleanup, nil, true)
	if t.p.StatInterval > 0 {
		t.pr(c.CPU, t.statsLine()) // the stats kthread, woken by kthread_stop()
	}
	t.pr(c.CPU, t.statsLine())
	for cpu := 0; cpu < t.nr; cpu++ {
		t.cleanupFreeList(cpu)
	}
}

// run drives the machine from the module's load to its End line.
func (t *torture) run(v *Validator, res *TortureResult) error {
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
			cpu := k.online.Next(0)
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
	k          *Kernel
	cpu, every int
	n          int
}

// KernelEvent implements EventSink.
func (d *ipiDropper) KernelEvent(e Event) {
	if e.Kind != EvQueue || e.Dst != d.cpu || d.k.QueueDepth(d.cpu) != 1 {
		return
	}
	d.n++
	if d.n%d.every == 0 {
		d.k.Faults.Drop(d.cpu, 1)
	}
}

// PerfTorture is BenchmarkTorture's body (shared with `xcallsh bench`, as
// the bodies in perf.go are): one op = one scftorture handler invocation on
// x86-4 with the default mix and the module's defaults, no hotplug. The
// torture runs until b.N handlers ran; it reports invocations per host
// second and the virtual time per invocation.
func PerfTorture(b *testing.B) {
	b.ReportAllocs()
	spec, err := machines.Builtin("x86-4")
	if err != nil {
		b.Fatal(err)
	}
	p := DefaultTortureParams()
	p.Duration = 0
	res, err := RunTorture(spec, 0, p, nil, withStopAfter(int64(b.N)))
	if err != nil {
		b.Fatal(err)
	}
	if res.Verdict != "SUCCESS" {
		b.Fatalf("verdict %q", res.Verdict)
	}
	b.ReportMetric(float64(res.Invocations)/b.Elapsed().Seconds(), "invocations/s")
	b.ReportMetric(float64(res.VirtualTime)/float64(res.Invocations), "virtual-ns/invocation")
}
