// Package explore runs one scenario under many schedules, judges each run
// (the script's assertions, emulated panics, stuck machines, the invariant
// validator), and shrinks a failing run's scheduling decisions to the
// fewest that still fail (delta debugging, Zeller and Hildebrandt 2002).
package explore

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/child"
	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/luabind"
	"github.com/xcallsh/xcallsh/xcall"
)

// Scenario is what every run executes.
type Scenario struct {
	Name, Source  string // chunk name and Lua source
	Machine       string // -m, or "" for the script's own / the default
	MachineForced bool
	Timeout       time.Duration // host time per run (0: none)
	MemoryLimit   uint64        // bytes (0: luabind's default)
	// Memory is --memory: "sc" or "native" overrides the machine's
	// [memory] model; "" keeps it.
	Memory string

	compiled *lua.FunctionProto // Source, compiled once by Search
}

// Schedule says how one run makes its scheduling decisions.
type Schedule struct {
	Seed     uint64
	Strategy string // "random" or "pct"
	Depth    int
	Replay   []emu.Decision // non-nil: replay these (shrinking, reports)
	// Record keeps the run's non-canonical decisions in Result.Decisions.
	// A search records only the first run of each distinct failure, again:
	// a run repeats itself exactly, and a thousand runs' lists would not
	// fit in memory.
	Record bool
}

// Result is the judgement of one run.
type Result struct {
	Schedule  Schedule
	Failed    bool
	Kind      string // "error", "panic", "stuck", "validator", "limit"
	Message   string
	Decisions []emu.Decision // the non-canonical decisions the run made (Schedule.Record)
	Events    uint64
}

// Signature identifies a failure across schedules: its kind and message
// with numbers (times, csd ids, CPU numbers in values) blurred, but the
// script location kept (except for a host limit's). It reads only the verdict Run judged (Kind and
// Message: the script's error, the kernel's panic line, the stuck
// machine's wait-for description, the validator's first violation), never
// a trace: how events are printed (ftrace text, Perfetto) does not change
// which failures a search tells apart.
func (r Result) Signature() string {
	loc, rest := "", r.Message
	if m := locRE.FindStringIndex(rest); m != nil && m[0] == 0 {
		loc, rest = rest[:m[1]], rest[m[1]:]
	}
	if r.Kind == "limit" {
		// Where a host limit stops a run depends on the host (and on
		// which check saw it first: the in-process one names a line,
		// the process backstop cannot), so one limit is one failure.
		loc, rest = "", strings.TrimLeft(rest, " ")
	}
	return r.Kind + ": " + loc + digitsRE.ReplaceAllString(rest, "N")
}

var (
	locRE    = regexp.MustCompile(`^[^:\s]+\.lua:\d+:`)
	digitsRE = regexp.MustCompile(`\d+`)
)

// Run executes the scenario once under sched and judges it. A Go panic in
// the emulator (a bug in xcallsh) is a failure of kind "internal".
func Run(sc Scenario, sched Schedule) (res Result) {
	res = Result{Schedule: sched}
	defer func() {
		if r := recover(); r != nil {
			res.Failed, res.Kind, res.Message = true, "internal", fmt.Sprintf("internal error (a bug in xcallsh): %v", r)
		}
	}()
	var v *xcall.Validator
	st, _ := emu.ParseStrategy(sched.Strategy) // the command checks the name
	cfg := emu.SchedConfig{Strategy: st, Depth: sched.Depth, Replay: sched.Replay, Record: sched.Record}
	sess, err := luabind.New(luabind.Options{
		Machine: sc.Machine, MachineForced: sc.MachineForced, Seed: sched.Seed,
		Sched: cfg, Timeout: sc.Timeout, MemoryLimit: sc.MemoryLimit, Stdout: io.Discard, Recycle: true,
		Setup: func(k *xcall.Kernel) {
			if sc.Memory != "" {
				k.SetMemory(sc.Memory) // checked by the command
			}
			v = xcall.NewValidator()
			k.Events = append(k.Events, v)
		},
	})
	if err != nil {
		res.Failed, res.Kind, res.Message = true, "error", err.Error()
		return res
	}
	defer sess.Close()
	if sc.compiled == nil {
		_, err = sess.Exec(sc.Name, sc.Source)
	} else {
		_, err = sess.ExecCompiled(sc.compiled)
	}
	defer func() {
		if n := len(res.Message); n > maxMessage {
			res.Message = fmt.Sprintf("%s... (%d bytes more)", strings.ToValidUTF8(res.Message[:maxMessage], ""), n-maxMessage)
		}
	}()
	k := sess.K
	res.Decisions = k.M.Decisions()
	res.Events = k.M.Executed()
	switch {
	case err != nil:
		res.Failed, res.Kind, res.Message = true, "error", err.Error()
		if rest := strings.TrimSpace(res.Message[len(locRE.FindString(res.Message)):]); strings.HasPrefix(rest, "stopped:") {
			res.Kind = "limit"
		}
	case k.Panicked() != "":
		res.Failed, res.Kind, res.Message = true, "panic", k.Panicked()
	case k.Stuck() != "":
		res.Failed, res.Kind, res.Message = true, "stuck", k.Stuck()
	default:
		if errs := v.Errors(); len(errs) > 0 {
			res.Failed, res.Kind, res.Message = true, "validator", errs[0]
		}
	}
	return res
}

