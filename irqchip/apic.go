// apic.go models the x86 local APIC the way Linux's 64-bit APIC drivers set
// it up, and how the hardware routes an Interrupt Command Register write.
//
// Mirrors, for the per-CPU addressing (APIC IDs, logical IDs) and the driver
// choice (the send paths are in apic_ipi.go):
//   - arch/x86/kernel/apic/apic_flat_64.c: "physflat" (physical destination
//     mode) and "flat" (logical flat mode, LDR = 1 << cpu, at most 8 CPUs),
//     as of the v6.5-era IPI rework, before tglx's 2024 series removed 64-bit
//     logical flat mode;
//   - arch/x86/kernel/apic/x2apic_phys.c and x2apic_cluster.c (mainline,
//     v6.16 era);
//   - vector numbers from arch/x86/include/asm/irq_vectors.h and ICR fields
//     from arch/x86/include/asm/apicdef.h.
//
// Routing (AppendDecode) follows the architectural behaviour of the ICR
// (Intel SDM vol. 3, "Interrupt Command Register"), not Linux code; the
// deliberate simplifications are listed on AppendDecode.

package irqchip

import (
	"fmt"
	"math/bits"

	"github.com/xcallsh/xcallsh/machines"
)

// Register names used in Write.Reg.
const (
	RegICR   = "ICR"           // xAPIC APIC_ICR (MMIO 0x300) or the x2APIC ICR MSR 0x830
	RegICR2  = "ICR2"          // xAPIC APIC_ICR2 (MMIO 0x310)
	RegSGI1R = "ICC_SGI1R_EL1" // GICv3 CPU interface SGI generation register
)

// x86 vectors Linux uses for the IPIs of kernel/smp.c (irq_vectors.h).
const (
	NMIVector                = 0x02 // sent with delivery mode NMI, not as a fixed vector
	CallFunctionSingleVector = 0xfb
	CallFunctionVector       = 0xfc
	RescheduleVector         = 0xfd
)

// Fields of the ICR low word (apicdef.h names in comments). Linux builds the
// low word from a shorthand, a destination mode and either APICDMNMI or
// APICDMFixed|vector; it never sets the assert or trigger-mode bits here.
const (
	APICVectorMask   = 0xff    // APIC_VECTOR_MASK
	APICDMFixed      = 0x000   // APIC_DM_FIXED
	APICDMNMI        = 0x400   // APIC_DM_NMI
	APICDMMask       = 0x700   // delivery-mode field, bits 8-10
	APICDestPhysical = 0x000   // APIC_DEST_PHYSICAL
	APICDestLogical  = 0x800   // APIC_DEST_LOGICAL
	APICDestSelf     = 0x40000 // APIC_DEST_SELF
	APICDestAllInc   = 0x80000 // APIC_DEST_ALLINC
	APICDestAllBut   = 0xC0000 // APIC_DEST_ALLBUT
	APICShorthand    = 0xC0000 // destination-shorthand field, bits 18-19
)

// Broadcast destinations: no CPU may have these as its ID.
const (
	xapicBroadcast  = 0xff       // 8-bit xAPIC destination: all APICs (physical), all bits (logical)
	x2apicBroadcast = 0xffffffff // 32-bit x2APIC destination: all APICs, in either mode
)

// apicMode is the driver Linux runs the local APICs with.
type apicMode uint8

const (
	xapicPhysical  apicMode = iota // apic_physflat: xAPIC, physical destinations
	xapicFlat                      // apic_flat: xAPIC, logical flat destinations
	x2apicPhysical                 // apic_x2apic_phys
	x2apicCluster                  // apic_x2apic_cluster
)

var apicModeNames = [...]string{
	xapicPhysical:  "xapic/physical",
	xapicFlat:      "xapic/flat",
	x2apicPhysical: "x2apic/physical",
	x2apicCluster:  "x2apic/cluster",
}

