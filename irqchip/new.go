// new.go builds a Chip from a machine description. It mirrors no Linux file:
// it stands in for the firmware tables (MADT, MPIDR values) and the driver
// probing (arch/x86/kernel/apic/probe_64.c, drivers/irqchip/irq-gic-v3.c
// gic_of_init/gic_acpi_init) that decide which controller model Linux uses.

package irqchip

import (
	"errors"
	"fmt"

	"github.com/xcallsh/xcallsh/machines"
)

// ErrInvalid is wrapped by every error New returns.
var ErrInvalid = errors.New("invalid interrupt controller")

// maxCPUs is the largest machine package machines accepts (nr_cpu_ids).
const maxCPUs = 8192

// New returns the live interrupt-controller model of a machine with ncpus
// possible CPUs. arch is "x86_64" or "arm64" (machines.ArchX86, ArchARM64).
//
// x86_64 takes chip.Kind "xapic" (Mode "physical", the default, or "flat")
// or "x2apic" (Mode "physical", the default, or "cluster"); chip.APICIDs,
// when not nil, gives each CPU's (x2)APIC ID, otherwise APIC ID = CPU number.
// arm64 takes chip.Kind "gicv3" with an empty Mode, no APICIDs, and
// chip.ClusterSize CPUs per Aff1 value (0 means 16); see GICv3.MPIDR.
//
// The result is an *APIC or a *GICv3; both implement Appender and Vectors.
// A Chip holds per-sender state (the xAPIC ICR2 latches, scratch space for
// grouping), so it is not safe for concurrent use: one emulation goroutine
// owns it.
func New(arch string, chip machines.IRQChip, ncpus int) (Chip, error) {
	if ncpus < 1 || ncpus > maxCPUs {
		return nil, fmt.Errorf("%w: %d CPUs, want 1..%d", ErrInvalid, ncpus, maxCPUs)
	}
	switch arch {
	case string(machines.ArchX86):
		switch chip.Kind {
		case "xapic", "x2apic":
			return newAPIC(chip, ncpus)
		case "gicv3":
			return nil, fmt.Errorf("%w: gicv3 on x86_64 (want xapic or x2apic)", ErrInvalid)
		}
	case string(machines.ArchARM64):
		switch chip.Kind {
		case "gicv3":
			return newGICv3(chip, ncpus)
		case "xapic", "x2apic":
			return nil, fmt.Errorf("%w: %s on arm64 (want gicv3)", ErrInvalid, chip.Kind)
		}
	default:
		return nil, fmt.Errorf("%w: unknown architecture %q (want x86_64 or arm64)", ErrInvalid, arch)
	}
	return nil, fmt.Errorf("%w: unknown kind %q", ErrInvalid, chip.Kind)
}

// Both models implement the whole interface family.
var (
	_ Chip     = (*APIC)(nil)
	_ Appender = (*APIC)(nil)
	_ Vectors  = (*APIC)(nil)
	_ Chip     = (*GICv3)(nil)
	_ Appender = (*GICv3)(nil)
	_ Vectors  = (*GICv3)(nil)
)
