package machines

import (
	"fmt"
	"strconv"
	"strings"
)

// Synthetic returns a machine of cpus CPUs built in code, for tests and
// benchmarks: "an x2APIC cluster machine with 8192 CPUs" is
//
//	Synthetic(ArchX86, "x2apic", "cluster", 8192, 0)
//
// mode "" means the default (physical). clusterSize 0 means the default (16
// on gicv3); on x86 it must be 0. All CPUs are online, in one NUMA node, with
// APIC IDs equal to the CPU numbers and default timing and kernel settings.
// The Spec is made by Parse from a TOML text, kept in Source, so it passes
// every rule a file does.
//
// Synthetic panics if the parameters do not make a valid machine.
func Synthetic(arch Arch, kind, mode string, cpus, clusterSize int) *Spec {
	name := []string{"synthetic", kind}
	if mode != "" {
		name = append(name, mode)
	}
	if clusterSize != 0 {
		name = append(name, "c"+strconv.Itoa(clusterSize))
	}
	name = append(name, strconv.Itoa(cpus))

	var b strings.Builder
	fmt.Fprintf(&b, "# Built by machines.Synthetic.\n")
	fmt.Fprintf(&b, "name = %s\n", tomlQuote(strings.Join(name, "-")))
	chip := kind
	if mode != "" {
		chip += " " + mode
	}
	fmt.Fprintf(&b, "description = %s\n", tomlQuote(fmt.Sprintf("%d CPUs, %s, %s (synthetic)", cpus, arch, chip)))
	fmt.Fprintf(&b, "arch = %s\ncpus = %d\n\n[irqchip]\nkind = %s\n", tomlQuote(string(arch)), cpus, tomlQuote(kind))
	if mode != "" {
		fmt.Fprintf(&b, "mode = %s\n", tomlQuote(mode))
	}
	if clusterSize != 0 {
		fmt.Fprintf(&b, "cluster_size = %d\n", clusterSize)
	}
	s, err := Parse("synthetic", []byte(b.String()))
	if err != nil {
		panic("machines.Synthetic: " + err.Error())
	}
	return s
}

// tomlQuote returns s as a TOML basic string.
func tomlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
