package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/child"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/explore"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/files"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/report"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/session"
	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/luabind"
)

// exploreFlags are the flags of `xcallsh explore`.
type exploreFlags struct {
	machine  string
	memModel string // --memory
	runs     int
	jobs     int
	strategy string
	depth    int
	out      string
	shard    string
	jsonl    bool
	first    uint64
	shrink   int
	timeout  time.Duration
	memLimit uint64
}

// The ranges of explore's numeric flags.
const (
	// maxRuns: at some tenths of a millisecond a run, a billion runs is days
	// of a core, more than any search is worth; and seeds stay far from
	// overflowing.
	maxRuns = 1_000_000_000
	// maxJobs: each job is a worker process that may use up to the memory
	// limit.
	maxJobs = 256
	// maxDepth: PCT finds a bug of depth d with probability about
	// 1/(n*k^(d-1)); past a few tens it is no longer a search.
	maxDepth = 100
	// maxShrink: runs per shrink; ddmin needs far fewer.
	maxShrink = 1_000_000
	// maxShards: shards of the seed space.
	maxShards = 1_000_000
)

// exploreFlagSet is explore's flags, with their defaults, writing into f.
func exploreFlagSet(f *exploreFlags, stderr io.Writer) *flag.FlagSet {
	*f = exploreFlags{runs: 1000, jobs: min(runtime.NumCPU(), maxJobs), strategy: "random", depth: 3, shrink: 500, timeout: time.Minute}
	fs := newFlagSet("explore", stderr)
	machineFlags(fs, &f.machine)
	fs.IntVar(&f.runs, "runs", f.runs, "`N` schedules to try (in this shard)")
	fs.IntVar(&f.jobs, "j", f.jobs, "`N` runs in parallel (default: the host's cores)")
	fs.StringVar(&f.strategy, "strategy", f.strategy, "schedule strategy: `random|pct`")
	fs.IntVar(&f.depth, "depth", f.depth, "PCT bug depth `D`")
	fs.StringVar(&f.out, "out", "", "write one shrunk report per distinct failure into `DIR`")
	fs.StringVar(&f.shard, "shard", "0/1", "this shard of the seed space: `I/N`, 0 <= I < N")
	fs.BoolVar(&f.jsonl, "json", false, "print JSON lines (one per failure, one summary) instead of text")
	f.first = 1
	var firstSet bool
	fs.Var(seedFlag{&f.first, &firstSet}, "first-seed", "the first seed `N`")
	fs.IntVar(&f.shrink, "shrink", f.shrink, "`N` runs allowed to shrink each failure (0: do not shrink)")
	fs.Var(timeoutFlag{&f.timeout}, "timeout", "host-time limit per run, a duration `D` (0: none)")
	f.memLimit = luabind.DefaultMemoryLimit
	fs.Var(memoryFlag{&f.memLimit}, "memory-limit", "memory limit of each run's process, a `SIZE` (0: none)")
	fs.Var(memModelFlag{&f.memModel}, "memory", "memory model `sc|native`, overriding the machine's [memory] model (docs/memory.md)")
	return fs
}