// Shrink reduces a failing run's decisions with ddmin: the result replays
// the smallest subset found that still fails with the same signature.
// budget bounds the number of runs it may make.
func Shrink(sc Scenario, failing Result, budget int) Result {
	return shrink(inProcess{sc}, failing, budget)
}

func shrink(p pool, failing Result, budget int) Result {
	want := failing.Signature()
	best := failing
	cur := failing.Decisions
	test := func(subset []emu.Decision) (Result, bool) {
		if budget <= 0 {
			return Result{}, false
		}
		budget--
		s := failing.Schedule
		s.Replay, s.Record = append([]emu.Decision{}, subset...), false
		r := p.run(0, s)
		return r, r.Failed && r.Signature() == want
	}
	// First: does the canonical schedule (no decision) already fail?
	if r, ok := test(nil); ok {
		return r
	}
	// The recorded list itself must reproduce (it normally does).
	if r, ok := test(cur); ok {
		best = r
	} else {
		return failing
	}
	n := 2
	for len(cur) >= 2 && budget > 0 {
		chunk := (len(cur) + n - 1) / n
		reduced := false
		for i := 0; i < len(cur) && budget > 0; i += chunk {
			end := min(i+chunk, len(cur))
			// Try the complement of cur[i:end].
			comp := append(append([]emu.Decision{}, cur[:i]...), cur[end:]...)
			if r, ok := test(comp); ok {
				cur, best, reduced = comp, r, true
				n = max(n-1, 2)
				break
			}
			// Try the chunk alone.
			if n > 2 {
				if r, ok := test(cur[i:end]); ok {
					cur, best, reduced = append([]emu.Decision{}, cur[i:end]...), r, true
					n = 2
					break
				}
			}
		}
		if !reduced {
			if n >= len(cur) {
				break
			}
			n = min(2*n, len(cur))
		}
	}
	// A single remaining decision may still be removable.
	if len(cur) == 1 {
		if r, ok := test(nil); ok {
			cur, best = nil, r
		}
	}
	best.Schedule.Replay = append([]emu.Decision{}, cur...)
	return best
}

// Options of a search.
type Options struct {
	Runs      int // schedules to try (per shard)
	Jobs      int // parallel runs
	Strategy  string
	Depth     int
	Shard     int // this shard, 0-based
	Shards    int // total shards (>= 1)
	FirstSeed uint64
	Shrink    int // run budget per shrink (0: no shrinking)
	// Workers runs every run in worker processes (package child), which
	// the search kills when they pass the per-run timeout or the memory
	// limit; false runs them in this process.
	Workers bool
	// Crashed, if set, is told of every worker that died by itself (a Go
	// fatal error): its output, for a crash file. Calls may be concurrent.
	Crashed func(child.Exit)
}

// Seed is the k-th seed of the shard: FirstSeed+Shard+k*Shards.
// FirstSeed 0 means 1 (seed 0 is the canonical schedule, which plain
// `xcallsh run` already tries).
func (o Options) Seed(k int) uint64 {
	base := o.FirstSeed
	if base == 0 {
		base = 1
	}
	return base + uint64(o.Shard) + uint64(k)*uint64(max(o.Shards, 1))
}

// Seeds lists the seeds of the shard (tests; Search draws them one by one).
func (o Options) Seeds() []uint64 {
	out := make([]uint64, o.Runs)
	for k := range out {
		out[k] = o.Seed(k)
	}
	return out
}

// Failure is one distinct failure found by a search, shrunk.
type Failure struct {
	Signature string
	First     Result // the run with the lowest seed that failed this way
	Shrunk    Result // the shrunk schedule (replays First's failure)
	Count     int    // runs that failed this way
	// Others marks the last Failure of a search that found more than
	// MaxDistinct distinct failures: it counts the runs of all the rest,
	// First being the one with the lowest seed; it is not shrunk.
	Others bool
}

// MaxDistinct bounds the distinct failures a search tells apart: each
// keeps a run's result, and a script whose messages differ from run to run
// in more than numbers would otherwise grow the search without bound.
const MaxDistinct = 1000

// maxMessage bounds a failure's message (a script can raise an error of
// many megabytes): what is kept is its beginning and how much was cut.
const maxMessage = 64 << 10

