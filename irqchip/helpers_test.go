package irqchip

import (
	"fmt"
	"testing"

	"github.com/xcallsh/xcallsh/machines"
)

// mustNew builds a chip or fails the test.
func mustNew(t testing.TB, arch string, chip machines.IRQChip, ncpus int) Chip {
	t.Helper()
	c, err := New(arch, chip, ncpus)
	if err != nil {
		t.Fatalf("New(%s, %+v, %d): %v", arch, chip, ncpus, err)
	}
	return c
}

// onlineSet is a set of online CPUs for the online callbacks.
type onlineSet []bool

func allOnline(n int) onlineSet {
	s := make(onlineSet, n)
	for i := range s {
		s[i] = true
	}
	return s
}

// without returns a copy of s with the given CPUs offline.
func (s onlineSet) without(cpus ...int) onlineSet {
	c := append(onlineSet(nil), s...)
	for _, cpu := range cpus {
		c[cpu] = false
	}
	return c
}

func (s onlineSet) fn() func(int) bool { return func(cpu int) bool { return s[cpu] } }

func (s onlineSet) count() int {
	n := 0
	for _, on := range s {
		if on {
			n++
		}
	}
	return n
}

// fmtWrites renders writes as "REG=0x%016x" for failure messages and
// comparisons.
func fmtWrites(ws []Write) string {
	s := ""
	for i, w := range ws {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s=%#016x", w.Reg, w.Value)
	}
	return "[" + s + "]"
}

func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

var (
	cfgXAPICPhys  = machines.IRQChip{Kind: "xapic", Mode: "physical"}
	cfgXAPICFlat  = machines.IRQChip{Kind: "xapic", Mode: "flat"}
	cfgX2APICPhys = machines.IRQChip{Kind: "x2apic", Mode: "physical"}
	cfgX2APICClus = machines.IRQChip{Kind: "x2apic", Mode: "cluster"}
	cfgGICv3      = machines.IRQChip{Kind: "gicv3"}
)

func withIDs(c machines.IRQChip, ids ...int) machines.IRQChip {
	c.APICIDs = ids
	return c
}

func withClusterSize(c machines.IRQChip, n int) machines.IRQChip {
	c.ClusterSize = n
	return c
}