// APIC is the local APICs of an x86 machine, in one of Linux's four 64-bit
// addressing modes: xAPIC physical or flat (MMIO ICR2 + ICR), x2APIC
// physical or cluster (one 64-bit write of MSR 0x830, reported as "ICR").
//
// Everything but icr2, shorthand and the slot scratch is set by New and
// never changes.
type APIC struct {
	mode  apicMode
	ncpus int

	// ids[cpu] is cpu's APIC ID (Linux's x86_cpu_to_apicid); nil means the
	// identity, APIC ID = CPU number, which needs no per-CPU memory.
	ids []uint32
	// byID[id] is 1 + the CPU whose APIC ID is id, 0 for none; used when
	// ids is not nil and the IDs are dense enough. Otherwise sparse maps an
	// APIC ID to its CPU (looked up only, never ranged over).
	byID   []int32
	sparse map[uint32]int32

	// icr2[cpu] is the value cpu last wrote to its ICR2 (xAPIC only): each
	// local APIC latches its own destination field until the ICR write that
	// sends. Written only by AppendDecode of cpu's own writes.
	icr2 []uint32

	// shorthand mirrors the apic_use_ipi_shorthand static key; set by New
	// (on) and SetIPIShorthand.
	shorthand bool

	// x2APIC cluster mode only. clusterOf[cpu] is a dense index (0 ..
	// nclusters-1) of cpu's cluster; nil when ids is nil (the index is then
	// cpu>>4). slotGen and slotAt are AppendMask's scratch, allocated on
	// the first mask send: in the call numbered gen, the write that carries
	// cluster c is dst[slotAt[c]] if slotGen[c] == gen.
	clusterOf []int32
	nclusters int
	slotGen   []uint32
	slotAt    []int32
	gen       uint32
}

// newAPIC validates chip for an x86 machine and builds its APIC.
// chip.ClusterSize is a GICv3 setting and is ignored here.
func newAPIC(chip machines.IRQChip, ncpus int) (*APIC, error) {
	a := &APIC{ncpus: ncpus, shorthand: true}
	switch {
	case chip.Kind == "xapic" && (chip.Mode == "" || chip.Mode == "physical"):
		a.mode = xapicPhysical
	case chip.Kind == "xapic" && chip.Mode == "flat":
		a.mode = xapicFlat
		if ncpus > 8 {
			return nil, fmt.Errorf("%w: xapic flat mode has one logical-destination bit per CPU, so at most 8 CPUs (machine has %d)", ErrInvalid, ncpus)
		}
	case chip.Kind == "x2apic" && (chip.Mode == "" || chip.Mode == "physical"):
		a.mode = x2apicPhysical
	case chip.Kind == "x2apic" && chip.Mode == "cluster":
		a.mode = x2apicCluster
	default:
		want := `"physical" or "flat"`
		if chip.Kind == "x2apic" {
			want = `"physical" or "cluster"`
		}
		return nil, fmt.Errorf("%w: %s mode %q (want %s)", ErrInvalid, chip.Kind, chip.Mode, want)
	}

	// The largest usable ID: xAPIC IDs are 8 bits and 0xFF is the broadcast
	// address; x2APIC cluster mode needs the cluster number (ID bits 19:4)
	// to fit the 16-bit cluster field, and cluster 0xFFFF is broadcast.
	maxID := uint64(x2apicBroadcast - 1)
	switch a.mode {
	case xapicPhysical, xapicFlat:
		maxID = xapicBroadcast - 1
	case x2apicCluster:
		maxID = 0xfffef
	}

	if chip.APICIDs == nil {
		if uint64(ncpus-1) > maxID {
			return nil, fmt.Errorf("%w: %s: %d CPUs need APIC IDs up to %#x, above the largest usable ID %#x", ErrInvalid, apicModeNames[a.mode], ncpus, ncpus-1, maxID)
		}
	} else if err := a.setIDs(chip.APICIDs, maxID); err != nil {
		return nil, err
	}

	if a.mode == xapicPhysical || a.mode == xapicFlat {
		a.icr2 = make([]uint32, ncpus)
	}
	if a.mode == x2apicCluster {
		a.numberClusters()
	}
	return a, nil
}

