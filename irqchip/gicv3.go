// gicv3.go models the SGI part of the arm64 GICv3 CPU interface: the
// ICC_SGI1R_EL1 writes Linux makes to send an IPI, and how the
// redistributors route them.
//
// Mirrors:
//   - drivers/irqchip/irq-gic-v3.c (mainline, v6.16 era): gic_ipi_send_mask,
//     gic_cpu_sys_reg_init (its no-RSS warnings: BootLog),
//     gic_compute_target_list, gic_send_sgi; field layout from
//     include/linux/irqchip/arm-gic-v3.h;
//   - arch/arm64/kernel/smp.c (mainline): the IPI numbers (enum ipi_msg_type,
//     SGI n carries IPI n) and arch_send_call_function_single_ipi, which sends
//     IPI_CALL_FUNC to a one-CPU mask.
//
// The dsb(ishst) before and isb() after the writes cost time, not register
// writes, so they are left to the caller's timing model. Routing
// (AppendDecode) follows the GICv3 architecture specification. By default
// every CPU interface and the distributor support range selectors; a
// machine with range_selector = false has none (ICC_CTLR_EL1.RSS and
// GICD_TYPER.RSS 0): Linux still encodes RS, the GIC takes it as 0, and
// gic_cpu_sys_reg_init()'s boot warnings say so (BootLog).

package irqchip

import (
	"fmt"
	"math/bits"

	"github.com/xcallsh/xcallsh/machines"
)

// arm64 IPI numbers (arch/arm64/kernel/smp.c enum ipi_msg_type); IPI n is
// SGI INTID n.
const (
	IPIReschedule   = 0 // IPI_RESCHEDULE
	IPICallFunc     = 1 // IPI_CALL_FUNC, for single and mask cross calls alike
	IPICPUStop      = 2 // IPI_CPU_STOP
	IPICPUStopNMI   = 3 // IPI_CPU_STOP_NMI
	IPITimer        = 4 // IPI_TIMER
	IPIIRQWork      = 5 // IPI_IRQ_WORK
	IPICPUBacktrace = 6 // IPI_CPU_BACKTRACE (= NR_IPI)
	IPIKGDBRoundup  = 7 // IPI_KGDB_ROUNDUP

	// NrIPI is NR_IPI: the IPIs below it are ordinary interrupts, traced
	// by ipi_entry/ipi_exit; those from it on are pseudo-NMIs.
	NrIPI = IPICPUBacktrace
)

// arm64IPITypes is arch/arm64/kernel/smp.c's ipi_types[]: how
// /proc/interrupts and the ipi tracepoints describe each IPI.
var arm64IPITypes = [...]string{
	IPIReschedule:   "Rescheduling interrupts",
	IPICallFunc:     "Function call interrupts",
	IPICPUStop:      "CPU stop interrupts",
	IPICPUStopNMI:   "CPU stop NMIs",
	IPITimer:        "Timer broadcast interrupts",
	IPIIRQWork:      "IRQ work interrupts",
	IPICPUBacktrace: "CPU backtrace interrupts",
	IPIKGDBRoundup:  "KGDB roundup interrupts",
}

// ARM64IPIReason is ipi_types[ipi] ("Function call interrupts"), the
// reason the ipi_raise, ipi_entry and ipi_exit tracepoints print, or
// "unknown".
func ARM64IPIReason(ipi int) string {
	if ipi >= 0 && ipi < len(arm64IPITypes) {
		return arm64IPITypes[ipi]
	}
	return "unknown"
}

var arm64IPINames = [...]string{
	IPIReschedule:   "IPI_RESCHEDULE",
	IPICallFunc:     "IPI_CALL_FUNC",
	IPICPUStop:      "IPI_CPU_STOP",
	IPICPUStopNMI:   "IPI_CPU_STOP_NMI",
	IPITimer:        "IPI_TIMER",
	IPIIRQWork:      "IPI_IRQ_WORK",
	IPICPUBacktrace: "IPI_CPU_BACKTRACE",
	IPIKGDBRoundup:  "IPI_KGDB_ROUNDUP",
}

