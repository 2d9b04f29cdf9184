package irqchip

import (
	"slices"
	"testing"

	"github.com/xcallsh/xcallsh/machines"
)

func icr(v uint64) Write  { return Write{Reg: RegICR, Value: v} }
func icr2(v uint64) Write { return Write{Reg: RegICR2, Value: v} }

// TestAPICEncode checks the worked examples of docs/kernel.md#x86-vectors-and-the-icr and
// the other encodings, value for value.
func TestAPICEncode(t *testing.T) {
	tests := []struct {
		name    string
		chip    machines.IRQChip
		ncpus   int
		self    int
		single  int  // !mask: EncodeSingle to this CPU
		mask    bool // EncodeMask to targets
		targets []int
		online  onlineSet
		ipi     IPI
		want    []Write
	}{
		// Single call-function IPI to physical APIC ID 3 (xAPIC).
		{name: "xapic phys single id 3", chip: cfgXAPICPhys, ncpus: 4, single: 3, ipi: CallFunctionSingle,
			want: []Write{icr2(0x03000000), icr(0x000000FB)}},
		{name: "xapic phys single explicit id", chip: withIDs(cfgXAPICPhys, 0, 0x10, 0x22), ncpus: 3, single: 2, ipi: Reschedule,
			want: []Write{icr2(0x22000000), icr(0x000000FD)}},
		{name: "xapic phys single NMI", chip: cfgXAPICPhys, ncpus: 4, single: 1, ipi: Backtrace,
			want: []Write{icr2(0x01000000), icr(0x00000400)}},
		// All-but-self call-function broadcast.
		{name: "xapic phys allbut", chip: cfgXAPICPhys, ncpus: 4, mask: true, targets: []int{1, 2, 3}, ipi: CallFunction,
			want: []Write{icr(0x000C00FC)}},
		{name: "xapic phys allbut self 2", chip: cfgXAPICPhys, ncpus: 4, self: 2, mask: true, targets: []int{0, 1, 3}, ipi: CallFunction,
			want: []Write{icr(0x000C00FC)}},
		{name: "xapic phys allbut with offline CPU", chip: cfgXAPICPhys, ncpus: 4, mask: true, targets: []int{1, 3},
			online: allOnline(4).without(2), ipi: CallFunction,
			want: []Write{icr(0x000C00FC)}},
		{name: "xapic phys allinc (self in mask)", chip: cfgXAPICPhys, ncpus: 4, mask: true, targets: []int{0, 1, 2, 3}, ipi: CallFunction,
			want: []Write{icr(0x000800FC)}},
		{name: "xapic phys mask sequence", chip: cfgXAPICPhys, ncpus: 4, mask: true, targets: []int{1, 3}, ipi: CallFunction,
			want: []Write{icr2(0x01000000), icr(0xFC), icr2(0x03000000), icr(0xFC)}},
		{name: "xapic phys mask hits offline CPU", chip: cfgXAPICPhys, ncpus: 4, mask: true, targets: []int{1, 2, 3},
			online: allOnline(4).without(2), ipi: CallFunction,
			want: []Write{icr2(0x01000000), icr(0xFC), icr2(0x02000000), icr(0xFC), icr2(0x03000000), icr(0xFC)}},
		{name: "xapic phys NMI mask never shorthand", chip: cfgXAPICPhys, ncpus: 3, mask: true, targets: []int{1, 2}, ipi: Backtrace,
			want: []Write{icr2(0x01000000), icr(0x400), icr2(0x02000000), icr(0x400)}},
		{name: "xapic phys single-call mask never shorthand", chip: cfgXAPICPhys, ncpus: 2, mask: true, targets: []int{1}, ipi: CallFunctionSingle,
			want: []Write{icr2(0x01000000), icr(0xFB)}},
		{name: "only self online sends nothing", chip: cfgXAPICPhys, ncpus: 4, mask: true, targets: nil,
			online: allOnline(4).without(1, 2, 3), ipi: CallFunction, want: nil},

		// Flat: the single send is a one-bit logical mask.
		{name: "xapic flat single", chip: cfgXAPICFlat, ncpus: 8, single: 2, ipi: CallFunctionSingle,
			want: []Write{icr2(0x04000000), icr(0x000008FB)}},
		{name: "xapic flat single NMI", chip: cfgXAPICFlat, ncpus: 8, single: 7, ipi: Backtrace,
			want: []Write{icr2(0x80000000), icr(0x00000C00)}},
		{name: "xapic flat mask", chip: cfgXAPICFlat, ncpus: 8, mask: true, targets: []int{1, 3, 6}, ipi: CallFunction,
			want: []Write{icr2(0x4A000000), icr(0x000008FC)}},
		{name: "xapic flat allbut", chip: cfgXAPICFlat, ncpus: 8, self: 5, mask: true, targets: []int{0, 1, 2, 3, 4, 6, 7}, ipi: CallFunction,
			want: []Write{icr(0x000C00FC)}},

		// x2APIC physical to ID 0x1234 and to ID 2.
		{name: "x2apic phys single 0x1234", chip: withIDs(cfgX2APICPhys, 0, 0x1234), ncpus: 2, single: 1, ipi: CallFunctionSingle,
			want: []Write{icr(0x00001234_000000FB)}},
		{name: "x2apic phys single id 2", chip: cfgX2APICPhys, ncpus: 4, single: 2, ipi: CallFunctionSingle,
			want: []Write{icr(0x00000002_000000FB)}},
		{name: "x2apic phys NMI", chip: cfgX2APICPhys, ncpus: 4, single: 3, ipi: Backtrace,
			want: []Write{icr(0x00000003_00000400)}},
		{name: "x2apic phys mask", chip: withIDs(cfgX2APICPhys, 0, 0x40, 0x1000000), ncpus: 3, mask: true, targets: []int{1, 2},
			online: allOnline(3).without(2), ipi: Reschedule,
			want: []Write{icr(0x00000040_000000FD), icr(0x01000000_000000FD)}},
		{name: "x2apic phys allbut", chip: cfgX2APICPhys, ncpus: 3, mask: true, targets: []int{1, 2}, ipi: CallFunction,
			want: []Write{icr(0x00000000_000C00FC)}},

		// Cluster mode.
		{name: "x2apic cluster single id 2", chip: cfgX2APICClus, ncpus: 4, single: 2, ipi: CallFunctionSingle,
			want: []Write{icr(0x00000004_000008FB)}},
		{name: "x2apic cluster ids 0x23 0x25", chip: withIDs(cfgX2APICClus, 0, 0x23, 0x25, 0x30), ncpus: 4, mask: true, targets: []int{1, 2}, ipi: CallFunction,
			want: []Write{icr(0x00020028_000008FC)}},
		{name: "x2apic cluster allbut", chip: withIDs(cfgX2APICClus, 0, 0x23, 0x25), ncpus: 3, mask: true, targets: []int{1, 2}, ipi: CallFunction,
			want: []Write{icr(0x00000000_000C00FC)}},
		{name: "x2apic cluster NMI", chip: cfgX2APICClus, ncpus: 40, mask: true, targets: []int{1, 17, 18, 33}, ipi: Backtrace,
			want: []Write{icr(0x00000002_00000C00), icr(0x00010006_00000C00), icr(0x00020002_00000C00)}},
		// Clusters alternate in CPU order (even CPUs in cluster 0, odd in
		// cluster 1): still one write per cluster, in order of first CPU.
		{name: "x2apic cluster alternating", chip: withIDs(cfgX2APICClus, 0x00, 0x10, 0x01, 0x11, 0x02, 0x12, 0x03), ncpus: 7,
			self: 6, mask: true, targets: []int{0, 1, 2, 3, 4, 5}, online: allOnline(7).without(0), ipi: CallFunction,
			want: []Write{icr(0x00000007_000008FC), icr(0x00010007_000008FC)}},
		{name: "x2apic cluster alternating, second cluster first", chip: withIDs(cfgX2APICClus, 0x10, 0x00, 0x11, 0x01, 0x30), ncpus: 5,
			self: 4, mask: true, targets: []int{0, 1, 2, 3}, online: allOnline(5).without(0), ipi: Reschedule,
			want: []Write{icr(0x00010003_000008FD), icr(0x00000003_000008FD)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, "x86_64", tt.chip, tt.ncpus)
			online := tt.online
			if online == nil {
				online = allOnline(tt.ncpus)
			}
			var got []Write
			if tt.mask {
				got = c.EncodeMask(tt.self, tt.targets, tt.ipi, online.fn(), online.count())
			} else {
				got = c.EncodeSingle(tt.self, tt.single, tt.ipi)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %s\nwant %s", fmtWrites(got), fmtWrites(tt.want))
			}
		})
	}
}