func cmdExplore(args []string, stdout, stderr io.Writer) int {
	var f exploreFlags
	fs := exploreFlagSet(&f, stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitBadArgs
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "xcallsh explore: "+format+"\n", a...)
		return exitBadArgs
	}
	if len(pos) != 1 {
		return bad("want one script or scenario name, got %d", len(pos))
	}
	for _, r := range []struct {
		flag      string
		v, lo, hi int
	}{{"--runs", f.runs, 1, maxRuns}, {"-j", f.jobs, 1, maxJobs}, {"--depth", f.depth, 1, maxDepth}, {"--shrink", f.shrink, 0, maxShrink}} {
		if r.v < r.lo || r.v > r.hi {
			return bad("%s %d is out of range %d-%d", r.flag, r.v, r.lo, r.hi)
		}
	}
	if f.depth > emu.MaxDepth {
		return bad("--depth %d is out of range 1-%d", f.depth, emu.MaxDepth)
	}
	if f.strategy != "random" && f.strategy != "pct" {
		return bad("unknown strategy %q (random or pct)", f.strategy)
	}
	shard, shards, err := parseShard(f.shard)
	if err != nil {
		return bad("%v", err)
	}
	if first := max(f.first, 1); first+uint64(shard) < first || (math.MaxUint64-first-uint64(shard))/uint64(shards) < uint64(f.runs-1) {
		return bad("--first-seed %d: the last seed of the shard (first seed + I + (runs-1)*N) passes the largest, %d", f.first, uint64(math.MaxUint64))
	}
	name, src, err := loadScript(pos[0])
	if err != nil {
		return bad("%v", err)
	}
	if report.IsReport(src) {
		return bad("%s is a report: replay it with xcallsh run", name)
	}
	// A machine that does not load is a bad invocation, not a failure.
	if f.machine != "" {
		probe, err := luabind.New(luabind.Options{Machine: f.machine})
		if err != nil {
			return bad("%v", err)
		}
		probe.Close()
	}
	// The output directory, once every input is known to be good.
	if f.out != "" {
		if err := os.MkdirAll(f.out, 0o755); err != nil {
			return bad("--out: %v", err)
		}
	}
	memLimit := f.memLimit
	if memLimit == 0 {
		memLimit = session.NoMemoryLimit
	}
	sc := explore.Scenario{Name: name, Source: src, Machine: f.machine, MachineForced: f.machine != "", Timeout: f.timeout,
		MemoryLimit: memLimit, Memory: f.memModel}
	opts := explore.Options{Runs: f.runs, Jobs: f.jobs, Strategy: f.strategy, Depth: f.depth,
		Shard: shard, Shards: shards, FirstSeed: f.first, Shrink: f.shrink, Workers: true}
	// The first worker that dies of a Go fatal error leaves its whole
	// output in a crash file; the terminal gets one line.
	var crashOnce sync.Once
	opts.Crashed = func(ex child.Exit) {
		crashOnce.Do(func() {
			path := writeCrash(ex.FatalLine(), append([]string{"explore"}, args...), string(ex.Runtime))
			fmt.Fprintf(stderr, "xcallsh explore: a worker process died: %s (a bug in xcallsh or a host limit). %s\n", ex.FatalLine(), path)
		})
	}

	tty := !f.jsonl && isTerminal(stderr)
	start := time.Now() // host time, for runs/s only
	progress := func(done, failed int, r explore.Result) {
		switch {
		case tty:
			rate := float64(done) / max(time.Since(start).Seconds(), 1e-9)
			fmt.Fprintf(stderr, "\r%s %d/%d runs, %d failed, %.0f runs/s ", bar(done, f.runs, 30), done, f.runs, failed, rate)
		case r.Failed && !f.jsonl:
			fmt.Fprintf(stderr, "seed %d: %s: %s\n", r.Schedule.Seed, r.Kind, firstLine(r.Message))
		}
	}
	fails := explore.Search(sc, opts, progress)
	if tty {
		fmt.Fprintln(stderr)
	}
	enc := json.NewEncoder(stdout)
	status := exitOK
	for i, fl := range fails {
		status = exitFailed
		if fl.Others {
			if f.jsonl {
				enc.Encode(map[string]any{"shard": f.shard, "others": true, "count": fl.Count, "seed": fl.First.Schedule.Seed,
					"kind": fl.First.Kind, "message": fl.First.Message})
				continue
			}
			fmt.Fprintf(stdout, "and %d more failed runs, of more distinct failures than the limit of %d; the first, seed %d: %s\n",
				fl.Count, explore.MaxDistinct, fl.First.Schedule.Seed, firstLine(fl.First.Kind+": "+fl.First.Message))
			continue
		}
		path := ""
		if f.out != "" && fl.First.Kind != "limit" {
			// The shrunk schedule completed in a worker, within the limits;
			// a run repeats itself exactly, so running it again here to
			// record its trace stays within them too.
			path = filepath.Join(f.out, fmt.Sprintf("%s-%d-seed%d.lua", stem(name), i+1, fl.First.Schedule.Seed))
			if err := writeExploreReport(path, sc, fl); err != nil {
				fmt.Fprintf(stderr, "xcallsh explore: writing %s: %v\n", path, err)
				path = ""
			}
		}
		if f.jsonl {
			enc.Encode(map[string]any{
				"shard": f.shard, "signature": fl.Signature, "kind": fl.First.Kind, "message": fl.First.Message,
				"seed": fl.First.Schedule.Seed, "count": fl.Count, "decisions": explore.FormatDecisions(fl.Shrunk.Schedule.Replay),
				"decisions_before_shrinking": len(fl.First.Decisions), "report": path,
			})
			continue
		}
		if fl.First.Kind == "limit" {
			fmt.Fprintf(stdout, "failure %d: %s\n  %d of %d runs, first seed %d; not shrunk (a limit)\n",
				i+1, firstLine(fl.First.Kind+": "+fl.First.Message), fl.Count, f.runs, fl.First.Schedule.Seed)
		} else {
			fmt.Fprintf(stdout, "failure %d: %s\n  %d of %d runs, first seed %d; shrunk from %d to %d scheduling decisions\n",
				i+1, firstLine(fl.First.Kind+": "+fl.First.Message), fl.Count, f.runs, fl.First.Schedule.Seed,
				len(fl.First.Decisions), len(fl.Shrunk.Schedule.Replay))
		}
		if path != "" {
			fmt.Fprintf(stdout, "  report: %s (replay: xcallsh run %s)\n", path, path)
		} else if f.out != "" && fl.First.Kind == "limit" {
			fmt.Fprintf(stdout, "  no report: whether a run passes a limit depends on the host, not on the schedule\n")
		}
	}
	total, distinct := 0, len(fails)
	for _, fl := range fails {
		total += fl.Count
		if fl.Others {
			distinct-- // at least one more; how many is not known
		}
	}
	if f.jsonl {
		enc.Encode(map[string]any{"shard": f.shard, "summary": true, "runs": f.runs, "failed": total, "distinct": distinct,
			"strategy": f.strategy, "first_seed": f.first})
	} else {
		more := ""
		if distinct < len(fails) {
			more = " and more"
		}
		fmt.Fprintf(stdout, "%d runs (%s, shard %s), %d failed, %d distinct failures%s\n", f.runs, f.strategy, f.shard, total, distinct, more)
	}
	return status
}

