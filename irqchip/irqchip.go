// Package irqchip models the interrupt controllers that carry Linux's
// cross-call IPIs, at the level of the registers Linux writes: the x86 local
// APIC (xAPIC MMIO ICR/ICR2, flat logical and physical; x2APIC MSR 0x830,
// physical and cluster) and the arm64 GICv3 CPU interface (ICC_SGI1R_EL1).
//
// A Chip turns "send IPI x to these CPUs" into the exact register writes the
// kernel performs (Encode*), and turns a register write back into the CPUs that
// receive it (Decode), the way the hardware routes it. The emulator delivers
// IPIs only through Decode, so an encoding bug shows up as a misrouted IPI.
package irqchip

import "fmt"

// Write is one register write on the sending CPU.
type Write struct {
	Reg   string // "ICR", "ICR2" or "ICC_SGI1R_EL1" (an x2APIC MSR 0x830 write is "ICR")
	Value uint64
}

// IPI is what the kernel asks the controller to send.
type IPI int

// The IPIs kernel/smp.c sends.
const (
	CallFunctionSingle IPI = iota // x86 CALL_FUNCTION_SINGLE_VECTOR 0xfb; arm64 IPI_CALL_FUNC (SGI 1)
	CallFunction                  // x86 CALL_FUNCTION_VECTOR 0xfc; arm64 IPI_CALL_FUNC (SGI 1)
	Reschedule                    // x86 RESCHEDULE_VECTOR 0xfd; arm64 IPI_RESCHEDULE (SGI 0)
	Backtrace                     // x86 NMI (delivery mode NMI); arm64 IPI_CPU_BACKTRACE (SGI 6)
)

// Chip is a live interrupt-controller model for one machine.
type Chip interface {
	// Name is "xapic", "x2apic" or "gicv3", with the mode: "x2apic/cluster".
	Name() string
	// EncodeSingle returns the writes of arch_send_call_function_single_ipi-style
	// directed sends of ipi from self to cpu (x86 apic->send_IPI; arm64 a one-CPU mask).
	EncodeSingle(self, cpu int, ipi IPI) []Write
	// EncodeMask returns the writes that send ipi from self to every CPU of
	// targets (ascending, never containing self). online reports which CPUs are
	// online: on x86, when targets ∪ {self} equals the online set (and more than
	// one CPU is online) the kernel uses the ALLBUT shorthand instead.
	EncodeMask(self int, targets []int, ipi IPI, online func(cpu int) bool, nrOnline int) []Write
	// Decode returns the CPUs that a write by self delivers an interrupt to, and
	// the vector (x86) or SGI INTID (arm64) it carries. A write that does not
	// send anything (xAPIC ICR2) returns no CPUs. For shorthands the online
	// set decides the destinations.
	Decode(self int, w Write, online func(cpu int) bool) (cpus []int, vector int)
	// VectorName names a vector/SGI for traces ("CALL_FUNCTION_SINGLE_VECTOR", "IPI_CALL_FUNC").
	VectorName(vector int) string
}

// String returns the IPI's Go name, "CallFunctionSingle" for example.
func (i IPI) String() string {
	switch i {
	case CallFunctionSingle:
		return "CallFunctionSingle"
	case CallFunction:
		return "CallFunction"
	case Reschedule:
		return "Reschedule"
	case Backtrace:
		return "Backtrace"
	}
	return fmt.Sprintf("IPI(%d)", int(i))
}

// Appender is implemented by every Chip that New returns. Its methods are the
// allocation-free forms of EncodeSingle, EncodeMask and Decode: they append
// to dst and return the extended slice, so a caller that reuses its buffers
// sends and routes IPIs without allocating.
type Appender interface {
	AppendSingle(dst []Write, self, cpu int, ipi IPI) []Write
	AppendMask(dst []Write, self int, targets []int, ipi IPI, online func(cpu int) bool, nrOnline int) []Write
	AppendDecode(dst []int, self int, w Write, online func(cpu int) bool) (cpus []int, vector int)
}

// Vectors is implemented by every Chip that New returns: it maps between the
// IPIs of kernel/smp.c and the vectors (x86) or SGI INTIDs (arm64) that carry
// them.
type Vectors interface {
	// Vector returns the vector or SGI that carries ipi.
	Vector(ipi IPI) int
	// IPIOf returns the IPI a vector or SGI carries. On arm64 SGI 1 is
	// reported as CallFunction: the hardware cannot tell a single call from
	// a mask call there.
	IPIOf(vector int) (IPI, bool)
}

// VectorOf returns the vector (x86) or SGI INTID (arm64) that c uses for ipi,
// or -1 if c does not implement Vectors.
func VectorOf(c Chip, ipi IPI) int {
	if v, ok := c.(Vectors); ok {
		return v.Vector(ipi)
	}
	return -1
}

// IPIOf returns the IPI that vector carries on c; ok is false for a vector
// that carries none of them (or a c that does not implement Vectors).
func IPIOf(c Chip, vector int) (ipi IPI, ok bool) {
	if v, ok := c.(Vectors); ok {
		return v.IPIOf(vector)
	}
	return 0, false
}

// sortSmall sorts a short run of CPU numbers (at most 16, from one x2APIC
// cluster or one flat logical byte) in place by insertion.
func sortSmall(s []int) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// appendOnline appends every online CPU below ncpus except skip (-1 skips
// none), ascending. It is how shorthand and broadcast destinations resolve.
func appendOnline(dst []int, ncpus, skip int, online func(cpu int) bool) []int {
	for cpu := 0; cpu < ncpus; cpu++ {
		if cpu != skip && online(cpu) {
			dst = append(dst, cpu)
		}
	}
	return dst
}
