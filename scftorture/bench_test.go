package scftorture_test

import (
	"testing"

	"github.com/xcallsh/xcallsh/internal/bench"
)

// BenchmarkTorture: one op = one scftorture handler invocation on x86-4
// with the default mix (the body is bench.Torture, which `xcallsh bench`
// runs too).
func BenchmarkTorture(b *testing.B) {
	b.ReportAllocs()
	if err := bench.Torture(b.N, b); err != nil {
		b.Fatal(err)
	}
}
