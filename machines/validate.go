package machines

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Interrupt-controller kinds and modes, as IRQChip.Kind and IRQChip.Mode
// spell them.
const (
	KindXAPIC  = "xapic"
	KindX2APIC = "x2apic"
	KindGICv3  = "gicv3"

	ModeFlat     = "flat"     // xAPIC logical flat: LDR = 1 << cpu, at most 8 CPUs
	ModePhysical = "physical" // xAPIC physflat / x2APIC physical: one write per target
	ModeCluster  = "cluster"  // x2APIC logical cluster: one write per cluster of 16 IDs
)

// GICv3 cluster sizes. Aff0 holds cpu % size and is 8 bits wide.
const (
	DefaultClusterSize = 16
	MaxClusterSize     = 256
)

// Idle modes, as Kernel.Idle spells them.
const (
	IdleHalt = "halt" // HLT / WFI: IPIs are interrupts
	IdlePoll = "poll" // idle=poll: the idle loop spins
)

// Memory models, as a file's [memory] model spells them. Spec.Memory holds
// "" for MemorySC.
const (
	MemorySC     = "sc"     // sequentially consistent: every store visible at once
	MemoryNative = "native" // the architecture's own ordering (docs/memory.md)
)

// Highest IDs an interrupt controller can address (the next one up is its
// broadcast ID), and the limit on APIC IDs in x2APIC cluster mode, whose
// logical ID (id>>4)<<16 | 1<<(id&15) has room for bits 19:0 of the ID only.
const (
	MaxXAPICID         = 0xfe
	MaxX2APICID        = 0xfffffffe
	MaxX2APICClusterID = 1<<20 - 1
)

// DefaultKernel is the kernel configuration used for keys a machine file
// leaves out.
var DefaultKernel = Kernel{
	CSDLockTimeoutMS: 5000,
	Idle:             IdleHalt,
}

// Validate checks every rule a machine obeys (the rules Parse documents), on
// a Spec however it was built. Errors are *Error naming the file's key but
// no file or line; Parse adds those. Validate reports the first problem in a
// fixed order.
func (s *Spec) Validate() error {
	for _, check := range []func() error{
		s.validateTop,
		s.validateIRQChip,
		s.validateAPICIDs,
		s.validateNodes,
		s.validateTimingKernel,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Spec) validateTop() error {
	if err := CheckName(s.Name); err != nil {
		return keyError("name", err)
	}
	if strings.ContainsAny(s.Description, "\r\n") {
		return &Error{Key: "description", Msg: "must be one line"}
	}
	var a Arch
	if err := a.UnmarshalText([]byte(s.Arch)); err != nil {
		return keyError("arch", err)
	}
	if err := checkRange("cpus", int64(s.CPUs), 1, MaxCPUs); err != nil {
		return err
	}
	if err := s.checkList("online", s.Online); err != nil {
		return err
	}
	if len(s.Online) == 0 || s.Online[0] != 0 {
		return &Error{Key: "online", Msg: "must include CPU 0 (the boot CPU)"}
	}
	return nil
}

// MaxNameLen is the longest machine name, in bytes.
const MaxNameLen = 64

// CheckName reports whether name can name a machine: 1 to MaxNameLen
// characters of A-Z a-z 0-9 . _ + - (every built-in name is). A name goes on
// command lines, in file names and in a report's header, one line that a
// replay reads back, so it holds no spaces, quotes or line breaks.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("must not be empty")
	case len(name) > MaxNameLen:
		return fmt.Errorf("a name of %d bytes is too long (at most %d)", len(name), MaxNameLen)
	}
	for _, r := range name {
		if r >= 0x80 || !isNameByte(byte(r)) {
			return fmt.Errorf("%s is not a machine name: it may hold only A-Z a-z 0-9 . _ + -, not %q", strconv.Quote(name), r)
		}
	}
	return nil
}

// isNameByte reports whether c may appear in a machine name.
func isNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '+' || c == '-'
}

// checkList checks that list is ascending, free of duplicates and within
// the machine's CPUs.
func (s *Spec) checkList(key string, list []int) error {
	for i, c := range list {
		if c < 0 || c >= s.CPUs {
			return &Error{Key: key, Msg: fmt.Sprintf("CPU %d is out of range 0-%d (cpus = %d)", c, s.CPUs-1, s.CPUs)}
		}
		if i > 0 && c <= list[i-1] {
			return &Error{Key: key, Msg: "CPU list is not ascending and free of duplicates"}
		}
	}
	return nil
}

