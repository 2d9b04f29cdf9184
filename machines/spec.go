// Package machines describes emulated machines: TOML files decoded into a
// pure, validated Spec. Booting a Spec (package xcall) builds the live machine.
//
// A Spec is plain data: two Specs decoded from equal files are reflect.DeepEqual.
//
// The file format, every default and every rule are described on Parse. Five
// machines are built in (Builtins, Builtin); Load takes a built-in name or a
// path; Synthetic builds machines of any size for tests and benchmarks.
package machines

import "fmt"

// Arch names an architecture.
type Arch string

// The architectures a machine can have.
const (
	ArchX86   Arch = "x86_64"
	ArchARM64 Arch = "arm64"
)

// IsX86 reports whether the machine is x86_64 (otherwise it is arm64): the
// one way every layer asks which architecture's code, vectors and messages
// apply.
func (s *Spec) IsX86() bool { return s.Arch == ArchX86 }

// Spec is a validated machine description.
type Spec struct {
	Name        string
	Description string // one line, shown by "xcallsh machines"; may be empty
	Arch        Arch
	CPUs        int   // nr_cpu_ids: possible CPUs, 1..8192
	Online      []int // CPUs online at boot, ascending; always contains 0
	IRQChip     IRQChip
	// Nodes[n] lists the CPUs of NUMA node n, ascending. Every CPU is in exactly one node.
	Nodes [][]int
	// CPUNode[cpu] is the node holding cpu (len CPUs); derived from Nodes.
	CPUNode []int
	Timing  Timing
	Kernel  Kernel
	// Memory is the memory model the kernel's cross calls run under
	// ([memory] model): MemoryNative, or "" for sequential consistency
	// (the default; a file's "sc"). See docs/memory.md.
	Memory string
	// Source is the TOML text the Spec was decoded from (for reports).
	Source string
}

// IRQChip describes the interrupt controller.
type IRQChip struct {
	Kind string // "xapic", "x2apic" (x86_64) or "gicv3" (arm64)
	// Mode is, for xapic, "flat" or "physical"; for x2apic, "physical" or
	// "cluster"; for gicv3 always "" (a file may say "physical" or nothing).
	// In x2APIC cluster mode a CPU's logical ID is derived from its APIC ID:
	// (id>>4)<<16 | 1<<(id&15), cluster id>>4 in the high half and one bit of
	// a 16-bit mask in the low half.
	Mode string
	// ClusterSize is, for gicv3, the number of CPUs per Aff1 cluster
	// (Aff0 = cpu % size, Aff1 = cpu / size): 1..256, default 16. It is 0 on x86.
	ClusterSize int
	// NoRangeSelector is, for gicv3, a GIC without range-selector support
	// (ICC_CTLR_EL1.RSS and GICD_TYPER.RSS both 0; the file says
	// range_selector = false): an SGI reaches Aff0 values 0-15 only, its RS
	// field is taken as 0. false (range selectors supported) by default.
	NoRangeSelector bool
	// APICIDs[cpu] is the (x2)APIC ID of cpu (x86 only, len CPUs; default: the
	// CPU number). nil on arm64.
	APICIDs []int
}

// Timing holds the virtual-time costs of the model, in nanoseconds.
type Timing struct {
	IPILatency  int64 // register write that sends an IPI -> interrupt pending at the target
	RegWrite    int64 // one ICR/ICR2/MSR 0x830/ICC_SGI1R_EL1 write, spent by the sender
	IRQEntry    int64 // interrupt taken -> handler body starts
	IRQExit     int64 // handler body returns -> interrupted context resumes
	CSDSetup    int64 // sender: lock, fill and enqueue one csd
	Callback    int64 // target: dequeue and call one csd's function (besides what the function spends)
	WakeLatency int64 // a store (e.g. a csd unlock) becomes visible to a CPU spinning on it
	Jitter      int64 // seeds != 0: every IPI latency gets a uniform 0..Jitter extra
	HotplugStep int64 // one cpuhp state callback during cpu_down/cpu_up
	// NMIBacktrace is the time a CPU spends in nmi_cpu_backtrace()
	// printing its backtrace (to a slow console); 0, the default, makes
	// the NMI free.
	NMIBacktrace int64
}

// DefaultTiming is the timing used for keys a machine file leaves out.
var DefaultTiming = Timing{
	IPILatency:  1000,
	RegWrite:    40,
	IRQEntry:    300,
	IRQExit:     200,
	CSDSetup:    20,
	Callback:    50,
	WakeLatency: 100,
	Jitter:      200,
	HotplugStep: 10000,
}

// Kernel holds boot parameters.
type Kernel struct {
	CSDLockDebug     bool   // csdlock_debug=1
	CSDLockTimeoutMS int64  // smp.csd_lock_timeout, ms; 0 = reports off; default 5000
	PanicOnIPIStall  int64  // smp.panic_on_ipistall, ms; 0 = off
	Idle             string // "halt" (default: HLT/WFI, IPIs are interrupts) or "poll"
}

// String returns the architecture's name, "x86_64" or "arm64".
func (a Arch) String() string { return string(a) }

// UnmarshalText accepts "x86_64" or "arm64".
func (a *Arch) UnmarshalText(text []byte) error {
	switch v := Arch(text); v {
	case ArchX86, ArchARM64:
		*a = v
		return nil
	}
	return fmt.Errorf("unknown arch %q (want %q or %q)", text, ArchX86, ArchARM64)
}

// MarshalText returns the architecture's name.
func (a Arch) MarshalText() ([]byte, error) { return []byte(a), nil }

// Node returns the NUMA node of cpu, or -1 (NUMA_NO_NODE) if cpu is not one
// of the machine's possible CPUs. It is O(1).
func (s *Spec) Node(cpu int) int {
	if cpu < 0 || cpu >= len(s.CPUNode) {
		return -1
	}
	return s.CPUNode[cpu]
}

// Clone returns a deep copy of s: its slices share nothing with s's.
func (s *Spec) Clone() *Spec {
	c := *s
	c.Online = cloneInts(s.Online)
	c.IRQChip.APICIDs = cloneInts(s.IRQChip.APICIDs)
	c.CPUNode = cloneInts(s.CPUNode)
	if s.Nodes != nil {
		c.Nodes = make([][]int, len(s.Nodes))
		for i, n := range s.Nodes {
			c.Nodes[i] = cloneInts(n)
		}
	}
	return &c
}

// cloneInts copies s, keeping nil nil (so a clone stays DeepEqual).
func cloneInts(s []int) []int {
	if s == nil {
		return nil
	}
	return append(make([]int, 0, len(s)), s...)
}
