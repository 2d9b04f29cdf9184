package luabind_test

import (
	"testing"

	"github.com/xcallsh/xcallsh/internal/bench"
)

// BenchmarkLuaCallSingleSync of docs/performance.md; the body is in
// internal/bench so that `xcallsh bench` runs the same code.
func BenchmarkLuaCallSingleSync(b *testing.B) {
	b.ReportAllocs()
	if err := bench.LuaCallSingleSync(b.N, b); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLuaCallSingleSyncWork: the same with a callback that calls a
// binding, as most scripts' callbacks do.
func BenchmarkLuaCallSingleSyncWork(b *testing.B) {
	b.ReportAllocs()
	if err := bench.LuaCallSingleSyncWork(b.N, b); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSessionNew and BenchmarkExploreRun of docs/performance.md: a
// session's setup, and one explore run of scripts/hello.lua. The channel
// round trip is measured beside them, for the ratios.
func BenchmarkSessionNew(b *testing.B) {
	b.ReportAllocs()
	if err := bench.SessionNew(b.N, b); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkExploreRun(b *testing.B) {
	b.ReportAllocs()
	if err := bench.ExploreRun(b.N, b); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkExploreChannelRoundTrip(b *testing.B) {
	if err := bench.ChannelRoundTrip(b.N, b); err != nil {
		b.Fatal(err)
	}
}