// kindModes lists the modes of each interrupt-controller kind of each arch.
var kindModes = map[Arch]map[string][]string{
	ArchX86: {
		KindXAPIC:  {ModeFlat, ModePhysical},
		KindX2APIC: {ModePhysical, ModeCluster},
	},
	ArchARM64: {
		KindGICv3: {""},
	},
}

// archKinds lists the kinds of each arch, for messages.
var archKinds = map[Arch]string{
	ArchX86:   `"xapic" or "x2apic"`,
	ArchARM64: `"gicv3"`,
}

func (s *Spec) validateIRQChip() error {
	ic := &s.IRQChip
	modes, ok := kindModes[s.Arch][ic.Kind]
	if !ok {
		switch ic.Kind {
		case KindXAPIC, KindX2APIC, KindGICv3:
			return &Error{Key: "irqchip.kind", Msg: fmt.Sprintf("%q does not fit arch %q (want %s)", ic.Kind, s.Arch, archKinds[s.Arch])}
		}
		return &Error{Key: "irqchip.kind", Msg: fmt.Sprintf("unknown irqchip kind %q (want %s)", ic.Kind, archKinds[s.Arch])}
	}
	if ic.Kind == KindGICv3 && ic.Mode == ModePhysical {
		return &Error{Key: "irqchip.mode", Msg: `gicv3 has no modes: a Spec holds "" (a file may say "physical")`}
	}
	if !slices.Contains(modes, ic.Mode) {
		want := fmt.Sprintf("%q or %q", modes[0], modes[len(modes)-1])
		if ic.Kind == KindGICv3 {
			want = `"physical" or no mode`
		}
		switch ic.Mode {
		case ModeFlat, ModePhysical, ModeCluster:
			return &Error{Key: "irqchip.mode", Msg: fmt.Sprintf("mode %q does not fit irqchip kind %q (want %s)", ic.Mode, ic.Kind, want)}
		}
		return &Error{Key: "irqchip.mode", Msg: fmt.Sprintf("unknown mode %q (want %s)", ic.Mode, want)}
	}
	if ic.Kind == KindXAPIC {
		if s.CPUs > MaxXAPICID+1 {
			return &Error{Key: "cpus", Msg: fmt.Sprintf("xapic addresses at most %d CPUs (8-bit APIC IDs, 0xff is broadcast), not %d; use x2apic", MaxXAPICID+1, s.CPUs)}
		}
		if ic.Mode == ModeFlat && s.CPUs > 8 {
			return &Error{Key: "irqchip.mode", Msg: fmt.Sprintf("flat mode addresses at most 8 CPUs (one bit each of the 8-bit logical ID), not %d; use physical", s.CPUs)}
		}
	}
	if ic.Kind == KindGICv3 {
		if err := checkRange("irqchip.cluster_size", int64(ic.ClusterSize), 1, MaxClusterSize); err != nil {
			return err
		}
	} else if ic.ClusterSize != 0 {
		return &Error{Key: "irqchip.cluster_size", Msg: fmt.Sprintf("cluster_size applies to gicv3 only, not %s", ic.Kind)}
	} else if ic.NoRangeSelector {
		return &Error{Key: "irqchip.range_selector", Msg: fmt.Sprintf("range_selector applies to gicv3 only, not %s", ic.Kind)}
	}
	return nil
}

