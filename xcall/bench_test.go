package xcall_test

import (
	"testing"

	"github.com/xcallsh/xcallsh/internal/bench"
)

// The benchmarks of docs/performance.md, by name; the bodies are in
// internal/bench so that `xcallsh bench` runs the same code.

// run runs body under b, counting allocations.
func run(b *testing.B, body bench.Body) {
	b.ReportAllocs()
	if err := body(b.N, b); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkCallSingleSync(b *testing.B) { run(b, bench.CallSingleSync) }

func BenchmarkBroadcast(b *testing.B) {
	for _, n := range bench.BroadcastSizes {
		b.Run(bench.SizeName(n), func(b *testing.B) { run(b, bench.Broadcast(n)) })
	}
}

func BenchmarkStall(b *testing.B) { run(b, bench.Stall) }

func BenchmarkBoot(b *testing.B) {
	for _, n := range bench.BootSizes {
		b.Run(bench.SizeName(n), func(b *testing.B) { run(b, bench.Boot(n)) })
	}
}

// BenchmarkChannelRoundTrip is the yardstick the ratios of `xcallsh bench`
// divide by (no allocations to count).
func BenchmarkChannelRoundTrip(b *testing.B) {
	if err := bench.ChannelRoundTrip(b.N, b); err != nil {
		b.Fatal(err)
	}
}
