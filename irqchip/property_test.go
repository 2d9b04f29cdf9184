package irqchip

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/xcallsh/xcallsh/machines"
)

// idScheme chooses the (x2)APIC IDs of a test machine.
type idScheme int

const (
	idIdentity idScheme = iota // APICIDs nil: ID = CPU number
	idShuffled                 // distinct random IDs below limit, in random CPU order
	idSparse                   // widely spaced IDs: the reverse lookup uses a map
)

func makeIDs(rng *rand.Rand, scheme idScheme, n, limit, stride int) []int {
	switch scheme {
	case idShuffled:
		perm := rng.Perm(limit)
		return perm[:n]
	case idSparse:
		ids := make([]int, n)
		for i := range ids {
			ids[i] = i*stride + 5
		}
		rng.Shuffle(n, func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		return ids
	}
	return nil
}

type propConfig struct {
	arch   string
	chip   machines.IRQChip
	sizes  []int
	scheme idScheme
	limit  func(n int) int // idShuffled: IDs are below limit(n)
	stride int             // idSparse
}

// TestEncodeDecodeRoundTrip is the property behind the emulator's routing:
// whatever a chip encodes, decoding those writes in order (as the sender's
// hardware would see them) delivers the IPI exactly once to every target,
// to no other CPU, with the IPI's vector.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	xsizes := []int{1, 4, 8, 64, 300}
	configs := []propConfig{
		{arch: "x86_64", chip: cfgXAPICPhys, sizes: []int{1, 4, 8, 64, 200}},
		{arch: "x86_64", chip: cfgXAPICPhys, sizes: []int{1, 4, 8, 64, 200}, scheme: idShuffled, limit: func(int) int { return 0xff }},
		{arch: "x86_64", chip: cfgXAPICFlat, sizes: []int{1, 4, 8}},
		{arch: "x86_64", chip: cfgXAPICFlat, sizes: []int{1, 4, 8}, scheme: idShuffled, limit: func(int) int { return 0xff }},
		{arch: "x86_64", chip: cfgX2APICPhys, sizes: xsizes},
		{arch: "x86_64", chip: cfgX2APICPhys, sizes: xsizes, scheme: idShuffled, limit: func(n int) int { return 4*n + 64 }},
		{arch: "x86_64", chip: cfgX2APICPhys, sizes: xsizes, scheme: idSparse, stride: 1000003},
		{arch: "x86_64", chip: cfgX2APICClus, sizes: xsizes},
		{arch: "x86_64", chip: cfgX2APICClus, sizes: xsizes, scheme: idShuffled, limit: func(n int) int { return 2*n + 40 }},
		{arch: "x86_64", chip: cfgX2APICClus, sizes: xsizes, scheme: idSparse, stride: 3001},
		{arch: "arm64", chip: cfgGICv3, sizes: xsizes},
		{arch: "arm64", chip: withClusterSize(cfgGICv3, 1), sizes: xsizes},
		{arch: "arm64", chip: withClusterSize(cfgGICv3, 4), sizes: xsizes},
		{arch: "arm64", chip: withClusterSize(cfgGICv3, 32), sizes: xsizes},
		{arch: "arm64", chip: withClusterSize(cfgGICv3, 256), sizes: xsizes},
	}
	for ci, cfg := range configs {
		for _, n := range cfg.sizes {
			name := fmt.Sprintf("%s/ids%d/cs%d/%dcpus", cfg.chip.Kind+"-"+cfg.chip.Mode, cfg.scheme, cfg.chip.ClusterSize, n)
			t.Run(name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(ci), uint64(n)))
				chip := cfg.chip
				limit := 0
				if cfg.limit != nil {
					limit = cfg.limit(n)
				}
				chip.APICIDs = makeIDs(rng, cfg.scheme, n, limit, cfg.stride)
				c := mustNew(t, cfg.arch, chip, n)
				for trial := 0; trial < 150; trial++ {
					roundTrip(t, rng, c, n)
					if t.Failed() {
						t.Fatalf("APIC IDs %v", chip.APICIDs)
					}
				}
			})
		}
	}
}

// roundTrip runs one random trial on c.
func roundTrip(t *testing.T, rng *rand.Rand, c Chip, n int) {
	t.Helper()
	online := allOnline(n)
	if rng.IntN(3) > 0 {
		for cpu := range online {
			online[cpu] = rng.IntN(4) > 0
		}
	}
	self := rng.IntN(n)
	online[self] = true

	var targets []int
	switch rng.IntN(4) {
	case 0: // every other online CPU: the shorthand case on x86
		for cpu := range n {
			if cpu != self && online[cpu] {
				targets = append(targets, cpu)
			}
		}
	case 1: // a random subset, offline CPUs included
		p := rng.Float64()
		for cpu := range n {
			if cpu != self && rng.Float64() < p {
				targets = append(targets, cpu)
			}
		}
	case 2: // every online CPU, self included (ALLINC on x86)
		for cpu := range n {
			if online[cpu] {
				targets = append(targets, cpu)
			}
		}
	case 3: // one CPU
		targets = []int{rng.IntN(n)}
	}

	for ipi := CallFunctionSingle; ipi <= Backtrace; ipi++ {
		writes := c.EncodeMask(self, targets, ipi, online.fn(), online.count())
		checkDelivery(t, c, self, writes, online, ipi, targets, "mask")
		if len(targets) > 0 {
			cpu := targets[rng.IntN(len(targets))]
			writes := c.EncodeSingle(self, cpu, ipi)
			checkDelivery(t, c, self, writes, online, ipi, []int{cpu}, "single")
		}
	}
}

