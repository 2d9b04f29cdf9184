// Package xcall is the kernel side of xcallsh: kernel/smp.c (the
// smp_call_function* family, the CSD lock, the per-CPU call_single_queue,
// CSD-lock-wait debugging), the 2022 smp_xcall RFC, and the arch glue that
// turns a "send IPI" into irqchip register writes. It runs on package emu
// and knows nothing of Lua: functions to call are *Func values.
package xcall

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"unsafe"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/irqchip"
	"github.com/xcallsh/xcallsh/machines"
)

// Errno values, positive as in C; kernel functions return them negated.
const (
	ENOMEM = 12
	EBUSY  = 16
	EINVAL = 22
	EPERM  = 1
	ENXIO  = 6
)

// Func is a function a CPU can be asked to run (smp_call_func_t).
type Func struct {
	Name string // symbol name, as %ps prints it
	Size int    // symbol size, for %pS ("name+0x0/0x<size>")
	// Module is the module the function is in ("scftorture"), or "" for
	// the kernel image: %ps and %pS follow a module's symbols with
	// " [module]".
	Module string
	// Fn runs on the target CPU in context c. An error fails the run.
	Fn func(c *emu.Context, info any) error
	// NoWait, if set, is asked right before an interrupt handler calls Fn
	// on the engine's stack (emu.Context.Stackless): true promises that
	// this call, Fn(c, info), will not wait (no Delay, Spin, Sleep), so it
	// needs no coroutine. Fn is then called next, with nothing in between.
	// nil: Fn may wait.
	NoWait func(c *emu.Context, info any) bool
}

// NeverWaits is a NoWait for functions that never wait.
func NeverWaits(*emu.Context, any) bool { return true }

// CondFunc decides whether cpu gets the call (smp_cond_func_t).
type CondFunc func(c *emu.Context, cpu int, info any) (bool, error)

// Stats counts what a run did, for the summary line.
type Stats struct {
	Calls    int // cross-call API invocations
	IPIs     int // IPIs delivered to a CPU by the interrupt controller
	Reports  int // "non-responsive CSD lock" reports
	Warnings int // WARN splats
	Resends  int // debug IPI re-sends
}

// Kernel is one booted machine: the emu machine, the interrupt controller
// and the state of kernel/smp.c.
type Kernel struct {
	M      *emu.Machine
	Spec   *machines.Spec
	Chip   irqchip.Chip
	Faults irqchip.Faults
	T      machines.Timing
	Stats  Stats

	nr       int
	online   Cpumask // cpu_online_mask
	onlineFn func(int) bool
	nOnline  int
	pc       []percpu
	sirq     softirqs // softirq.go
	// monitorBroken: CPUs whose polling idle does not notice need-resched
	// (SetMonitorWakeupBroken); nil: none.
	monitorBroken []bool

	// The native memory model (memory.go): whether it is on, and the
	// queueing stores still in a CPU's store buffer.
	native bool
	sbuf   storeBuffers
	// memOracle, for tests, replaces sbuf (memory.go); nil: sbuf.
	memOracle storeOracle
	// The named variables' memory (varmem.go) and the x86 TLB path's
	// state (tlb.go), made on first use.
	vars *varMemory
	tlb  *tlbState

	// Parameters (machine [kernel] table, param()).
	CSDLockDebug    bool
	CSDLockTimeout  int64 // ms
	PanicOnIPIStall int64 // ms
	idlePoll        bool

	writes []RegWrite
	// Modules is the " name name" list WARN banners print after
	// "Modules linked in:" (scftorture sets it while it is loaded).
	Modules string
	// RecordWrites keeps the register-write log (on at boot).
	RecordWrites bool
	// WritesDropped counts register writes not recorded (beyond MaxWrites).
	WritesDropped int
	csdFree       []*CSD           // unused on-stack csds
	flushFree     []*flushState    // idle flush states
	appender      irqchip.Appender // Chip's allocation-free decoder, if it has one
	maskCPUs      []int            // scratch: a mask send's targets, listed and used with no wait between
	warned        map[string]bool  // WARN_ONCE sites that fired; looked up by name, never ranged
	offlineWarned bool

	csdBugCount   int
	nCSDLockStuck int
	nextCSD       int
	panicMsg      string
	fixOff        [len(Fixes)]bool // indexed by FixID
	devIRQ        [][]deviceAction // per CPU: device interrupt handlers raised, not yet run (devirq.go)
	tainted       bool             // a WARN fired (TAINT_WARN)

	hooks map[string]Hook // operator code at points; looked up, never ranged

	// flushOracle, if set (by tests only), runs instead of the flush.
	flushOracle func(c *emu.Context, warnCPUOffline bool, vec int)

	csdSpins [][]csdSpin // per CPU: csd_lock_wait spins in progress, innermost last (stuck.go)

	// CPU hotplug (hotplug.go).
	hpState          []cpuhpState // cpuhp state of each CPU
	active           Cpumask      // cpu_active_mask
	hpBusy           bool         // a hotplug operation is in progress
	hpWait           emu.WaitQueue
	hpFaults         []hpFault
	apDead           bool          // the dying CPU's idle task reported it dead (cpuhp_complete_idle_dead ran)
	apDeadQ          emu.WaitQueue // takedown_cpu waiting for that
	completeIdleDead *Func         // cpuhp_complete_idle_dead
	booted           Cpumask       // cpus_booted_once_mask
	shorthand        bool          // apic_use_ipi_shorthand

	backtraceMask Cpumask       // CPUs asked for an NMI backtrace
	backtraceDone emu.WaitQueue // requesters waiting for those backtraces

	dbg csdDebug        // CSD-lock debugging's extra state: clock skews, pile-up, csd lifetimes (csd_debug.go)
	x2c *x2apicClusters // cluster x2APIC: cluster_masks (x2apic_cluster.go)

	// Validator receives the kernel's own events (queue, run, unlock...).
	Events []EventSink
}