// setIDs checks and installs an explicit APIC ID table.
func (a *APIC) setIDs(apicIDs []int, maxID uint64) error {
	if len(apicIDs) != a.ncpus {
		return fmt.Errorf("%w: %d APIC IDs for %d CPUs", ErrInvalid, len(apicIDs), a.ncpus)
	}
	a.ids = make([]uint32, a.ncpus)
	var top uint32
	for cpu, id := range apicIDs {
		if id < 0 || uint64(id) > maxID {
			return fmt.Errorf("%w: %s: CPU %d has APIC ID %#x, want 0..%#x", ErrInvalid, apicModeNames[a.mode], cpu, id, maxID)
		}
		a.ids[cpu] = uint32(id)
		top = max(top, uint32(id))
	}
	// A dense reverse table when it costs at most a few words per CPU (or
	// 256 KiB); a map otherwise.
	if uint64(top) < max(1<<16, 16*uint64(a.ncpus)) {
		a.byID = make([]int32, top+1)
		for cpu, id := range a.ids {
			if a.byID[id] != 0 {
				return fmt.Errorf("%w: CPUs %d and %d share APIC ID %#x", ErrInvalid, a.byID[id]-1, cpu, id)
			}
			a.byID[id] = int32(cpu + 1)
		}
		return nil
	}
	a.sparse = make(map[uint32]int32, a.ncpus)
	for cpu, id := range a.ids {
		if other, dup := a.sparse[id]; dup {
			return fmt.Errorf("%w: CPUs %d and %d share APIC ID %#x", ErrInvalid, other, cpu, id)
		}
		a.sparse[id] = int32(cpu)
	}
	return nil
}

// numberClusters gives every x2APIC cluster that holds a CPU a dense index,
// in order of its first CPU, so that AppendMask's scratch is O(clusters).
func (a *APIC) numberClusters() {
	if a.ids == nil {
		a.nclusters = (a.ncpus + 15) / 16
		return
	}
	a.clusterOf = make([]int32, a.ncpus)
	index := make(map[uint32]int32) // cluster number -> dense index; looked up only
	for cpu, id := range a.ids {
		c, ok := index[id>>4]
		if !ok {
			c = int32(len(index))
			index[id>>4] = c
		}
		a.clusterOf[cpu] = c
	}
	a.nclusters = len(index)
}

// Name returns "xapic/physical", "xapic/flat", "x2apic/physical" or
// "x2apic/cluster".
func (a *APIC) Name() string { return apicModeNames[a.mode] }

// NumCPUs returns the number of CPUs the chip was built for.
func (a *APIC) NumCPUs() int { return a.ncpus }

// X2APIC reports whether the APICs run in x2APIC mode (one MSR write per
// IPI, no ICR2).
func (a *APIC) X2APIC() bool { return a.mode == x2apicPhysical || a.mode == x2apicCluster }

// APICID returns cpu's APIC ID (Linux's per_cpu(x86_cpu_to_apicid, cpu)).
func (a *APIC) APICID(cpu int) uint32 {
	a.checkCPU(cpu)
	if a.ids == nil {
		return uint32(cpu)
	}
	return a.ids[cpu]
}

// LogicalID returns the logical destination cpu answers to: in xAPIC flat
// mode the 8-bit LDR value 1 << cpu that Linux programs (apic_flat_64.c
// flat_init_apic_ldr); in x2APIC mode (either driver) the read-only LDR the
// hardware derives from the x2APIC ID, (ID>>4)<<16 | 1<<(ID&15), which
// x2apic_cluster.c caches as x86_cpu_to_logical_apicid. In xAPIC physical
// mode Linux leaves the LDR at its reset value, 0: no logical destination
// reaches the CPU.
func (a *APIC) LogicalID(cpu int) uint32 {
	switch a.mode {
	case xapicFlat:
		a.checkCPU(cpu)
		return 1 << cpu
	case x2apicPhysical, x2apicCluster:
		return x2apicLogicalID(a.APICID(cpu))
	}
	a.checkCPU(cpu)
	return 0
}

// x2apicLogicalID returns the logical ID of the x2APIC with the given ID.
// Compare Linux's x2apic_cluster.c:x2apic_prepare_cpu() and friends, which
// compute the same value when they build the cluster masks.
func x2apicLogicalID(id uint32) uint32 {
	return (id>>4)<<16 | 1<<(id&0xf)
}

// SetIPIShorthand turns the use of the ALLBUT/ALLINC shorthands for
// call-function mask IPIs on (the default) or off. It mirrors the
// apic_use_ipi_shorthand static key, which Linux's apic_smt_update() turns
// on only when no_ipi_broadcast= is unset, more than one CPU is online and
// every present CPU has booted at least once; the machine decides that.
func (a *APIC) SetIPIShorthand(on bool) { a.shorthand = on }