// parseShard reads "I/N".
func parseShard(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || n > maxShards || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("bad --shard %q (want I/N with 0 <= I < N <= %d)", s, maxShards)
	}
	return i, n, nil
}

func bar(done, total, width int) string {
	n := done * width / max(total, 1)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func stem(name string) string {
	return strings.TrimSuffix(filepath.Base(name), ".lua")
}

// writeExploreReport runs the shrunk schedule once more, recording its
// trace, and writes the report that replays it.
func writeExploreReport(path string, sc explore.Scenario, fl explore.Failure) error {
	sched := fl.Shrunk.Schedule
	rec := session.NewRecorder()
	rec.Log.Keep = true
	rec.OnBoot = withMemory(sc.Memory, nil)
	st, _ := emu.ParseStrategy(sched.Strategy) // checked with the flags
	cfg := emu.SchedConfig{Strategy: st, Depth: sched.Depth, Replay: sched.Replay}
	if cfg.Replay == nil {
		cfg.Replay = []emu.Decision{}
	}
	sess, err := session.New(sc.Machine, sc.MachineForced, sched.Seed, cfg, sc.Timeout, io.Discard, rec)
	if err != nil {
		return err
	}
	defer sess.Close()
	_, execErr := sess.Exec(sc.Name, sc.Source)
	h := &report.Header{Seed: sched.Seed, Machine: sess.Spec().Name, Outcome: session.Outcome(sess, execErr),
		Hash: rec.Log.Hash(), Sums: rec.Log.Sums(), Strategy: sched.Strategy, Depth: sched.Depth, Decisions: cfg.Replay}
	madeBy := fmt.Sprintf("`xcallsh explore %s`: %s (seed %d, shrunk to %d scheduling decisions)",
		sc.Name, firstLine(fl.Signature), fl.First.Schedule.Seed, len(cfg.Replay))
	spec, forced := reportMachine(sess.Spec(), sc.Memory, sc.MachineForced)
	b := &report.Body{MadeBy: madeBy, Spec: spec, Forced: forced, Scenario: report.ScriptScenario(sc.Name, sc.Source)}
	return files.Write(path, func(w io.Writer) error { return report.Write(w, h, b) })
}