// ICC_SGI1R_EL1 fields (arm-gic-v3.h ICC_SGI1R_* names in comments).
const (
	sgi1rTargetListMask = 0xffff  // ICC_SGI1R_TARGET_LIST_SHIFT 0
	sgi1rAff1Shift      = 16      // ICC_SGI1R_AFFINITY_1_SHIFT
	sgi1rSGIIDShift     = 24      // ICC_SGI1R_SGI_ID_SHIFT, 4 bits
	sgi1rAff2Shift      = 32      // ICC_SGI1R_AFFINITY_2_SHIFT
	sgi1rIRM            = 1 << 40 // ICC_SGI1R_IRQ_ROUTING_MODE_BIT: all but self
	sgi1rRSShift        = 44      // ICC_SGI1R_RS_SHIFT, 4 bits
	sgi1rAff3Shift      = 48      // ICC_SGI1R_AFFINITY_3_SHIFT
)

const (
	defaultClusterSize = 16  // CPUs per Aff1 value when the machine names none
	maxClusterSize     = 256 // Aff0 is 8 bits

	// sgiClusterMask keeps what MPIDR_TO_SGI_CLUSTER_ID keeps: the MPIDR
	// without Aff0[3:0].
	sgiClusterMask = ^uint64(0xf)
)

// GICv3 is the GICv3 SGI machinery of an arm64 machine. It has no mutable
// state: every field is set by New.
type GICv3 struct {
	ncpus       int
	clusterSize int  // CPUs per Aff1 value, 1..256
	noRSS       bool // no range selectors: RS is taken as 0
}

// newGICv3 validates chip for an arm64 machine and builds its GICv3.
func newGICv3(chip machines.IRQChip, ncpus int) (*GICv3, error) {
	if chip.Mode != "" {
		return nil, fmt.Errorf("%w: gicv3 has no mode (got %q)", ErrInvalid, chip.Mode)
	}
	if len(chip.APICIDs) != 0 {
		return nil, fmt.Errorf("%w: gicv3 takes no APIC IDs", ErrInvalid)
	}
	size := chip.ClusterSize
	if size == 0 {
		size = defaultClusterSize
	}
	if size < 1 || size > maxClusterSize {
		return nil, fmt.Errorf("%w: gicv3 cluster size %d, want 1..%d (Aff0 is 8 bits)", ErrInvalid, chip.ClusterSize, maxClusterSize)
	}
	return &GICv3{ncpus: ncpus, clusterSize: size, noRSS: chip.NoRangeSelector}, nil
}

// Name returns "gicv3".
func (g *GICv3) Name() string { return "gicv3" }

// NumCPUs returns the number of CPUs the chip was built for.
func (g *GICv3) NumCPUs() int { return g.ncpus }

// ClusterSize returns the number of CPUs per Aff1 value.
func (g *GICv3) ClusterSize() int { return g.clusterSize }

// MPIDR returns the affinity of cpu, as Linux keeps it in cpu_logical_map()
// (MPIDR_EL1 masked with MPIDR_HWID_BITMASK, so without the RES1 bit 31):
// Aff0 = cpu % ClusterSize and the cluster number q = cpu / ClusterSize
// spread over the higher levels, Aff1 = q % 256, Aff2 = (q / 256) % 256,
// Aff3 = q / 65536. The carry is this model's choice, so that every CPU of
// a large machine with small clusters has a distinct affinity; real systems
// choose their own topology.
func (g *GICv3) MPIDR(cpu int) uint64 {
	g.checkCPU(cpu)
	aff0 := uint64(cpu % g.clusterSize)
	q := uint64(cpu / g.clusterSize)
	return (q>>16&0xff)<<32 | (q>>8&0xff)<<16 | (q&0xff)<<8 | aff0
}

// checkCPU panics on a CPU number outside the machine.
func (g *GICv3) checkCPU(cpu int) {
	if uint(cpu) >= uint(g.ncpus) {
		panic(fmt.Sprintf("irqchip: cpu %d out of range 0-%d", cpu, g.ncpus-1))
	}
}