// TestAPICDecode checks how register writes are routed, including writes
// Linux never makes (shorthand SELF, broadcasts, logical writes on a
// physical-mode xAPIC).
func TestAPICDecode(t *testing.T) {
	type step struct {
		self       int
		w          Write
		wantCPUs   []int
		wantVector int
	}
	tests := []struct {
		name   string
		chip   machines.IRQChip
		ncpus  int
		online onlineSet
		steps  []step
	}{
		{name: "xapic ICR2 latches per sender", chip: cfgXAPICPhys, ncpus: 4, steps: []step{
			{0, icr2(0x01000000), nil, -1},
			{1, icr2(0x02000000), nil, -1},
			{0, icr(0xFB), []int{1}, 0xFB},
			{1, icr(0xFD), []int{2}, 0xFD},
			{0, icr(0x400), []int{1}, NMIVector}, // the latch stays
			{3, icr(0xFC), []int{0}, 0xFC},       // never written: reset value 0
		}},
		{name: "xapic physical to an unknown ID", chip: cfgXAPICPhys, ncpus: 4, steps: []step{
			{0, icr2(0x09000000), nil, -1},
			{0, icr(0xFB), nil, 0xFB},
		}},
		{name: "xapic shorthands", chip: cfgXAPICPhys, ncpus: 4, online: allOnline(4).without(2), steps: []step{
			{1, icr(0x000C00FC), []int{0, 3}, 0xFC},
			{1, icr(0x000800FC), []int{0, 1, 3}, 0xFC},
			{1, icr(0x000400FD), []int{1}, 0xFD},
			{3, icr(0x000C0400), []int{0, 1}, NMIVector},
		}},
		{name: "xapic physical broadcast", chip: cfgXAPICPhys, ncpus: 3, online: allOnline(3).without(1), steps: []step{
			{0, icr2(0xFF000000), nil, -1},
			{0, icr(0xFC), []int{0, 2}, 0xFC},
		}},
		{name: "xapic physical mode has no logical IDs", chip: cfgXAPICPhys, ncpus: 4, steps: []step{
			{0, icr2(0x02000000), nil, -1},
			{0, icr(0x8FC), nil, 0xFC},
		}},
		{name: "xapic flat logical mask", chip: cfgXAPICFlat, ncpus: 6, steps: []step{
			{0, icr2(0xE6000000), nil, -1}, // bits 1, 2, 5, 6, 7: CPUs 6, 7 do not exist
			{0, icr(0x8FC), []int{1, 2, 5}, 0xFC},
			{0, icr(0xFC), nil, 0xFC}, // physical ID 0xE6: nobody
		}},
		{name: "x2apic physical", chip: withIDs(cfgX2APICPhys, 5, 0x1234, 7), ncpus: 3, online: allOnline(3).without(2), steps: []step{
			{0, icr(0x00001234_000000FB), []int{1}, 0xFB},
			{0, icr(0x00000007_000000FC), []int{2}, 0xFC}, // directed: offline CPUs still receive
			{1, icr(0x00000006_000000FC), nil, 0xFC},
			{1, icr(0xFFFFFFFF_000000FD), []int{0, 1}, 0xFD},
			{1, icr(0x00000000_000C00FC), []int{0}, 0xFC},
			{1, icr2(0x05000000), nil, -1}, // x2APIC has no ICR2
		}},
		// The x2APIC logical ID is derived by the hardware, so logical
		// destinations work in physical mode too.
		{name: "x2apic logical in physical mode", chip: cfgX2APICPhys, ncpus: 40, steps: []step{
			{0, icr(0x00020028_000008FC), []int{35, 37}, 0xFC},
		}},
		{name: "x2apic cluster, CPU order differs from ID order", chip: withIDs(cfgX2APICClus, 0x23, 0x21, 0x25, 0x20, 0x40), ncpus: 5, steps: []step{
			{4, icr(0x0002000B_000008FC), []int{0, 1, 3}, 0xFC},
			{4, icr(0x00040001_000008FB), []int{4}, 0xFB},
			{4, icr(0x00030001_000008FB), nil, 0xFB},
			{0, icr(0xFFFFFFFF_000008FB), []int{0, 1, 2, 3, 4}, 0xFB},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, "x86_64", tt.chip, tt.ncpus)
			online := tt.online
			if online == nil {
				online = allOnline(tt.ncpus)
			}
			for i, s := range tt.steps {
				cpus, vector := c.Decode(s.self, s.w, online.fn())
				if !slices.Equal(cpus, s.wantCPUs) || vector != s.wantVector {
					t.Errorf("step %d: CPU%d %s: got %v vector %#x, want %v vector %#x",
						i, s.self, fmtWrites([]Write{s.w}), cpus, vector, s.wantCPUs, s.wantVector)
				}
			}
		})
	}
}

