package shell

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

// BenchmarkBack measures going back on a long run: a script of N cross
// calls (about 18 events each), then `back 1` and `goto` to the middle of
// the run, each timed. N is 5000 (90k events), or XCALLSH_BACK_CALLS:
//
//	XCALLSH_BACK_CALLS=50000 go test ./cmd/xcallsh/internal/shell -run '^$' -bench Back -benchtime 1x
//
// is the run of about a million events docs/shell.md gives the figures of.
func BenchmarkBack(b *testing.B) {
	calls := 5000
	if v, err := strconv.Atoi(os.Getenv("XCALLSH_BACK_CALLS")); err == nil && v > 0 {
		calls = v
	}
	var out discard
	sh, err := New("x86-4", true, 0, &out, &out)
	if err != nil {
		b.Fatal(err)
	}
	defer sh.Close()
	dir := b.TempDir()
	script := dir + "/big.lua"
	src := fmt.Sprintf("spawn(0, function() for i = 1, %d do smp_call_function_single(1, function() end, nil, 1) end end)\n", calls)
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, l := range []string{"source " + script, "run 2s"} {
		if err := sh.Exec(l); err != nil {
			b.Fatal(err)
		}
	}
	end := sh.sess.K.M.Recorded()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := sh.Exec("back 1"); err != nil {
			b.Fatal(err)
		}
		if err := sh.Exec(fmt.Sprintf("goto #%d", end/2)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := sh.Exec(fmt.Sprintf("goto #%d", end)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(end), "events")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(2*b.N), "ms/move")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