// sgi1r returns the ICC_SGI1R_EL1 value that sends sgi to the CPUs of
// tlist in the SGI cluster cluster (an MPIDR with Aff0[3:0] clear). Compare
// Linux's irq-gic-v3.c:gic_send_sgi().
func sgi1r(cluster uint64, tlist uint16, sgi int) uint64 {
	aff3 := cluster >> 32 & 0xff
	aff2 := cluster >> 16 & 0xff
	aff1 := cluster >> 8 & 0xff
	rs := cluster & 0xf0 >> 4 // MPIDR_RS: Aff0[7:4]
	return aff3<<sgi1rAff3Shift | rs<<sgi1rRSShift | aff2<<sgi1rAff2Shift |
		uint64(sgi&0xf)<<sgi1rSGIIDShift | aff1<<sgi1rAff1Shift | uint64(tlist)
}

// EncodeSingle returns the write that sends ipi from self to cpu; see
// AppendSingle.
func (g *GICv3) EncodeSingle(self, cpu int, ipi IPI) []Write {
	return g.AppendSingle(make([]Write, 0, 1), self, cpu, ipi)
}

// AppendSingle appends the write that sends ipi to cpu alone: arm64 has no
// separate single-call IPI, so CallFunctionSingle sends IPI_CALL_FUNC to a
// one-CPU mask (Compare Linux's arch/arm64/kernel/smp.c:
// arch_send_call_function_single_ipi()), one ICC_SGI1R_EL1 write.
func (g *GICv3) AppendSingle(dst []Write, self, cpu int, ipi IPI) []Write {
	mpidr := g.MPIDR(cpu)
	return append(dst, Write{Reg: RegSGI1R, Value: sgi1r(mpidr&sgiClusterMask, 1<<(mpidr&0xf), g.Vector(ipi))})
}

// EncodeMask returns the writes that send ipi from self to targets; see
// AppendMask.
func (g *GICv3) EncodeMask(self int, targets []int, ipi IPI, online func(cpu int) bool, nrOnline int) []Write {
	return g.AppendMask(nil, self, targets, ipi, online, nrOnline)
}

// AppendMask appends the ICC_SGI1R_EL1 writes that send ipi to targets.
// Compare Linux's irq-gic-v3.c:gic_ipi_send_mask() and
// gic_compute_target_list(): walking targets in ascending order, each write
// covers a run of consecutive targets that share an SGI cluster id (the
// MPIDR without Aff0[3:0]); the first target of another cluster starts the
// next write. So targets that alternate between two clusters cost one write
// each. Linux never uses the IRM (broadcast) bit and arm64 has no
// shorthand, so online and nrOnline are unused.
//
// Preconditions: targets is ascending without duplicates, every entry a CPU
// of the machine.
func (g *GICv3) AppendMask(dst []Write, self int, targets []int, ipi IPI, online func(cpu int) bool, nrOnline int) []Write {
	sgi := g.Vector(ipi)
	for i := 0; i < len(targets); {
		mpidr := g.MPIDR(targets[i])
		cluster := mpidr & sgiClusterMask
		tlist := uint16(1) << (mpidr & 0xf)
		for i++; i < len(targets); i++ {
			next := g.MPIDR(targets[i])
			if next&sgiClusterMask != cluster {
				break
			}
			tlist |= 1 << (next & 0xf)
		}
		dst = append(dst, Write{Reg: RegSGI1R, Value: sgi1r(cluster, tlist, sgi)})
	}
	return dst
}

// Decode returns the CPUs a write by self delivers an SGI to, and its INTID;
// see AppendDecode.
func (g *GICv3) Decode(self int, w Write, online func(cpu int) bool) (cpus []int, vector int) {
	return g.AppendDecode(nil, self, w, online)
}

