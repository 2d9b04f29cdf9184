package xcall_test

import (
	"fmt"
	"testing"

	"github.com/xcallsh/xcallsh/internal/bench"
	"github.com/xcallsh/xcallsh/machines"
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

// BenchmarkNoCost is the single call and the 64-CPU broadcast with every
// timed step free (no virtual time spent, so no event to end it): the
// floor of docs/performance.md#what-is-not-there-yet-and-why.
func BenchmarkNoCost(b *testing.B) {
	b.Run("CallSingleSync", func(b *testing.B) { run(b, bench.CallSingleSyncNoCost) })
	b.Run("Broadcast/cpus=64", func(b *testing.B) { run(b, bench.BroadcastNoCost(64)) })
}

// BenchmarkMemory is the single call and the 64-CPU broadcast under sc and
// native, at seed 0 (native draws nothing) and seed 1 (queueing stores and
// unlocks delayed, the queueing drained by the barrier before the IPI), and
// the 512-CPU broadcast at seed 1, for the ratios of
// docs/memory.md#the-measured-goals.
func BenchmarkMemory(b *testing.B) {
	for _, seed := range []uint64{0, 1} {
		for _, mem := range []string{machines.MemorySC, machines.MemoryNative} {
			name := fmt.Sprintf("%s/seed=%d", mem, seed)
			b.Run("CallSingleSync/"+name, func(b *testing.B) { run(b, bench.CallSingleSyncMem(mem, seed)) })
			b.Run("Broadcast/cpus=64/"+name, func(b *testing.B) { run(b, bench.BroadcastMem(64, mem, seed)) })
			if seed == 1 { // the store buffer's bookkeeping grows with the targets
				b.Run("Broadcast/cpus=512/"+name, func(b *testing.B) { run(b, bench.BroadcastMem(512, mem, seed)) })
			}
		}
	}
}

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