// IPIShorthand reports whether call-function mask IPIs may use shorthands.
func (a *APIC) IPIShorthand() bool { return a.shorthand }

// checkCPU panics on a CPU number outside the machine.
func (a *APIC) checkCPU(cpu int) {
	if uint(cpu) >= uint(a.ncpus) {
		panic(fmt.Sprintf("irqchip: cpu %d out of range 0-%d", cpu, a.ncpus-1))
	}
}

// cpuOfID returns the CPU whose APIC ID is id.
func (a *APIC) cpuOfID(id uint32) (int, bool) {
	switch {
	case a.ids == nil:
		if uint64(id) < uint64(a.ncpus) {
			return int(id), true
		}
		return 0, false
	case a.byID != nil:
		if uint64(id) < uint64(len(a.byID)) && a.byID[id] != 0 {
			return int(a.byID[id] - 1), true
		}
		return 0, false
	}
	cpu, ok := a.sparse[id]
	return int(cpu), ok
}

// Decode returns the CPUs a write by self delivers an interrupt to, and the
// vector it carries; see AppendDecode.
func (a *APIC) Decode(self int, w Write, online func(cpu int) bool) (cpus []int, vector int) {
	return a.AppendDecode(nil, self, w, online)
}

// AppendDecode routes a register write by self the way the local APICs do
// and appends the receiving CPUs, ascending, to dst. The vector is the ICR's
// vector field, or NMIVector for delivery mode NMI (whose vector field is
// ignored), or -1 when the write sends nothing.
//
// On xAPIC an ICR2 write only latches the destination in self's local APIC
// (nothing is sent); an ICR write sends to the latched destination. On
// x2APIC the one 64-bit "ICR" write carries both. Then:
//   - a shorthand decides alone: SELF is self, ALLINC every online CPU,
//     ALLBUT every online CPU but self;
//   - physical destination mode delivers to the CPU with that APIC ID, if
//     any; the broadcast ID (0xFF, x2APIC 0xFFFFFFFF) acts as ALLINC;
//   - logical destination mode delivers to every CPU whose LogicalID
//     matches: xAPIC flat compares the 8-bit mask bit by bit, x2APIC needs
//     the same cluster and then compares the 16-bit member mask; the
//     all-ones destination acts as ALLINC.
//
// Directed writes are delivered whether or not the target is online (an
// offline CPU's APIC still accepts interrupts); only shorthands and
// broadcasts consult online. Delivery modes other than fixed and NMI are
// never used by Linux for these IPIs and are reported by their vector field.
//
// Preconditions: self is a CPU of the machine.
func (a *APIC) AppendDecode(dst []int, self int, w Write, online func(cpu int) bool) (cpus []int, vector int) {
	a.checkCPU(self)
	var low, dest uint32
	if a.X2APIC() {
		if w.Reg != RegICR {
			return dst, -1
		}
		low, dest = uint32(w.Value), uint32(w.Value>>32)
	} else {
		switch w.Reg {
		case RegICR2:
			a.icr2[self] = uint32(w.Value)
			return dst, -1
		case RegICR:
			low, dest = uint32(w.Value), a.icr2[self]>>24
		default:
			return dst, -1
		}
	}

	vector = int(low & APICVectorMask)
	if low&APICDMMask == APICDMNMI {
		vector = NMIVector
	}
	switch low & APICShorthand {
	case APICDestSelf:
		return append(dst, self), vector
	case APICDestAllInc:
		return appendOnline(dst, a.ncpus, -1, online), vector
	case APICDestAllBut:
		return appendOnline(dst, a.ncpus, self, online), vector
	}
	if low&APICDestLogical != 0 {
		return a.routeLogical(dst, dest, online), vector
	}
	return a.routePhysical(dst, dest, online), vector
}

// routePhysical appends the CPU whose APIC ID is dest.
func (a *APIC) routePhysical(dst []int, dest uint32, online func(cpu int) bool) []int {
	if (!a.X2APIC() && dest == xapicBroadcast) || dest == x2apicBroadcast {
		return appendOnline(dst, a.ncpus, -1, online)
	}
	if cpu, ok := a.cpuOfID(dest); ok {
		dst = append(dst, cpu)
	}
	return dst
}