func (s *Spec) validateAPICIDs() error {
	ids := s.IRQChip.APICIDs
	const key = "irqchip.apic_ids"
	if !s.IsX86() {
		if ids != nil {
			return &Error{Key: key, Msg: "apic_ids applies to x86_64 only"}
		}
		return nil
	}
	if len(ids) != s.CPUs {
		return &Error{Key: key, Msg: fmt.Sprintf("has %d entries, want one per CPU (cpus = %d)", len(ids), s.CPUs)}
	}
	maxID, why := int64(MaxX2APICID), "x2apic (32-bit IDs, 0xffffffff is broadcast)"
	switch {
	case s.IRQChip.Kind == KindXAPIC:
		maxID, why = MaxXAPICID, "xapic (8-bit IDs, 0xff is broadcast)"
	case s.IRQChip.Mode == ModeCluster:
		maxID, why = MaxX2APICClusterID, "x2apic cluster mode (the logical ID keeps bits 19:0 of the APIC ID)"
	}
	for cpu, id := range ids {
		if id < 0 || int64(id) > maxID {
			return &Error{Key: key, Msg: fmt.Sprintf("APIC ID %d of CPU %d does not fit %s: want 0-%d", id, cpu, why, maxID)}
		}
	}
	// Find duplicates by sorting (cheaper than a map for 8192 CPUs), then
	// report the first CPU, in CPU order, whose ID an earlier CPU has.
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	if !hasAdjacentEqual(sorted) {
		return nil
	}
	first := make(map[int]int)
	for cpu, id := range ids {
		if other, seen := first[id]; seen {
			return &Error{Key: key, Msg: fmt.Sprintf("CPU %d has APIC ID %d, as CPU %d does", cpu, id, other)}
		}
		first[id] = cpu
	}
	return nil
}

func (s *Spec) validateNodes() error {
	if len(s.Nodes) == 0 {
		return &Error{Key: "node", Msg: "no nodes"}
	}
	owner := make([]int, s.CPUs)
	for i := range owner {
		owner[i] = -1
	}
	for n, list := range s.Nodes {
		key := fmt.Sprintf("node[%d].cpus", n)
		if len(list) == 0 {
			return &Error{Key: key, Msg: fmt.Sprintf("node %d has no CPUs", n)}
		}
		if err := s.checkList(key, list); err != nil {
			return err
		}
		for _, c := range list {
			if owner[c] >= 0 {
				return &Error{Key: key, Msg: fmt.Sprintf("CPU %d is already in node %d", c, owner[c])}
			}
			owner[c] = n
		}
	}
	for c, n := range owner {
		if n < 0 {
			return &Error{Key: "node", Msg: fmt.Sprintf("CPU %d is in no node", c)}
		}
	}
	if len(s.CPUNode) != len(owner) {
		return &Error{Msg: "CPUNode does not match Nodes"}
	}
	for c, n := range owner {
		if s.CPUNode[c] != n {
			return &Error{Msg: "CPUNode does not match Nodes"}
		}
	}
	return nil
}

func (s *Spec) validateTimingKernel() error {
	t := &s.Timing
	for _, f := range []struct {
		key string
		v   int64
	}{
		{"timing.ipi_latency", t.IPILatency},
		{"timing.reg_write", t.RegWrite},
		{"timing.irq_entry", t.IRQEntry},
		{"timing.irq_exit", t.IRQExit},
		{"timing.csd_setup", t.CSDSetup},
		{"timing.callback", t.Callback},
		{"timing.wake_latency", t.WakeLatency},
		{"timing.jitter", t.Jitter},
		{"timing.hotplug_step", t.HotplugStep},
		{"timing.nmi_backtrace", t.NMIBacktrace},
	} {
		if err := checkRange(f.key, f.v, 0, MaxCost); err != nil {
			return err
		}
	}
	k := &s.Kernel
	if err := checkRange("kernel.csd_lock_timeout", k.CSDLockTimeoutMS, 0, MaxTimeoutMS); err != nil {
		return err
	}
	if err := checkRange("kernel.panic_on_ipistall", k.PanicOnIPIStall, 0, MaxTimeoutMS); err != nil {
		return err
	}
	if k.Idle != IdleHalt && k.Idle != IdlePoll {
		return &Error{Key: "kernel.idle", Msg: fmt.Sprintf("unknown idle mode %q (want %q or %q)", k.Idle, IdleHalt, IdlePoll)}
	}
	if s.Memory != "" && s.Memory != MemoryNative {
		return &Error{Key: "memory.model", Msg: fmt.Sprintf("unknown memory model %q (want %q or %q)", s.Memory, MemorySC, MemoryNative)}
	}
	return nil
}

// hasAdjacentEqual reports whether two neighbours in list are equal.
func hasAdjacentEqual(list []int) bool {
	for i := 1; i < len(list); i++ {
		if list[i] == list[i-1] {
			return true
		}
	}
	return false
}