func TestAPICShorthandToggle(t *testing.T) {
	c := mustNew(t, "x86_64", cfgX2APICPhys, 3).(*APIC)
	on := allOnline(3)
	if !c.IPIShorthand() {
		t.Fatal("shorthand off by default")
	}
	c.SetIPIShorthand(false)
	got := c.EncodeMask(0, []int{1, 2}, CallFunction, on.fn(), 3)
	want := []Write{icr(0x00000001_000000FC), icr(0x00000002_000000FC)}
	if !slices.Equal(got, want) {
		t.Errorf("shorthand off: got %s, want %s", fmtWrites(got), fmtWrites(want))
	}
}

func TestAPICIDs(t *testing.T) {
	c := mustNew(t, "x86_64", withIDs(cfgX2APICClus, 0x23, 0x25, 0xfffef), 3).(*APIC)
	for _, tt := range []struct {
		cpu       int
		id, logic uint32
	}{{0, 0x23, 0x00020008}, {1, 0x25, 0x00020020}, {2, 0xfffef, 0xfffe8000}} {
		if got := c.APICID(tt.cpu); got != tt.id {
			t.Errorf("APICID(%d) = %#x, want %#x", tt.cpu, got, tt.id)
		}
		if got := c.LogicalID(tt.cpu); got != tt.logic {
			t.Errorf("LogicalID(%d) = %#x, want %#x", tt.cpu, got, tt.logic)
		}
	}
	flat := mustNew(t, "x86_64", cfgXAPICFlat, 8).(*APIC)
	if got := flat.LogicalID(5); got != 0x20 {
		t.Errorf("flat LogicalID(5) = %#x, want 0x20", got)
	}
	phys := mustNew(t, "x86_64", cfgXAPICPhys, 8).(*APIC)
	if got := phys.LogicalID(5); got != 0 {
		t.Errorf("physical LogicalID(5) = %#x, want 0", got)
	}
}