// RegWrite is one recorded interrupt-controller register write.
type RegWrite struct {
	T     int64
	CPU   int
	Reg   string
	Value uint64
}

// percpu is the per-CPU state of kernel/smp.c, padded to whole cache
// lines so that every element of the per-CPU array starts on a line and
// the fields a cross-call touches on its target, at the head of
// percpuData, share one line (layout_test.go checks both).
type percpu struct {
	percpuData
	_ [(cacheLine - unsafe.Sizeof(percpuData{})%cacheLine) % cacheLine]byte
}

// cacheLine is the host cache-line size the per-CPU array is laid out for.
const cacheLine = 64

// percpuData is percpu without the padding. Written by its own CPU's
// contexts, except queue (pushed by any sender) and the csds (see CSD).
type percpuData struct {
	// What a cross-call touches on its target comes first, in one line.
	queue *CSD // call_single_queue: newest first, like an llist
	qlen  int

	// Debug records of what this CPU executes (csd_lock_record).
	curCSD  *CSD
	curFunc *Func
	curInfo any

	noBacktrace bool // !trigger_backtrace: a waiter already dumped this CPU

	csdData *CSD   // csd_data: async single calls issued from this CPU (lazy)
	cfdCSD  []*CSD // cfd_data.csd[target] (lazy: allocated on the first many-call)
	cfdMask Cpumask
	cfdIPI  Cpumask

	// Scratch for this CPU's IPI sends (a CPU sends one IPI at a time:
	// interrupts are off across a send).
	wbuf []irqchip.Write
	sb   *sendScratch // the send under way (arch.go), allocated on the CPU's first send
}

// sendScratch is a CPU's send under way, decoded when it begins: tbuf
// holds its targets, write i's being tbuf[tend[i-1]:tend[i]] for vector
// tvec[i]; the IPI ids of its targets are consecutive, id0 being
// tbuf[0]'s.
type sendScratch struct {
	site site // its callsite (EvIPISend's Site), if known
	tbuf []int
	tend []int
	tvec []int
	id0  uint64
}

// ErrPanic wraps the message of an emulated kernel panic.
var ErrPanic = errors.New("kernel panic")

// Boot builds the live machine for spec with the given seed. Booting takes
// no virtual time: every CPU of spec.Online is online at time 0.
func Boot(spec *machines.Spec, seed uint64) (*Kernel, error) {
	return BootSched(spec, seed, emu.SchedConfig{})
}