// Search runs the scenario under every seed of opts, in parallel, calling
// progress after each run, and returns the distinct failures in the order
// of their first seed. Its memory does not grow with the number of runs:
// seeds are drawn as workers free up, and of each distinct failure only
// the count and the run with the lowest seed are kept, which makes the
// answer the same whatever the order runs finish in (whatever -j).
//
// A failure of kind "limit" (a run stopped by the timeout or the memory
// limit) is neither run again nor shrunk: whether it happens depends on the
// host, not on the schedule, and each try could cost a whole timeout.
func Search(sc Scenario, opts Options, progress func(done, failed int, r Result)) []Failure {
	if proto, err := luabind.Compile(sc.Name, sc.Source); err == nil {
		sc.compiled = proto // a syntax error is reported by each run instead
	}
	jobs := max(opts.Jobs, 1)
	var p pool = inProcess{sc}
	if opts.Workers {
		ws := newWorkers(sc, jobs, opts.Crashed)
		defer ws.close()
		p = ws
	}
	var mu sync.Mutex
	done, failed, drawn, others := 0, 0, 0, -1
	var out []Failure
	index := map[string]int{} // looked up, never ranged
	next := func() (Schedule, bool) {
		mu.Lock()
		defer mu.Unlock()
		if drawn >= opts.Runs {
			return Schedule{}, false
		}
		drawn++
		return Schedule{Seed: opts.Seed(drawn - 1), Strategy: opts.Strategy, Depth: opts.Depth}, true
	}
	// Results are grouped in seed order, whatever order they come in: a
	// result waits in pending until those of all lower seeds came (at most
	// the runs in flight wait), so that which failures are told apart when
	// there are more than MaxDistinct is the same whatever -j.
	pending := map[int]Result{} // by draw index; looked up, never ranged
	grouped := 0
	group := func(r Result) {
		sig := r.Signature()
		i, ok := index[sig]
		switch {
		case !ok && len(out) < MaxDistinct:
			index[sig] = len(out)
			out = append(out, Failure{Signature: sig, First: r, Count: 1})
		case !ok && others < 0:
			others = len(out)
			out = append(out, Failure{Signature: "others", First: r, Count: 1, Others: true})
		case !ok:
			out[others].Count++
		default:
			out[i].Count++
		}
	}
	deliver := func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		done++
		if r.Failed {
			failed++
		}
		if progress != nil {
			progress(done, failed, r)
		}
		k := int((r.Schedule.Seed - opts.Seed(0)) / uint64(max(opts.Shards, 1)))
		if !r.Failed {
			r = Result{} // only its place in the order is needed
		}
		pending[k] = r
		for {
			r, ok := pending[grouped]
			if !ok {
				break
			}
			delete(pending, grouped)
			grouped++
			if r.Failed {
				group(r)
			}
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stream(w, next, deliver)
		}()
	}
	wg.Wait()
	// In the order of their first seed; the others last.
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Others != out[b].Others {
			return out[b].Others
		}
		return out[a].First.Schedule.Seed < out[b].First.Schedule.Seed
	})
	for i := range out {
		if out[i].First.Kind == "limit" || out[i].Others {
			out[i].Shrunk = out[i].First
			continue
		}
		// Run the first failure again, recording its decisions.
		s := out[i].First.Schedule
		s.Record = true
		r := p.run(0, s)
		if again := r.Signature(); !r.Failed || again != out[i].Signature {
			r = out[i].First
			r.Kind, r.Message = "internal", fmt.Sprintf("internal error (a bug in xcallsh): seed %d did not repeat itself: %s, then %s",
				s.Seed, out[i].Signature, again)
		}
		out[i].First = r
		out[i].Shrunk = out[i].First
		out[i].Shrunk.Schedule.Replay = out[i].First.Decisions
		if opts.Shrink > 0 {
			out[i].Shrunk = shrink(p, out[i].First, opts.Shrink)
		}
	}
	return out
}

// FormatDecisions renders a decision list as "N:V,N:V" (V in hex).
func FormatDecisions(d []emu.Decision) string {
	parts := make([]string, len(d))
	for i, x := range d {
		parts[i] = fmt.Sprintf("%d:%x", x.N, x.V)
	}
	return strings.Join(parts, ",")
}

// ParseDecisions reads FormatDecisions' output.
func ParseDecisions(s string) ([]emu.Decision, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return []emu.Decision{}, nil
	}
	var out []emu.Decision
	last := 0
	for _, p := range strings.Split(s, ",") {
		var d emu.Decision
		if _, err := fmt.Sscanf(strings.TrimSpace(p), "%d:%x", &d.N, &d.V); err != nil {
			return nil, fmt.Errorf("bad decision %q (want N:hex)", p)
		}
		if d.N <= last {
			return nil, fmt.Errorf("decisions out of order at %q", p)
		}
		last = d.N
		out = append(out, d)
	}
	return out, nil
}