// AppendDecode routes an ICC_SGI1R_EL1 write by self as the GIC does and
// appends the receiving CPUs, ascending, to dst; vector is the SGI INTID, or
// -1 for a write to another register. With IRM = 1 the SGI goes to every
// online CPU but self. Otherwise Aff3.Aff2.Aff1 and RS select a block of 16
// Aff0 values and each target-list bit one CPU of it; bits that name no CPU
// of the machine are ignored. Directed SGIs are delivered whether or not the
// target is online (an offline CPU's redistributor still accepts them).
//
// Preconditions: self is a CPU of the machine.
func (g *GICv3) AppendDecode(dst []int, self int, w Write, online func(cpu int) bool) (cpus []int, vector int) {
	g.checkCPU(self)
	if w.Reg != RegSGI1R {
		return dst, -1
	}
	v := w.Value
	sgi := int(v >> sgi1rSGIIDShift & 0xf)
	if v&sgi1rIRM != 0 {
		return appendOnline(dst, g.ncpus, self, online), sgi
	}
	q := int(v>>sgi1rAff3Shift&0xff)<<16 | int(v>>sgi1rAff2Shift&0xff)<<8 | int(v>>sgi1rAff1Shift&0xff)
	rs := int(v >> sgi1rRSShift & 0xf)
	if g.noRSS {
		// Without RSS an SGI reaches Aff0 0-15 only; of the choices the
		// architecture leaves (ignore the write, or take RS as 0) this
		// GIC takes RS as 0, so the SGI lands on Aff0 & 0xf.
		rs = 0
	}
	base := q * g.clusterSize
	for m := uint16(v & sgi1rTargetListMask); m != 0; m &= m - 1 {
		aff0 := rs<<4 | bits.TrailingZeros16(m)
		if aff0 >= g.clusterSize {
			break // higher bits have higher Aff0 values
		}
		cpu := base + aff0
		if cpu >= g.ncpus {
			break
		}
		dst = append(dst, cpu)
	}
	return dst, sgi
}

// Vector returns the SGI INTID that carries ipi: IPI_CALL_FUNC for both
// call-function IPIs, IPI_RESCHEDULE, IPI_CPU_BACKTRACE.
func (g *GICv3) Vector(ipi IPI) int {
	switch ipi {
	case CallFunctionSingle, CallFunction:
		return IPICallFunc
	case Reschedule:
		return IPIReschedule
	case Backtrace:
		return IPICPUBacktrace
	}
	panic(fmt.Sprintf("irqchip: unknown %v", ipi))
}

// IPIOf returns the IPI that SGI vector carries; IPI_CALL_FUNC is reported
// as CallFunction.
func (g *GICv3) IPIOf(vector int) (IPI, bool) {
	switch vector {
	case IPICallFunc:
		return CallFunction, true
	case IPIReschedule:
		return Reschedule, true
	case IPICPUBacktrace:
		return Backtrace, true
	}
	return 0, false
}

// VectorName returns the enum ipi_msg_type name of SGI vector,
// "IPI_CALL_FUNC" for example, "SGI_%d" for an SGI Linux does not use, or
// "SPI_%d" for the device interrupt (device.go).
func (g *GICv3) VectorName(vector int) string {
	if vector >= 0 && vector < len(arm64IPINames) {
		return arm64IPINames[vector]
	}
	if vector >= firstSPI {
		return fmt.Sprintf("SPI_%d", vector) // a device interrupt (device.go)
	}
	return fmt.Sprintf("SGI_%d", vector)
}

// BootLog returns what gic_cpu_sys_reg_init() prints (drivers/irqchip/
// irq-gic-v3.c, pr_fmt "GICv3: ") as each CPU of order comes up, in that
// order, every CPU before it already online: for each online CPU i, in
// ascending order, "CPU%d (%lx) can't SGI CPU%d (%lx), no RSS" once the
// range selector is needed (the new CPU's own Aff0 > 15, or that of i or
// of a CPU before i) and the two CPU interfaces lack RSS; then, once per
// boot, "RSS is required but GICD doesn't support it". lines[k] are the
// lines of order[k]. A GIC with range selectors prints nothing: nil.
func (g *GICv3) BootLog(order []int) (lines [][]string) {
	if !g.noRSS {
		return nil
	}
	lines = make([][]string, len(order))
	online := make([]bool, g.ncpus)
	warned := false
	for k, cpu := range order {
		if k == 0 {
			online[cpu] = true // the boot CPU is online before the GIC is set up
		}
		mpidr := g.MPIDR(cpu)
		need := mpidr & 0xf0 // MPIDR_RS
		for i := 0; i < g.ncpus; i++ {
			if !online[i] {
				continue
			}
			mi := g.MPIDR(i)
			need |= mi & 0xf0
			if need != 0 {
				lines[k] = append(lines[k], fmt.Sprintf("GICv3: CPU%d (%x) can't SGI CPU%d (%x), no RSS", cpu, mpidr, i, mi))
			}
		}
		if need != 0 && !warned {
			warned = true
			lines[k] = append(lines[k], "GICv3: RSS is required but GICD doesn't support it")
		}
		online[cpu] = true
	}
	return lines
}
