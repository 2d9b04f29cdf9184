package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/xcallsh/xcallsh/internal/bench"
)

// benchRow is one line of `xcallsh bench`: a benchmark and its goal.
type benchRow struct {
	name string
	fn   bench.Body
	// show renders the result against the goal of docs/performance.md.
	show func(r bench.Result, chanRT float64) string
}

// benchFlagSet is bench's flags, with their defaults, writing into d and
// count.
func benchFlagSet(d *time.Duration, count *int, stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet("bench", stderr)
	*d = 100 * time.Millisecond
	*count = 3
	fs.Var(durationFlag{d}, "benchtime", "time to spend on each run of a benchmark")
	fs.IntVar(count, "count", *count, "runs of each benchmark; the fastest is shown")
	return fs
}

func cmdBench(args []string, stdout, stderr io.Writer) int {
	var d time.Duration
	var count int
	fs := benchFlagSet(&d, &count, stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitBadArgs
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "xcallsh bench: unexpected argument %q\n", pos[0])
		return exitBadArgs
	}
	// --count: each run of every benchmark takes --benchtime or more, so a
	// hundred is minutes already; --benchtime likewise.
	if count < 1 || count > 100 {
		fmt.Fprintf(stderr, "xcallsh bench: --count %d is out of range 1-100\n", count)
		return exitBadArgs
	}
	if d <= 0 || d > time.Minute {
		fmt.Fprintf(stderr, "xcallsh bench: --benchtime %v is out of range 1ns to 1m0s\n", d)
		return exitBadArgs
	}

	rows := []benchRow{
		{"CallSingleSync", bench.CallSingleSync, func(r bench.Result, rt float64) string {
			return fmt.Sprintf("<= 250 ns and <= 1 channel RT: %.2f RT", r.NsPerOp()/rt)
		}},
		{"LuaCallSingleSync", bench.LuaCallSingleSync, func(r bench.Result, rt float64) string {
			return fmt.Sprintf("<= 3 channel RT: %.2f RT", r.NsPerOp()/rt)
		}},
		{"LuaCallSingleSyncWork", bench.LuaCallSingleSyncWork, func(r bench.Result, rt float64) string {
			return fmt.Sprintf("(a callback that calls a binding): %.2f RT", r.NsPerOp()/rt)
		}},
	}
	var perTarget64 float64
	for _, n := range bench.BroadcastSizes {
		rows = append(rows, benchRow{fmt.Sprintf("Broadcast/cpus=%d", n), bench.Broadcast(n), func(r bench.Result, _ float64) string {
			pt := r.NsPerOp() / float64(n-1)
			if n == bench.BroadcastSizes[0] {
				perTarget64 = pt
				return fmt.Sprintf("<= 60 ns/target: %.0f ns/target", pt)
			}
			return fmt.Sprintf("<= 60 ns/target, <= 1.3x cpus=64: %.0f ns/target, %.2fx", pt, pt/perTarget64)
		}})
	}
	rows = append(rows, benchRow{"Stall", bench.Stall, func(r bench.Result, _ float64) string {
		return fmt.Sprintf("<= 20 us: %.1f us", r.NsPerOp()/1e3)
	}})
	for _, n := range bench.BootSizes {
		rows = append(rows, benchRow{fmt.Sprintf("Boot/cpus=%d", n), bench.Boot(n), func(r bench.Result, _ float64) string {
			if n != 8192 {
				return ""
			}
			return fmt.Sprintf("< 5 ms and < 16 MiB: %.2f ms, %.1f MiB", r.NsPerOp()/1e6, float64(r.BytesPerOp())/(1<<20))
		}})
	}
	rows = append(rows, benchRow{"Torture", bench.Torture, func(r bench.Result, _ float64) string {
		return fmt.Sprintf(">= 3M handler invocations per host second: %.2fM", 1e3/r.NsPerOp())
	}})
	rows = append(rows, benchRow{"ExploreRun", bench.ExploreRun, func(r bench.Result, rt float64) string {
		return fmt.Sprintf("<= 40 us and <= 150 channel RT: %.1f us, %.0f RT", r.NsPerOp()/1e3, r.NsPerOp()/rt)
	}})
	// Host noise only ever adds time, so the fastest of a few runs is the
	// steadiest estimate of what the code costs; the channel round trip
	// the ratios divide by is measured the same way. The runs go in
	// rounds, every benchmark once a round, so that a noisy second slows
	// one run of a few benchmarks, not every run of one.
	fns := []bench.Body{bench.ChannelRoundTrip}
	for _, row := range rows {
		fns = append(fns, row.fn)
	}
	best := make([]bench.Result, len(fns))
	failed := make([]bool, len(fns))
	for i := 0; i < count; i++ {
		for j, fn := range fns {
			if failed[j] {
				continue
			}
			r, err := bench.Measure(fn, d)
			if err != nil {
				failed[j] = true
				continue
			}
			if best[j].N == 0 || r.NsPerOp() < best[j].NsPerOp() {
				best[j] = r
			}
		}
	}
	chanRT := best[0].NsPerOp()
	fmt.Fprintf(stdout, "xcallsh bench: %s/%s, %d CPUs, Go %s; fastest of %d runs of %s each, in rounds; channel round trip %.0f ns\n\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), count, d, chanRT)
	fmt.Fprintf(stdout, "%-28s %14s %12s   %s\n", "benchmark", "host time", "allocs/op", "goal")
	for j, row := range rows {
		r := best[j+1]
		if failed[j+1] {
			fmt.Fprintf(stdout, "%-28s %14s\n", row.name, "failed")
			continue
		}
		fmt.Fprintf(stdout, "%-28s %11.0f ns %12d   %s\n", row.name, r.NsPerOp(), r.AllocsPerOp(), row.show(r, chanRT))
	}
	return exitOK
}