// BootSched is Boot with a choice of scheduling decisions (a strategy, a
// list to replay, recording).
func BootSched(spec *machines.Spec, seed uint64, sc emu.SchedConfig) (*Kernel, error) {
	chip, err := irqchip.New(string(spec.Arch), spec.IRQChip, spec.CPUs)
	if err != nil {
		return nil, fmt.Errorf("booting %q: %w", spec.Name, err)
	}
	m := emu.New(emu.Config{CPUs: spec.CPUs, Seed: seed, HighVectorFirst: spec.IsX86(), Sched: sc,
		IRQEntry: spec.Timing.IRQEntry})
	k := &Kernel{
		M:               m,
		Spec:            spec,
		Chip:            chip,
		T:               spec.Timing,
		nr:              spec.CPUs,
		online:          NewCpumask(spec.CPUs),
		pc:              make([]percpu, spec.CPUs),
		CSDLockDebug:    spec.Kernel.CSDLockDebug,
		CSDLockTimeout:  spec.Kernel.CSDLockTimeoutMS,
		PanicOnIPIStall: spec.Kernel.PanicOnIPIStall,
		idlePoll:        spec.Kernel.Idle == "poll",
		native:          spec.Memory == machines.MemoryNative,
		RecordWrites:    true,
		warned:          map[string]bool{},
	}
	k.appender, _ = chip.(irqchip.Appender)
	k.completeIdleDead = k.newCompleteIdleDead()
	k.hpState = make([]cpuhpState, spec.CPUs)
	k.booted = NewCpumask(spec.CPUs)
	k.booted.Set(0)
	k.active = NewCpumask(spec.CPUs)
	for c := 0; c < spec.CPUs; c++ {
		m.CPU(c).Parked = true
		m.CPU(c).IRQsOff = true // not booted: nothing runs there
	}
	m.CPU(0).IRQsOff = false
	// The boot CPU is up; the others come up through the same walk as
	// cpu_up, at time 0.
	k.online.Set(0)
	k.nOnline = 1
	m.CPU(0).Parked = false
	k.hpState[0] = cpuhpOnline
	k.active.Set(0)
	k.x2apicInitLDR(0)
	k.onlineFn = k.online.Test
	for _, c := range spec.Online {
		if c != 0 {
			k.bringUp(nil, c)
		}
	}
	k.updateShorthand()
	m.OnInterrupt = k.handleInterrupt
	m.OnNMI = k.handleNMI
	m.OnIdleExit = k.idleExit
	k.bootLog()
	return k, nil
}

// updateShorthand mirrors apic_smt_update(): x86 may use the ALLBUT
// shorthand only once every present CPU has booted at least once and more
// than one CPU is online.
func (k *Kernel) updateShorthand() {
	a, ok := k.Chip.(interface{ SetIPIShorthand(bool) })
	if !ok {
		return
	}
	all := true
	for c := 0; c < k.nr; c++ {
		if !k.bootedOnce(c) {
			all = false
			break
		}
	}
	k.shorthand = all && k.nOnline > 1
	a.SetIPIShorthand(k.shorthand)
}

func (k *Kernel) bootedOnce(cpu int) bool { return k.booted.Test(cpu) }

// Close releases the machine.
func (k *Kernel) Close() { k.M.Close() }

// NrCPUIDs is nr_cpu_ids.
func (k *Kernel) NrCPUIDs() int { return k.nr }

// Online reports cpu_online(cpu).
func (k *Kernel) Online(cpu int) bool { return k.online.Test(cpu) }

// NumOnline is num_online_cpus().
func (k *Kernel) NumOnline() int { return k.nOnline }

// OnlineMask returns a copy of cpu_online_mask.
func (k *Kernel) OnlineMask() Cpumask { return k.online.Copy() }

// Node is cpu_to_node(cpu).
func (k *Kernel) Node(cpu int) int { return k.Spec.Node(cpu) }

// Writes lists the register writes so far.
func (k *Kernel) Writes() []RegWrite { return k.writes }

// Panicked returns the panic message, or "".
func (k *Kernel) Panicked() string { return k.panicMsg }

// CSDLockIsStuck is csd_lock_is_stuck().
func (k *Kernel) CSDLockIsStuck() bool { return k.nCSDLockStuck != 0 }

