// This file mirrors Linux's kernel/scftorture.c (the torture test of the
// smp_call_function() family, as of Kingxukai/linux 0291023e7330, mainline
// with per-CPU free-lists; docs/kernel.md#scftorture). The parts of
// kernel/torture.c it relies on (torture_onoff, stutter, kthread start and
// stop, the onoff statistics) are in torture.go, and the driver of a run,
// which the kernel does not have, is in run.go. It describes the module's
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

// Package scftorture is kernel/scftorture.c, the torture test of the
// smp_call_function() family, as a client of package xcall: it loads onto
// a booted xcall.Kernel and uses only what a module could, the cross-call
// API, CPU hotplug, printk, WARN and the invariant validator. Run is the
// whole test, from insmod to the End line.
package scftorture

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/xcall"
)

// HZ is the jiffy rate the emulated kernel uses for scftorture's
// jiffy-valued parameters (onoff_interval, stutter) and the onoff statistics.
const HZ = 1000

// Virtual-time units of scftorture's parameters.
const (
	Jiffy     = int64(1_000_000_000 / HZ)
	scfSecond = int64(1_000_000_000)
	scfUsec   = int64(1000)
)

// invokeCost is the virtual time one scftorture_invoke_one() spends on its
// own work (selection, allocation, statistics), besides the calls it makes.
const invokeCost = 100

// Params are scftorture's module parameters (scftorture.<name>=).
// Time-valued ones are in virtual nanoseconds; the comment of each names the
// kernel's own unit, in which the Start and End lines print it.
type Params struct {
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

// DefaultParams returns the module's defaults when loaded with
// insmod, and a Duration of one virtual second.
func DefaultParams() Params {
	return Params{
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

// Stats mirrors struct scf_statistics: what the invokers did, summed
// over all threads.
type Stats struct {
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

func (s *Stats) add(o *Stats) {
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

// ErrZeroWeights is returned (wrapped) when every weight resolves to zero:
// scftorture refuses to load with -EINVAL.
var ErrZeroWeights = errors.New("all zero weights makes no sense")

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

// Frames pushed for call traces (xcall.Enter, xcall.Leave).
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
	k    *xcall.Kernel
	p    Params
	o    options
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

	fnHandler, fnHandler1, fnCleanup *xcall.Func

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

// pr prints one line to the kernel log (from cpu).
func (t *torture) pr(cpu int, text string) { t.k.M.Printk(cpu, text) }

// verbosef is VERBOSE_SCFTORTOUT.
func (t *torture) verbosef(cpu int, format string, args ...any) {
	if t.p.Verbose != 0 {
		t.pr(cpu, "scftorture: "+fmt.Sprintf(format, args...))
	}
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
	t.fnHandler = &xcall.Func{Name: "scf_handler", Size: 0x1a0, Module: "scftorture", Fn: t.scfHandler, NoWait: t.handlerNoWait}
	t.fnHandler1 = &xcall.Func{Name: "scf_handler_1", Size: 0x90, Module: "scftorture", Fn: t.scfHandler1, NoWait: t.handlerNoWait}
	t.fnCleanup = &xcall.Func{Name: "scf_cleanup_handler", Size: 0x10, Module: "scftorture",
		Fn: func(*emu.Context, any) error { return nil }, NoWait: xcall.NeverWaits}

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
			cpu = k.CPUOnlineMask().Next(0)
		}
		t.invokers = append(t.invokers, t.spawn(emu.KindTask, cpu, "scftorture_invo", i, t.invoker))
	}
	return nil
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

// invoker is scftorture_invoker(): one per thread, on CPU idx % nr_cpu_ids.
func (t *torture) invoker(kt *tortureThread) {
	c := kt.c
	xcall.Enter(c, scfFrameInvoker)
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
			t.sleep(kt, HZ/5*Jiffy, "sleeps while its CPU is offline")
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

// invokeOne is scftorture_invoke_one(): one randomly chosen call.
func (t *torture) invokeOne(kt *tortureThread) {
	c, k, st := kt.c, t.k, &kt.stats
	xcall.Enter(c, scfFrameInvokeOne)
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
		k.SmpCallFunctionMany(c, k.CPUOnlineMask(), t.fnHandler, chk.arg(), sel.wait)
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
	xcall.Leave(c)
}

// scfHandler is scf_handler() as an xcall.Func.
func (t *torture) scfHandler(c *emu.Context, info any) error {
	xcall.Enter(c, scfFrameHandler)
	t.handle(c, info)
	xcall.Leave(c)
	return nil
}

// scfHandler1 is scf_handler_1(): scf_handler() plus the placement check.
func (t *torture) scfHandler1(c *emu.Context, info any) error {
	xcall.Enter(c, scfFrameHandler1)
	if chk, _ := info.(*scfCheck); chk != nil && c.CPU != chk.cpu {
		t.warnOnce(c, c.CPU, scfWarnWrongCPU, fmt.Sprintf("scf_handler_1: Wanted CPU %d got CPU %d", chk.cpu, c.CPU))
		t.nErrs++
	}
	xcall.Enter(c, scfFrameHandler)
	t.handle(c, info)
	xcall.Leave(c)
	xcall.Leave(c)
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

// handlerNoWait is the handlers' xcall.Func.NoWait: the call comes next, so it
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
	t.k.Warn(c, cpu, "kernel/scftorture.c", ws.line, ws.at, text)
	t.ownWarns++
}

// statsLine is the line scf_torture_stats_print() builds with
// torture_onoff_stats() in the middle. The "!!! " flag, once set, stays.
func (t *torture) statsLine() string {
	var s Stats
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
			o.MinOnline, o.MaxOnline, o.MinOffline, o.MaxOffline, o.SumOnline, o.SumOffline, HZ) +
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
	xcall.Enter(c, scfFrameCleanup)
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
