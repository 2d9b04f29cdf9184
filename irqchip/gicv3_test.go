package irqchip

import (
	"slices"
	"testing"

	"github.com/xcallsh/xcallsh/machines"
)

func sgi(v uint64) Write { return Write{Reg: RegSGI1R, Value: v} }

func TestGICv3MPIDR(t *testing.T) {
	for _, tt := range []struct {
		clusterSize, ncpus, cpu int
		want                    uint64
	}{
		{0, 64, 0, 0x000},
		{0, 64, 15, 0x00f},
		{0, 64, 16, 0x100},
		{0, 64, 35, 0x203},
		{2, 4, 2, 0x100},
		{32, 64, 18, 0x012},
		{32, 64, 33, 0x101},
		{256, 512, 300, 0x12c}, // Aff1 1, Aff0 0x2c
		{1, 300, 255, 0x0000ff00},
		{1, 300, 256, 0x00010000}, // Aff1 carries into Aff2
		{1, 300, 299, 0x00012b00},
		{1, 8192, 8191, 0x001fff00},
	} {
		g := mustNew(t, "arm64", withClusterSize(cfgGICv3, tt.clusterSize), tt.ncpus).(*GICv3)
		if got := g.MPIDR(tt.cpu); got != tt.want {
			t.Errorf("cluster size %d: MPIDR(%d) = %#x, want %#x", tt.clusterSize, tt.cpu, got, tt.want)
		}
	}
}

// TestGICv3Encode checks the worked examples of docs/kernel.md#arm64-ipi-numbers-and-icc_sgi1r_el1 and the
// per-run grouping.
func TestGICv3Encode(t *testing.T) {
	tests := []struct {
		name    string
		chip    machines.IRQChip
		ncpus   int
		self    int
		single  int
		mask    bool
		targets []int
		ipi     IPI
		want    []Write
	}{
		// MPIDRs 0x000, 0x001, 0x100 (cluster size 2: CPUs 0, 1, 2).
		{name: "worked example", chip: withClusterSize(cfgGICv3, 2), ncpus: 4, self: 3, mask: true, targets: []int{0, 1, 2}, ipi: CallFunction,
			want: []Write{sgi(0x0000000001000003), sgi(0x0000000001010001)}},
		// Aff0 = 0x12 gives RS 1 and target-list bit 2.
		{name: "range selector", chip: withClusterSize(cfgGICv3, 32), ncpus: 32, single: 18, ipi: CallFunctionSingle,
			want: []Write{sgi(0x0000100001000004)}},
		{name: "single is IPI_CALL_FUNC", chip: cfgGICv3, ncpus: 4, single: 2, ipi: CallFunctionSingle,
			want: []Write{sgi(0x0000000001000004)}},
		{name: "reschedule is SGI 0", chip: cfgGICv3, ncpus: 20, single: 17, ipi: Reschedule,
			want: []Write{sgi(0x0000000000010002)}},
		{name: "backtrace is SGI 6", chip: cfgGICv3, ncpus: 20, mask: true, targets: []int{1, 2, 19}, ipi: Backtrace,
			want: []Write{sgi(0x0000000006000006), sgi(0x0000000006010008)}},
		{name: "Aff2 carry", chip: withClusterSize(cfgGICv3, 1), ncpus: 301, single: 300, ipi: CallFunction,
			want: []Write{sgi(0x00000001_012c0001)}},
		{name: "Aff3", chip: withClusterSize(cfgGICv3, 1), ncpus: 8192, single: 8191, ipi: CallFunction, // q = 8191 = 0x1fff
			want: []Write{sgi(0x0000001f_01ff0001)}},
		// No shorthand on arm64, even for every other online CPU.
		{name: "all but self is per cluster", chip: cfgGICv3, ncpus: 34, self: 0, mask: true, targets: seq(1, 33), ipi: CallFunction,
			want: []Write{sgi(0x000000000100fffe), sgi(0x000000000101ffff), sgi(0x0000000001020003)}},
		// One write per run of consecutive targets in one SGI cluster: with
		// clusters of 4, targets 0 1 | 4 | 8 9 | 13 cost four writes; a
		// cluster size of 1 puts every CPU in its own cluster.
		{name: "one write per run", chip: withClusterSize(cfgGICv3, 4), ncpus: 16, self: 15, mask: true, targets: []int{0, 1, 4, 8, 9, 13}, ipi: CallFunction,
			want: []Write{sgi(0x0000000001000003), sgi(0x0000000001010001), sgi(0x0000000001020003), sgi(0x0000000001030002)}},
		{name: "cluster size 1", chip: withClusterSize(cfgGICv3, 1), ncpus: 4, mask: true, targets: []int{1, 2, 3}, ipi: CallFunction,
			want: []Write{sgi(0x0000000001010001), sgi(0x0000000001020001), sgi(0x0000000001030001)}},
		// Clusters of 32 split at Aff0 = 16 into two SGI clusters (RS 0, 1).
		{name: "RS splits a cluster", chip: withClusterSize(cfgGICv3, 32), ncpus: 64, self: 63, mask: true, targets: []int{14, 15, 16, 17, 40}, ipi: CallFunction,
			want: []Write{sgi(0x000000000100c000), sgi(0x0000100001000003), sgi(0x0000000001010100)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, "arm64", tt.chip, tt.ncpus)
			var got []Write
			if tt.mask {
				on := allOnline(tt.ncpus)
				got = c.EncodeMask(tt.self, tt.targets, tt.ipi, on.fn(), on.count())
			} else {
				got = c.EncodeSingle(tt.self, tt.single, tt.ipi)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %s\nwant %s", fmtWrites(got), fmtWrites(tt.want))
			}
		})
	}
}

