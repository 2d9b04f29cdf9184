package explore

import (
	"fmt"
	"strings"
	"testing"
)

// tie fails whenever CPU 2's call reaches CPU 3 before CPU 1's: both are
// sent at the same instant, so only some schedules fail.
const tie = `
local order = {}
function mark(who) order[#order + 1] = who end
spawn(1, function() smp_call_function_single(3, mark, 1, 0) end)
spawn(2, function() smp_call_function_single(3, mark, 2, 0) end)
run(ms(1))
assert(order[1] == 1, "CPU 2 won the race")
`

const correct = `
local n = 0
spawn(1, function() smp_call_function_single(3, function() n = n + 1 end, nil, 1) end)
run(ms(1))
assert(n == 1)
`

func TestSearchFindsAndShrinks(t *testing.T) {
	sc := Scenario{Name: "tie.lua", Source: tie}
	if r := Run(sc, Schedule{Seed: 0}); r.Failed {
		t.Fatalf("the canonical schedule must pass: %s", r.Message)
	}
	fails := Search(sc, Options{Runs: 40, Jobs: 2, Shards: 1, Shrink: 200}, nil)
	if len(fails) != 1 {
		t.Fatalf("%d distinct failures, want 1", len(fails))
	}
	f := fails[0]
	if !strings.Contains(f.Signature, "tie.lua:7: CPU N won the race") {
		t.Errorf("signature %q", f.Signature)
	}
	if len(f.Shrunk.Schedule.Replay) == 0 || len(f.Shrunk.Schedule.Replay) >= len(f.First.Decisions) {
		t.Errorf("shrunk to %d of %d decisions", len(f.Shrunk.Schedule.Replay), len(f.First.Decisions))
	}
	// The shrunk schedule replays the failure, twice the same way.
	for i := 0; i < 2; i++ {
		r := Run(sc, f.Shrunk.Schedule)
		if !r.Failed || r.Signature() != f.Signature {
			t.Fatalf("replay %d: failed=%v %q", i, r.Failed, r.Message)
		}
	}
	t.Logf("%d of 40 failed; shrunk %d -> %d decisions", f.Count, len(f.First.Decisions), len(f.Shrunk.Schedule.Replay))
}

func TestSearchCorrectScenario(t *testing.T) {
	fails := Search(Scenario{Name: "ok.lua", Source: correct}, Options{Runs: 20, Jobs: 2, Strategy: "pct", Depth: 2}, nil)
	if len(fails) != 0 {
		t.Fatalf("a correct scenario failed: %s", fails[0].First.Message)
	}
}

func TestShards(t *testing.T) {
	a := Options{Runs: 3, Shard: 0, Shards: 2}.Seeds()
	b := Options{Runs: 3, Shard: 1, Shards: 2}.Seeds()
	if got := fmt.Sprint(a, b); got != "[1 3 5] [2 4 6]" {
		t.Errorf("shards %s", got)
	}
}

func TestDecisionsRoundTrip(t *testing.T) {
	d, err := ParseDecisions("3:ff,10:1")
	if err != nil || FormatDecisions(d) != "3:ff,10:1" {
		t.Fatalf("%v %v", d, err)
	}
	if _, err := ParseDecisions("10:1,3:ff"); err == nil {
		t.Error("out of order accepted")
	}
}

// A run keeps its decisions only when asked: a search records the first
// run of each failure again, which must repeat the search's run exactly.
func TestRecordOnlyWhenAsked(t *testing.T) {
	sc := Scenario{Name: "tie.lua", Source: tie}
	plain := Run(sc, Schedule{Seed: 2})
	if !plain.Failed || plain.Decisions != nil {
		t.Fatalf("seed 2: failed=%v, %d decisions kept unasked", plain.Failed, len(plain.Decisions))
	}
	rec := Run(sc, Schedule{Seed: 2, Record: true})
	if rec.Signature() != plain.Signature() || rec.Events != plain.Events || len(rec.Decisions) == 0 {
		t.Fatalf("recorded run differs: %q, %d events, %d decisions; unrecorded %q, %d events",
			rec.Signature(), rec.Events, len(rec.Decisions), plain.Signature(), plain.Events)
	}
	fails := Search(sc, Options{Runs: 4, Jobs: 2, FirstSeed: 2}, nil)
	if len(fails) != 1 || FormatDecisions(fails[0].First.Decisions) != FormatDecisions(rec.Decisions) {
		t.Fatalf("the search's first failure does not carry seed 2's decisions: %+v", fails)
	}
}

