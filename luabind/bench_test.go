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