func TestGICv3Decode(t *testing.T) {
	c := mustNew(t, "arm64", withClusterSize(cfgGICv3, 20), 50)
	on := allOnline(50).without(3, 30)
	for _, tt := range []struct {
		self       int
		w          Write
		wantCPUs   []int
		wantVector int
	}{
		{0, sgi(0x0000000001000003), []int{0, 1}, 1},
		{0, sgi(0x000000000101000a), []int{21, 23}, 1},
		{0, sgi(0x000010000101000f), []int{36, 37, 38, 39}, 1}, // RS 1: Aff0 16..19; 20..31 do not exist
		{0, sgi(0x00001000010100f0), nil, 1},
		{0, sgi(0x000000000102ffff), seq(40, 49), 1}, // Aff1 2 holds only CPUs 40..49
		{0, sgi(0x0000000001030001), nil, 1},
		{0, sgi(0x0000000106000001), nil, 6}, // Aff2 1: no such CPU
		{2, sgi(0x0000010001000000), []int{0, 1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49}, 1}, // IRM
		{0, sgi(0x0000000000000008), []int{3}, 0}, // directed: offline CPUs still receive
		{0, icr(0x00000001_000000FB), nil, -1},
	} {
		cpus, vector := c.Decode(tt.self, tt.w, on.fn())
		if !slices.Equal(cpus, tt.wantCPUs) || vector != tt.wantVector {
			t.Errorf("CPU%d %s: got %v SGI %d, want %v SGI %d", tt.self, fmtWrites([]Write{tt.w}), cpus, vector, tt.wantCPUs, tt.wantVector)
		}
	}
}

func TestGICv3Vectors(t *testing.T) {
	c := mustNew(t, "arm64", cfgGICv3, 2)
	for _, tt := range []struct {
		ipi    IPI
		vector int
		name   string
		back   IPI
	}{
		{CallFunctionSingle, 1, "IPI_CALL_FUNC", CallFunction},
		{CallFunction, 1, "IPI_CALL_FUNC", CallFunction},
		{Reschedule, 0, "IPI_RESCHEDULE", Reschedule},
		{Backtrace, 6, "IPI_CPU_BACKTRACE", Backtrace},
	} {
		if got := VectorOf(c, tt.ipi); got != tt.vector {
			t.Errorf("VectorOf(%v) = %d, want %d", tt.ipi, got, tt.vector)
		}
		if got := c.VectorName(tt.vector); got != tt.name {
			t.Errorf("VectorName(%d) = %q, want %q", tt.vector, got, tt.name)
		}
		if got, ok := IPIOf(c, tt.vector); !ok || got != tt.back {
			t.Errorf("IPIOf(%d) = %v, %v, want %v", tt.vector, got, ok, tt.back)
		}
	}
	if got := c.VectorName(12); got != "SGI_12" {
		t.Errorf("VectorName(12) = %q", got)
	}
}

func TestARM64IPIReason(t *testing.T) {
	for _, tc := range []struct {
		ipi  int
		want string
	}{
		{IPIReschedule, "Rescheduling interrupts"},
		{IPICallFunc, "Function call interrupts"},
		{IPICPUBacktrace, "CPU backtrace interrupts"},
		{IPIKGDBRoundup, "KGDB roundup interrupts"},
		{-1, "unknown"},
		{IPIKGDBRoundup + 1, "unknown"},
	} {
		if got := ARM64IPIReason(tc.ipi); got != tc.want {
			t.Errorf("ARM64IPIReason(%d) = %q, want %q", tc.ipi, got, tc.want)
		}
	}
}

// Without range selectors an SGI keeps its encoding (Linux always sets RS)
// but lands on Aff0 & 0xf; with them it reaches Aff0 16 and up. The boot
// warnings are gic_cpu_sys_reg_init()'s, CPU by CPU.
func TestGICv3NoRangeSelector(t *testing.T) {
	cfg := withClusterSize(cfgGICv3, 18)
	with := mustNew(t, "arm64", cfg, 18).(*GICv3)
	cfg.NoRangeSelector = true
	without := mustNew(t, "arm64", cfg, 18).(*GICv3)
	w := with.EncodeSingle(0, 17, CallFunctionSingle)
	if v := without.EncodeSingle(0, 17, CallFunctionSingle); !slices.Equal(v, w) || w[0].Value != 0x0000100001000002 {
		t.Fatalf("encodings %x and %x, want both 0x0000100001000002", w, v)
	}
	if got, _ := with.Decode(0, w[0], nil); !slices.Equal(got, []int{17}) {
		t.Errorf("with RSS: delivered to %v, want [17]", got)
	}
	if got, _ := without.Decode(0, w[0], nil); !slices.Equal(got, []int{1}) {
		t.Errorf("without RSS: delivered to %v, want [1]", got)
	}
	order := make([]int, 18)
	for i := range order {
		order[i] = i
	}
	if l := with.BootLog(order); l != nil {
		t.Errorf("with RSS: %q", l)
	}
	log := without.BootLog(order)
	for k := 0; k < 16; k++ {
		if len(log[k]) != 0 {
			t.Errorf("CPU %d (Aff0 < 16, no earlier CPU needs RS) warns: %q", k, log[k])
		}
	}
	if len(log[16]) != 17 || log[16][0] != "GICv3: CPU16 (10) can't SGI CPU0 (0), no RSS" ||
		log[16][16] != "GICv3: RSS is required but GICD doesn't support it" {
		t.Errorf("CPU 16: %q", log[16])
	}
	if len(log[17]) != 17 || log[17][16] != "GICv3: CPU17 (11) can't SGI CPU16 (10), no RSS" {
		t.Errorf("CPU 17: %q", log[17])
	}
}
