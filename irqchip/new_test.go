package irqchip

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/machines"
)

func TestNewNames(t *testing.T) {
	for _, tt := range []struct {
		arch  string
		chip  machines.IRQChip
		ncpus int
		want  string
	}{
		{"x86_64", cfgXAPICPhys, 4, "xapic/physical"},
		{"x86_64", machines.IRQChip{Kind: "xapic"}, 4, "xapic/physical"},
		{"x86_64", cfgXAPICFlat, 8, "xapic/flat"},
		{"x86_64", cfgX2APICPhys, 8192, "x2apic/physical"},
		{"x86_64", machines.IRQChip{Kind: "x2apic"}, 4, "x2apic/physical"},
		{"x86_64", cfgX2APICClus, 8192, "x2apic/cluster"},
		{"x86_64", withIDs(cfgXAPICPhys, 0, 0xfe), 2, "xapic/physical"},
		{"x86_64", withClusterSize(cfgX2APICClus, 16), 4, "x2apic/cluster"}, // cluster size is GICv3-only, ignored
		{"arm64", cfgGICv3, 8192, "gicv3"},
		{"arm64", withClusterSize(cfgGICv3, 256), 300, "gicv3"},
	} {
		c := mustNew(t, tt.arch, tt.chip, tt.ncpus)
		if got := c.Name(); got != tt.want {
			t.Errorf("New(%s, %+v, %d).Name() = %q, want %q", tt.arch, tt.chip, tt.ncpus, got, tt.want)
		}
	}
	if got := mustNew(t, "arm64", cfgGICv3, 4).(*GICv3).ClusterSize(); got != 16 {
		t.Errorf("default cluster size %d, want 16", got)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tt := range []struct {
		arch  string
		chip  machines.IRQChip
		ncpus int
		want  string // a fragment of the message
	}{
		{"x86_64", cfgXAPICPhys, 0, "0 CPUs"},
		{"x86_64", cfgXAPICPhys, 8193, "8193 CPUs"},
		{"riscv64", cfgGICv3, 4, `unknown architecture "riscv64"`},
		{"x86_64", cfgGICv3, 4, "gicv3 on x86_64"},
		{"arm64", cfgX2APICPhys, 4, "x2apic on arm64"},
		{"x86_64", machines.IRQChip{Kind: "ioapic"}, 4, `unknown kind "ioapic"`},
		{"x86_64", machines.IRQChip{Kind: "xapic", Mode: "cluster"}, 4, `xapic mode "cluster"`},
		{"x86_64", machines.IRQChip{Kind: "x2apic", Mode: "flat"}, 4, `x2apic mode "flat"`},
		{"x86_64", cfgXAPICFlat, 9, "at most 8 CPUs"},
		{"x86_64", cfgXAPICPhys, 256, "largest usable ID 0xfe"},
		{"x86_64", withIDs(cfgXAPICPhys, 0, 0xff), 2, "APIC ID 0xff"},
		{"x86_64", withIDs(cfgX2APICPhys, 0, -1), 2, "APIC ID -0x1"},
		{"x86_64", withIDs(cfgX2APICPhys, 0, 0xffffffff), 2, "APIC ID 0xffffffff"},
		{"x86_64", withIDs(cfgX2APICClus, 0, 0xffff0), 2, "APIC ID 0xffff0"},
		{"x86_64", withIDs(cfgX2APICPhys, 0, 1), 3, "2 APIC IDs for 3 CPUs"},
		{"x86_64", withIDs(cfgX2APICPhys, 4, 7, 4), 3, "CPUs 0 and 2 share APIC ID 0x4"},
		{"x86_64", withIDs(cfgX2APICPhys, 0x7000000, 1, 0x7000000), 3, "CPUs 0 and 2 share APIC ID 0x7000000"},
		{"arm64", machines.IRQChip{Kind: "gicv3", Mode: "cluster"}, 4, "gicv3 has no mode"},
		{"arm64", withIDs(cfgGICv3, 0, 1), 2, "no APIC IDs"},
		{"arm64", withClusterSize(cfgGICv3, 257), 2, "cluster size 257"},
		{"arm64", withClusterSize(cfgGICv3, -1), 2, "cluster size -1"},
	} {
		c, err := New(tt.arch, tt.chip, tt.ncpus)
		if err == nil {
			t.Errorf("New(%s, %+v, %d) = %s, want an error", tt.arch, tt.chip, tt.ncpus, c.Name())
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%s, %+v, %d): %v, want ErrInvalid mentioning %q", tt.arch, tt.chip, tt.ncpus, err, tt.want)
		}
	}
}

// TestNewLarge checks that an 8192-CPU machine with default IDs costs no
// per-CPU memory.
func TestNewLarge(t *testing.T) {
	for _, chip := range []machines.IRQChip{cfgX2APICPhys, cfgX2APICClus} {
		allocs := testing.AllocsPerRun(10, func() { _, _ = New("x86_64", chip, 8192) })
		if allocs > 1 {
			t.Errorf("%+v: %v allocations", chip, allocs)
		}
	}
	allocs := testing.AllocsPerRun(10, func() { _, _ = New("arm64", cfgGICv3, 8192) })
	if allocs > 1 {
		t.Errorf("gicv3: %v allocations", allocs)
	}
}

// TestClusterScratchWrap checks the cluster grouping across a wrap of its
// generation counter.
func TestClusterScratchWrap(t *testing.T) {
	c := mustNew(t, "x86_64", cfgX2APICClus, 64).(*APIC)
	on := allOnline(64)
	want := []Write{icr(0x00000006_000008FC), icr(0x00010001_000008FC)}
	c.EncodeMask(0, []int{1, 2, 16}, CallFunction, on.fn(), 64) // stamps generation 1
	c.gen = ^uint32(0) - 2
	for range 4 { // generations 0xfffffffe, 0xffffffff, then 1 (wrapped), 2
		got := c.EncodeMask(0, []int{1, 2, 16}, CallFunction, on.fn(), 64)
		if !slices.Equal(got, want) {
			t.Fatalf("gen %#x: got %s, want %s", c.gen, fmtWrites(got), fmtWrites(want))
		}
	}
	if c.gen != 2 {
		t.Errorf("generation %#x after the wrap, want 2", c.gen)
	}
}

func TestIPIString(t *testing.T) {
	for _, tt := range []struct {
		ipi  IPI
		want string
	}{
		{CallFunctionSingle, "CallFunctionSingle"}, {CallFunction, "CallFunction"},
		{Reschedule, "Reschedule"}, {Backtrace, "Backtrace"}, {9, "IPI(9)"},
	} {
		if got := tt.ipi.String(); got != tt.want {
			t.Errorf("IPI(%d).String() = %q, want %q", int(tt.ipi), got, tt.want)
		}
	}
}