// Whatever -j, a search keeps of each distinct failure its count and the
// run with the lowest seed: the same answer however runs interleave.
func TestSearchSameWhateverJobs(t *testing.T) {
	src := `local n = math.random(3)
if n == 1 then error("one") elseif n == 2 then error("two") end
`
	sc := Scenario{Name: "three.lua", Source: src}
	summary := func(jobs int) string {
		var b strings.Builder
		for _, f := range Search(sc, Options{Runs: 60, Jobs: jobs}, nil) {
			fmt.Fprintf(&b, "%s x%d seed %d; ", f.Signature, f.Count, f.First.Schedule.Seed)
		}
		return b.String()
	}
	one := summary(1)
	if strings.Count(one, "error: three.lua:") != 2 {
		t.Fatalf("-j 1: %s", one)
	}
	for _, j := range []int{2, 5} {
		if got := summary(j); got != one {
			t.Errorf("-j %d: %s\n-j 1: %s", j, got, one)
		}
	}
}

func TestSeedOfLargeShards(t *testing.T) {
	o := Options{FirstSeed: 10, Shard: 3, Shards: 1000000}
	if got := o.Seed(999999999); got != 10+3+999999999*1000000 {
		t.Errorf("seed %d", got)
	}
	if got := (Options{}).Seed(0); got != 1 {
		t.Errorf("first seed 0: %d", got)
	}
}

// A run stopped by a limit is of kind limit, its location kept in the
// message.
func TestLimitKind(t *testing.T) {
	r := Run(Scenario{Name: "big.lua", Source: "local s = ('x'):rep(1048576)\nlocal t = {}\nfor i = 1, 1e9 do t[i] = s .. i end\n",
		MemoryLimit: 64 << 20}, Schedule{Seed: 1})
	if r.Kind != "limit" || !strings.HasPrefix(r.Message, "big.lua:3: stopped: the run used more than 64 MiB of memory (the limit)") {
		t.Errorf("%s: %s", r.Kind, r.Message)
	}
}

// Messages that differ in more than numbers from run to run: the search
// tells MaxDistinct of them apart and counts the rest together, the same
// whatever -j.
func TestSearchBoundsDistinctFailures(t *testing.T) {
	sc := Scenario{Name: "many.lua", Source: `error(("x"):rep(math.random(5000)))`}
	summary := func(jobs int) string {
		fails := Search(sc, Options{Runs: 2500, Jobs: jobs}, nil)
		total := 0
		for _, f := range fails {
			total += f.Count
		}
		last := fails[len(fails)-1]
		if len(fails) != MaxDistinct+1 || !last.Others || total != 2500 {
			t.Fatalf("-j %d: %d failures, %d runs, the last others=%v", jobs, len(fails), total, last.Others)
		}
		return fmt.Sprintf("%d %d %s", last.Count, last.First.Schedule.Seed, fails[0].Signature)
	}
	if a, b := summary(1), summary(2); a != b {
		t.Errorf("-j 1: %s; -j 2: %s", a, b)
	}
}

func TestLongMessagesAreCut(t *testing.T) {
	r := Run(Scenario{Name: "long.lua", Source: `error(("y"):rep(100000))`}, Schedule{Seed: 1})
	if want := fmt.Sprintf("... (%d bytes more)", len("long.lua:1: ")+100000-maxMessage); len(r.Message) != maxMessage+len(want) || !strings.HasSuffix(r.Message, want) {
		t.Errorf("%d bytes, ending %q", len(r.Message), r.Message[len(r.Message)-40:])
	}
}

// A signature is the verdict's kind and message, numbers blurred, the
// script location kept: runs that fail the same way on other CPUs, csds
// or times group together; other locations or kinds do not.
func TestSignature(t *testing.T) {
	for _, c := range []struct{ kind, msg, want string }{
		{"error", "tie.lua:7: CPU 2 won the race", "error: tie.lua:7: CPU N won the race"},
		{"error", "tie.lua:9: CPU 2 won the race", "error: tie.lua:9: CPU N won the race"},
		{"panic", "kernel BUG at kernel/smp.c:431!", "panic: kernel BUG at kernel/smp.c:N!"},
		{"stuck", "CPU1 spins on csd #3 queued on CPU2; CPU2 is idle with no IPI pending, and no one will send one (1 csd queued)",
			"stuck: CPUN spins on csd #N queued on CPUN; CPUN is idle with no IPI pending, and no one will send one (N csd queued)"},
		{"validator", "t=1500ns csd #4: ran twice", "validator: t=Nns csd #N: ran twice"},
		{"limit", "x.lua:2: stopped: the run took longer than the --timeout of 300ms (host time)",
			"limit: stopped: the run took longer than the --timeout of Nms (host time)"},
	} {
		if got := (Result{Failed: true, Kind: c.kind, Message: c.msg}).Signature(); got != c.want {
			t.Errorf("%s %q:\n got %q\nwant %q", c.kind, c.msg, got, c.want)
		}
	}
}
