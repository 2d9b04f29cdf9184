package emu

import (
	"fmt"
	"math/rand/v2"
)

// Scheduling decisions.
//
// Everything that perturbs the order of execution goes through one
// decision stream: the tie-break of every event (same-instant order) and
// the jitter of latencies. Seed 0 is the canonical schedule (every decision
// 0: same-instant events in the order they were scheduled, no jitter).
// Another seed draws decisions at random, or by PCT priorities. A run can
// record the decisions that differ from canonical, and another run can
// replay such a list: draws it does not list are canonical. That is what
// explore shrinks: the fewest decisions that still make a run fail.
//
// The script's own randomness (math.random) is a separate stream derived
// from the seed: it is part of the scenario, not of the schedule.

// Decision is draw number N of a run, with value V (non-zero: canonical
// draws are not listed).
type Decision struct {
	N int
	V uint64
}

// MaxDepth is the largest PCT bug depth a run accepts (explore's --depth,
// a report's "depth"). A bug of depth d needs d-1 priority changes at the
// right events, which PCT finds with probability about 1/(n*k^(d-1)) per
// run: past a handful of levels no run count finds anything, so 64 only
// bounds the cost of the change points (d-1 of them, sorted).
const MaxDepth = 64

// ScheduleFormat changes whenever the engine numbers events or draws
// decisions differently: a new kind of draw, draws in another order, a
// tie-break over another set of events, another jitter. A schedule (a seed,
// a strategy, a list of decisions) means the same run only under the format
// it was made with, so a report records it and a replay under another
// format is refused rather than let diverge (docs/reports.md). Format 1 is
// every engine before the number existed.
const ScheduleFormat = 2

// Strategy is how a seed other than 0 draws decisions.
type Strategy uint8

// The strategies. Their names are what explore's --strategy and a
// report's "strategy" line say.
const (
	// StrategyRandom draws every decision at random (the default).
	StrategyRandom Strategy = iota
	// StrategyPCT draws ties by PCT: random CPU priorities, of which
	// Depth-1 are lowered at random points of the run.
	StrategyPCT
)

func (s Strategy) String() string {
	switch s {
	case StrategyRandom:
		return "random"
	case StrategyPCT:
		return "pct"
	}
	return fmt.Sprintf("Strategy(%d)", uint8(s))
}

// ParseStrategy is the strategy named name: "random" or "pct"; "" is
// the default, random. Another name is an error, and StrategyRandom.
func ParseStrategy(name string) (Strategy, error) {
	switch name {
	case "", "random":
		return StrategyRandom, nil
	case "pct":
		return StrategyPCT, nil
	}
	return StrategyRandom, fmt.Errorf("unknown strategy %q (random or pct)", name)
}

// SchedConfig chooses how decisions are made.
type SchedConfig struct {
	// Strategy is how decisions are drawn. Every strategy is canonical
	// for seed 0 unless Replay is set.
	Strategy Strategy
	// Depth is PCT's bug depth d (default 3, at most MaxDepth): d-1
	// priority change points.
	Depth int
	// Steps is PCT's estimate k of the number of events in a run
	// (default 100000): change points are drawn in 1..k.
	Steps int
	// Replay, if not nil, makes every draw come from this list (sorted by
	// N); draws it does not list are 0. The seed then only seeds the
	// script's own randomness.
	Replay []Decision
	// Record keeps the non-canonical decisions (Machine.Decisions).
	Record bool
}

// sched is the decision stream of one machine.
type sched struct {
	cfg    SchedConfig
	rng    *rand.Rand // nil: seed 0, or a replay list
	n      int        // draws so far (a canonical machine's ties are not counted here: Machine.Draws)
	cursor int        // replay position
	rec    []Decision
	// onDraw, when set, hears of every decision: its number, value and
	// bound (0: a tie). It records; it must not draw.
	onDraw func(n int, v, max uint64)

	// PCT: per-CPU priorities (higher runs first) and change points.
	prio    []uint32
	changes []int // event numbers at which the running CPU is demoted, ascending
	lowest  uint32
}

// canonical reports whether every decision is 0: seed 0 and no replay
// list (no generator, nothing to replay).
func (s *sched) canonical() bool { return s.rng == nil && s.cfg.Replay == nil }

func newSched(cfg SchedConfig, seed uint64, cpus int) *sched {
	s := &sched{cfg: cfg}
	if cfg.Replay != nil || seed == 0 {
		return s
	}
	s.rng = rand.New(rand.NewPCG(seed^0x243f6a8885a308d3, seed))
	if cfg.Strategy == StrategyPCT {
		d, k := cfg.Depth, cfg.Steps
		if d < 1 {
			d = 3
		}
		if k < 1 {
			k = 100000
		}
		// Random distinct priorities d..d+n-1 for the CPUs (the values
		// below d are reserved for demotions).
		s.prio = make([]uint32, cpus)
		perm := s.rng.Perm(cpus)
		for i, p := range perm {
			s.prio[i] = uint32(d + p)
		}
		s.lowest = uint32(d)
		for i := 0; i < d-1; i++ {
			s.changes = append(s.changes, 1+s.rng.IntN(k))
		}
		sortInts(s.changes)
	}
	return s
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// draw returns the next decision: from the replay list, at random (via
// gen), or 0 (canonical).
func (s *sched) draw(gen func() uint64, max uint64) uint64 {
	s.n++
	var v uint64
	switch {
	case s.cfg.Replay != nil:
		r := s.cfg.Replay
		for s.cursor < len(r) && r[s.cursor].N < s.n {
			s.cursor++
		}
		if s.cursor < len(r) && r[s.cursor].N == s.n {
			v = r[s.cursor].V
		}
	case s.rng != nil:
		v = gen()
	}
	if v != 0 && s.cfg.Record {
		s.rec = append(s.rec, Decision{s.n, v})
	}
	if s.onDraw != nil {
		s.onDraw(s.n, v, max)
	}
	return v
}

// tie is the same-instant rank of an event concerning cpu: random, or
// under PCT the inverted priority of cpu (higher priority, smaller tie).
// A canonical machine draws no ties (Machine.number).
func (s *sched) tie(e *event) uint32 {
	return uint32(s.draw(func() uint64 {
		if s.prio == nil {
			return uint64(s.rng.Uint32())
		}
		cpu := int(e.cpu)
		if e.ctx != nil {
			cpu = e.ctx.CPU
		}
		if cpu < 0 || cpu >= len(s.prio) {
			cpu = 0
		}
		if len(s.changes) > 0 && s.n >= s.changes[0] {
			// A change point: demote this CPU below everyone.
			s.changes = s.changes[1:]
			s.lowest--
			s.prio[cpu] = s.lowest
		}
		return uint64(^s.prio[cpu])
	}, 0))
}

// jitter is a latency perturbation in 0..max.
func (s *sched) jitter(max int64) int64 {
	if max <= 0 {
		return 0
	}
	if s.canonical() {
		s.n++
		if s.onDraw != nil {
			s.onDraw(s.n, 0, uint64(max))
		}
		return 0
	}
	v := s.draw(func() uint64 { return uint64(s.rng.Int64N(max + 1)) }, uint64(max))
	return int64(v % uint64(max+1))
}