func checkDelivery(t *testing.T, c Chip, self int, writes []Write, online onlineSet, ipi IPI, targets []int, kind string) {
	t.Helper()
	want := VectorOf(c, ipi)
	got := make([]int, len(online))
	for _, w := range writes {
		cpus, vector := c.Decode(self, w, online.fn())
		if w.Reg == RegICR2 {
			if len(cpus) != 0 || vector != -1 {
				t.Errorf("%s %v: ICR2 write delivered %v vector %d", kind, ipi, cpus, vector)
			}
			continue
		}
		if vector != want {
			t.Errorf("%s %v from CPU%d: %s carries vector %#x, want %#x", kind, ipi, self, fmtWrites([]Write{w}), vector, want)
		}
		for i, cpu := range cpus {
			if i > 0 && cpus[i-1] >= cpu {
				t.Errorf("%s %v: destinations %v not ascending", kind, ipi, cpus)
			}
			got[cpu]++
		}
	}
	wantCount := make([]int, len(online))
	for _, cpu := range targets {
		wantCount[cpu] = 1
	}
	for cpu := range got {
		if got[cpu] != wantCount[cpu] {
			t.Errorf("%s %v from CPU%d to %v: CPU%d received %d times, want %d (writes %s)",
				kind, ipi, self, targets, cpu, got[cpu], wantCount[cpu], fmtWrites(writes))
			return
		}
	}
}

// TestEncodeMaskCost checks that encoding a mask looks at the targets only,
// never at every CPU of the machine.
func TestEncodeMaskCost(t *testing.T) {
	const n = 8192
	for _, tt := range []struct {
		arch string
		chip machines.IRQChip
	}{
		{"x86_64", cfgX2APICPhys}, {"x86_64", cfgX2APICClus}, {"arm64", cfgGICv3},
	} {
		c := mustNew(t, tt.arch, tt.chip, n)
		calls := 0
		online := func(int) bool { calls++; return true }
		targets := []int{5, 17, 4000, 8191}
		for ipi := CallFunctionSingle; ipi <= Backtrace; ipi++ {
			calls = 0
			c.EncodeMask(0, targets, ipi, online, n)
			if calls > len(targets)+1 {
				t.Errorf("%s %v: online called %d times for %d targets", c.Name(), ipi, calls, len(targets))
			}
		}
	}
}

// TestAppendNoAlloc checks that the Append forms allocate nothing once the
// caller's buffers are big enough.
func TestAppendNoAlloc(t *testing.T) {
	const n = 8192
	targets := make([]int, 0, n)
	for cpu := 1; cpu < n; cpu += 3 {
		targets = append(targets, cpu)
	}
	on := allOnline(n)
	online := on.fn()
	for _, tt := range []struct {
		arch string
		chip machines.IRQChip
		n    int
	}{
		{"x86_64", cfgXAPICPhys, 200}, {"x86_64", cfgX2APICPhys, n}, {"x86_64", cfgX2APICClus, n},
		{"x86_64", withIDs(cfgX2APICClus, makeIDs(rand.New(rand.NewPCG(1, 2)), idSparse, n, 0, 97)...), n}, {"arm64", cfgGICv3, n},
	} {
		c := mustNew(t, tt.arch, tt.chip, tt.n).(Appender)
		tg := targets
		for len(tg) > 0 && tg[len(tg)-1] >= tt.n {
			tg = tg[:len(tg)-1]
		}
		writes := make([]Write, 0, 2*n)
		cpus := make([]int, 0, n)
		allocs := testing.AllocsPerRun(20, func() {
			writes = c.AppendMask(writes[:0], 0, tg, CallFunction, online, tt.n)
			for _, w := range writes {
				cpus, _ = c.AppendDecode(cpus[:0], 0, w, online)
			}
			writes = c.AppendSingle(writes[:0], 0, tt.n-1, CallFunctionSingle)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per send", c.(Chip).Name(), allocs)
		}
	}
}

func BenchmarkEncodeDecodeMask(b *testing.B) {
	const n = 8192
	for _, tt := range []struct {
		arch string
		chip machines.IRQChip
	}{
		{"x86_64", cfgX2APICPhys}, {"x86_64", cfgX2APICClus}, {"arm64", cfgGICv3},
	} {
		c := mustNew(b, tt.arch, tt.chip, n).(Appender)
		on := allOnline(n)
		online := on.fn()
		targets := seq(1, n-2) // not all-but-self: no shorthand
		writes := make([]Write, 0, 2*n)
		cpus := make([]int, 0, n)
		b.Run(tt.chip.Kind+"-"+tt.chip.Mode, func(b *testing.B) {
			for b.Loop() {
				writes = c.AppendMask(writes[:0], 0, targets, CallFunction, online, n)
				for _, w := range writes {
					cpus, _ = c.AppendDecode(cpus[:0], 0, w, online)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(targets)), "ns/target")
		})
	}
}
