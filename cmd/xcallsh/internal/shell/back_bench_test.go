package shell

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkBack measures going back on a long run: a script of N cross
// calls (about 20 events each), then `back 1` and `goto` to the middle of
// the run, each timed. N is 5000 (100k events), or XCALLSH_BACK_CALLS:
//
//	XCALLSH_BACK_CALLS=50000 go test ./cmd/xcallsh/internal/shell -run '^$' -bench Back -benchtime 1x
//
// is the run of about a million events docs/shell.md gives the figures of.
// Before each move the shell is given the time to build its checkpoints
// (checkpoint.go) and the garbage collector to run, as between two
// commands a person types; the moves themselves are timed, in wall time
// (ms/move) and in the process's CPU time (cpu-ms/move, steadier on a
// shared host), without the building the move sets off when it is done.
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
	var wall, cpu time.Duration
	move := func(line string) {
		// As a person types the next command later: the checkpoints are
		// built and the garbage of the last move is collected.
		sh.waitCheckpoints()
		runtime.GC()
		c0, t0 := cpuTime(), time.Now()
		b.StartTimer()
		err := sh.execLine(line) // Exec, but for the builder it starts at the end
		b.StopTimer()
		wall += time.Since(t0)
		cpu += cpuTime() - c0
		if err != nil {
			b.Fatal(err)
		}
		sh.scheduleCheckpoints()
	}
	b.StopTimer()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		move("back 1")
		move(fmt.Sprintf("goto #%d", end/2))
		if err := sh.Exec(fmt.Sprintf("goto #%d", end)); err != nil { // untimed
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(end), "events")
	b.ReportMetric(float64(wall.Milliseconds())/float64(2*b.N), "ms/move")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(2*b.N), "cpu-ms/move")
	b.ReportMetric(float64(sh.parkedCount()), "checkpoints")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