// routeLogical appends the CPUs whose logical ID matches dest.
func (a *APIC) routeLogical(dst []int, dest uint32, online func(cpu int) bool) []int {
	switch a.mode {
	case xapicPhysical, xapicFlat:
		if dest == xapicBroadcast {
			return appendOnline(dst, a.ncpus, -1, online)
		}
		if a.mode == xapicPhysical {
			return dst // every LDR is 0
		}
		// Flat: the LDR of CPU n is 1 << n, so bit n selects CPU n.
		for m := dest; m != 0; m &= m - 1 {
			if cpu := bits.TrailingZeros32(m); cpu < a.ncpus {
				dst = append(dst, cpu)
			}
		}
		return dst
	}
	if dest == x2apicBroadcast {
		return appendOnline(dst, a.ncpus, -1, online)
	}
	start := len(dst)
	cluster := dest >> 16
	for m := dest & 0xffff; m != 0; m &= m - 1 {
		if cpu, ok := a.cpuOfID(cluster<<4 | uint32(bits.TrailingZeros32(m))); ok {
			dst = append(dst, cpu)
		}
	}
	sortSmall(dst[start:]) // explicit APIC IDs need not ascend with CPU numbers
	return dst
}

// Vector returns the vector that carries ipi: CALL_FUNCTION_SINGLE_VECTOR,
// CALL_FUNCTION_VECTOR, RESCHEDULE_VECTOR, or NMI_VECTOR for Backtrace
// (Compare Linux's arch/x86/kernel/apic/hw_nmi.c:nmi_raise_cpu_backtrace(),
// which sends NMI_VECTOR).
func (a *APIC) Vector(ipi IPI) int {
	switch ipi {
	case CallFunctionSingle:
		return CallFunctionSingleVector
	case CallFunction:
		return CallFunctionVector
	case Reschedule:
		return RescheduleVector
	case Backtrace:
		return NMIVector
	}
	panic(fmt.Sprintf("irqchip: unknown %v", ipi))
}

// IPIOf returns the IPI that vector carries.
func (a *APIC) IPIOf(vector int) (IPI, bool) {
	switch vector {
	case CallFunctionSingleVector:
		return CallFunctionSingle, true
	case CallFunctionVector:
		return CallFunction, true
	case RescheduleVector:
		return Reschedule, true
	case NMIVector:
		return Backtrace, true
	}
	return 0, false
}

// x86VectorNames names the system vectors of irq_vectors.h (recent layout).
var x86VectorNames = map[int]string{
	NMIVector:                "NMI_VECTOR",
	0xff:                     "SPURIOUS_APIC_VECTOR",
	0xfe:                     "ERROR_APIC_VECTOR",
	RescheduleVector:         "RESCHEDULE_VECTOR",
	CallFunctionVector:       "CALL_FUNCTION_VECTOR",
	CallFunctionSingleVector: "CALL_FUNCTION_SINGLE_VECTOR",
	0xfa:                     "THERMAL_APIC_VECTOR",
	0xf9:                     "THRESHOLD_APIC_VECTOR",
	0xf8:                     "REBOOT_VECTOR",
	0xf7:                     "X86_PLATFORM_IPI_VECTOR",
	0xf6:                     "IRQ_WORK_VECTOR",
	0xf4:                     "DEFERRED_ERROR_VECTOR",
	0xf3:                     "HYPERVISOR_CALLBACK_VECTOR",
	0xf2:                     "POSTED_INTR_VECTOR",
	0xf1:                     "POSTED_INTR_WAKEUP_VECTOR",
	0xf0:                     "POSTED_INTR_NESTED_VECTOR",
	0xef:                     "MANAGED_IRQ_SHUTDOWN_VECTOR",
	0xec:                     "LOCAL_TIMER_VECTOR",
	0xeb:                     "POSTED_MSI_NOTIFICATION_VECTOR",
}

// VectorName returns the irq_vectors.h name of vector, "CALL_FUNCTION_VECTOR"
// for example, or "VECTOR_0x%02x" for one without a name.
func (a *APIC) VectorName(vector int) string {
	if name, ok := x86VectorNames[vector]; ok {
		return name
	}
	return fmt.Sprintf("VECTOR_0x%02x", vector)
}