func (k *Kernel) bootLog() {
	nodes := len(k.Spec.Nodes)
	if k.Spec.IsX86() {
		line := "IPI shorthand broadcast: disabled"
		if k.shorthand {
			line = "IPI shorthand broadcast: enabled"
		}
		k.printk(0, line)
	}
	var gic [][]string // gic_cpu_sys_reg_init()'s warnings, per CPU brought up
	if g, ok := k.Chip.(*irqchip.GICv3); ok {
		if gic = g.BootLog(k.Spec.Online); len(gic) > 0 {
			for _, l := range gic[0] {
				k.printk(0, l)
			}
		}
	}
	k.printk(0, "smp: Bringing up secondary CPUs ...")
	for i := 1; i < len(gic); i++ {
		for _, l := range gic[i] {
			k.printk(k.Spec.Online[i], l)
		}
	}
	// strconv, not fmt: every boot prints it (the same text).
	k.printk(0, "smp: Brought up "+strconv.Itoa(nodes)+" node"+plural(nodes)+", "+strconv.Itoa(k.nOnline)+" CPU"+plural(k.nOnline))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// printk logs one message on cpu.
func (k *Kernel) printk(cpu int, text string) { k.M.Printk(cpu, text) }

// fail stops the run with err raised by code running in c (a Lua error in
// a cross-called function, say) and parks c for good.
func (k *Kernel) fail(c *emu.Context, err error) {
	k.M.Stop(err)
	c.WaitForever("failed")
}

// call runs f(info) in c, failing the run on error.
func (k *Kernel) call(c *emu.Context, f *Func, info any) {
	if f == nil || f.Fn == nil {
		return
	}
	if err := f.Fn(c, info); err != nil {
		k.fail(c, err)
	}
}

// Panic is the emulated panic(): it prints the panic line, stops the
// machine and parks c.
func (k *Kernel) Panic(c *emu.Context, msg, bugLine string) {
	k.printk(c.CPU, "Kernel panic - not syncing: "+msg)
	k.panicMsg = bugLine
	if bugLine == "" {
		k.panicMsg = msg
	}
	k.M.Stop(fmt.Errorf("%w: %s", ErrPanic, k.panicMsg))
	c.WaitForever("panicked")
}

// ptr renders a pointer the way %p does (hashed): 16 hex digits.
func ptr(id int) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "csd%d", id)
	return fmt.Sprintf("%016x", h.Sum32())
}

// dataPtr renders info as %ps prints a data pointer: a raw address.
func dataPtr(info any) string {
	switch v := info.(type) {
	case nil:
		return "0x0"
	case int64:
		if v >= 0 {
			return fmt.Sprintf("0x%x", v)
		}
	case int:
		if v >= 0 {
			return fmt.Sprintf("0x%x", v)
		}
	case interface{ Addr() uint64 }:
		return fmt.Sprintf("0x%x", v.Addr())
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", info)
	return fmt.Sprintf("0xffff8880%08x", h.Sum32())
}

// Sym renders f as %pS: "name+0x0/0xsize", and " [module]" for a
// function of a module (kallsyms' __sprint_symbol).
func (f *Func) Sym() string {
	if f == nil {
		return "0x0"
	}
	size := f.Size
	if size == 0 {
		size = 0x10
	}
	return fmt.Sprintf("%s+0x0/0x%x", f.Name, size) + f.modSuffix()
}

// PS renders f as %ps: the name, and " [module]" for a function of a
// module.
func (f *Func) PS() string {
	if f == nil {
		return "0x0"
	}
	return f.Name + f.modSuffix()
}

func (f *Func) modSuffix() string {
	if f.Module == "" {
		return ""
	}
	return " [" + f.Module + "]"
}

// site is a kernel code location used as a tracepoint callsite or WARN
// location. Offsets are illustrative but fixed, so traces are stable.
type site struct {
	fn   string
	off  int
	size int
}

func (s site) String() string { return fmt.Sprintf("%s+0x%x/0x%x", s.fn, s.off, s.size) }

// Kernel symbols that appear in traces and logs.
var (
	symGenericIPI = &Func{Name: "generic_smp_call_function_single_interrupt", Size: 0x20}
	// DoNothing is kernel/smp.c's do_nothing.
	DoNothing = &Func{Name: "do_nothing", Size: 0x10, Fn: func(*emu.Context, any) error { return nil }, NoWait: NeverWaits}
)

// CPUState names the state of cpu: "online", "offline", or the name of the
// cpuhp state a CPU going up or down is in ("smpcfd:dying").
func (k *Kernel) CPUState(cpu int) string {
	return k.hpState[cpu].String()
}
