package xcall

import "testing"

// The benchmarks of docs/performance.md, by name; the bodies are in perf.go so that
// `xcallsh bench` runs the same code.

func BenchmarkCallSingleSync(b *testing.B) { PerfCallSingleSync(b) }

func BenchmarkBroadcast(b *testing.B) {
	for _, n := range BroadcastSizes {
		b.Run(sizeName(n), PerfBroadcast(n))
	}
}

func BenchmarkStall(b *testing.B) { PerfStall(b) }

func BenchmarkBoot(b *testing.B) {
	for _, n := range BootSizes {
		b.Run(sizeName(n), PerfBoot(n))
	}
}

func BenchmarkChannelRoundTrip(b *testing.B) { PerfChannelRoundTrip(b) }