func TestAPICVectors(t *testing.T) {
	c := mustNew(t, "x86_64", cfgXAPICPhys, 2)
	for _, tt := range []struct {
		ipi    IPI
		vector int
		name   string
	}{
		{CallFunctionSingle, 0xfb, "CALL_FUNCTION_SINGLE_VECTOR"},
		{CallFunction, 0xfc, "CALL_FUNCTION_VECTOR"},
		{Reschedule, 0xfd, "RESCHEDULE_VECTOR"},
		{Backtrace, 0x02, "NMI_VECTOR"},
	} {
		if got := VectorOf(c, tt.ipi); got != tt.vector {
			t.Errorf("VectorOf(%v) = %#x, want %#x", tt.ipi, got, tt.vector)
		}
		if got := c.VectorName(tt.vector); got != tt.name {
			t.Errorf("VectorName(%#x) = %q, want %q", tt.vector, got, tt.name)
		}
		if got, ok := IPIOf(c, tt.vector); !ok || got != tt.ipi {
			t.Errorf("IPIOf(%#x) = %v, %v, want %v", tt.vector, got, ok, tt.ipi)
		}
	}
	if got := c.VectorName(0x31); got != "VECTOR_0x31" {
		t.Errorf("VectorName(0x31) = %q", got)
	}
	if _, ok := IPIOf(c, 0xf6); ok {
		t.Errorf("IPIOf(IRQ_WORK_VECTOR) reported an IPI")
	}
}
