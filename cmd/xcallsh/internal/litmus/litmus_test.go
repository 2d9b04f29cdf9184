package litmus

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu/memory"
)

// The classic shapes in the repository's testdata, each with its known
// verdict per model in an "Expected: sc=... tso=... armv8=..." line:
// Never, Sometimes or Always, herd7's Observation of the proposition.
var expectedRE = regexp.MustCompile(`Expected: sc=(\w+) tso=(\w+) armv8=(\w+)`)

type shape struct {
	file string
	test *Test
	want map[memory.Model]string
}

func shapes(t *testing.T) []shape {
	t.Helper()
	paths, err := filepath.Glob("../../../../scripts/litmus/*.litmus")
	if err != nil || len(paths) < 20 {
		t.Fatalf("litmus tests: %v, %v", paths, err)
	}
	var out []shape
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m := expectedRE.FindStringSubmatch(string(src))
		if m == nil {
			t.Fatalf("%s: no Expected line", p)
		}
		test, err := Parse(filepath.Base(p), src)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, shape{filepath.Base(p), test, map[memory.Model]string{memory.SC: m[1], memory.TSO: m[2], memory.ARMv8: m[3]}})
	}
	return out
}

var models = []memory.Model{memory.SC, memory.TSO, memory.ARMv8}

// compile maps the test for the architecture of model m (SC: x86's
// mapping; any mapping is exact under SC).
func compile(t *testing.T, s shape, m memory.Model) *Compiled {
	t.Helper()
	c, err := Compile(s.test, m != memory.ARMv8)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func observation(r *Result) string {
	switch {
	case r.Positive == 0:
		return "Never"
	case r.Negative == 0:
		return "Always"
	}
	return "Sometimes"
}

// TestVerdictsEnumerated: every execution of every shape, under every
// model, gives the known verdict: nothing forbidden is reachable (sound)
// and everything allowed is (complete), with no run stuck.
func TestVerdictsEnumerated(t *testing.T) {
	for _, s := range shapes(t) {
		for _, m := range models {
			r, err := Run(s.test, compile(t, s, m), Options{Model: m})
			if err != nil {
				t.Fatal(err)
			}
			if got := observation(r); got != s.want[m] || r.Stuck != 0 {
				t.Errorf("%s under %v: %s (stuck %d), want %s", s.file, m, got, r.Stuck, s.want[m])
			}
		}
	}
}

// TestVerdictsRandom: 10,000 random runs find every allowed outcome and
// no forbidden one.
func TestVerdictsRandom(t *testing.T) {
	for _, s := range shapes(t) {
		for _, m := range models {
			r, err := Run(s.test, compile(t, s, m), Options{Model: m, Runs: 10000, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if got := observation(r); got != s.want[m] || r.Stuck != 0 {
				t.Errorf("%s under %v: %s in 10000 runs (stuck %d), want %s", s.file, m, got, r.Stuck, s.want[m])
			}
		}
	}
}

// TestForbiddenNeverSeen: 100,000 random runs of each forbidden outcome
// of x86-TSO and ARMv8 never show it (some seconds: not with -short; the
// enumeration above proves the same for every execution).
func TestForbiddenNeverSeen(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 runs per shape")
	}
	for _, s := range shapes(t) {
		for _, m := range []memory.Model{memory.TSO, memory.ARMv8} {
			if s.want[m] != "Never" {
				continue
			}
			r, err := Run(s.test, compile(t, s, m), Options{Model: m, Runs: 100000, Seed: 2})
			if err != nil {
				t.Fatal(err)
			}
			if r.Positive != 0 || r.Stuck != 0 {
				t.Errorf("%s under %v: seen %d times in 100000 runs (stuck %d)", s.file, m, r.Positive, r.Stuck)
			}
		}
	}
}

const sbSrc = `C SB
{ x=0; y=0; }
P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }
P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }
exists (0:r0=0 /\ 1:r0=0)
`

func output(t *testing.T, src string, x86 bool, opts Options) string {
	t.Helper()
	test, err := Parse("t.litmus", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(test, x86)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(test, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestOutput: herd7's layout, the same bytes for the same seed.
func TestOutput(t *testing.T) {
	want := `Test SB Allowed
States 4
0:r0=0; 1:r0=0;
0:r0=0; 1:r0=1;
0:r0=1; 1:r0=0;
0:r0=1; 1:r0=1;
Ok
Witnesses
Positive: 1 Negative: 3
Condition exists (0:r0=0 /\ 1:r0=0)
Observation SB Sometimes 1 3
Model x86-TSO (x86-4), every execution enumerated
`
	if got := output(t, sbSrc, true, Options{Model: memory.TSO, Machine: "x86-4"}); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	opts := Options{Model: memory.ARMv8, Runs: 3000, Seed: 9, Machine: "arm64-8"}
	a, b := output(t, sbSrc, false, opts), output(t, sbSrc, false, opts)
	if a != b {
		t.Errorf("two runs with seed 9 differ:\n%s\n%s", a, b)
	}
	if !strings.Contains(a, "Model ARMv8 (arm64-8), 3000 random runs, seed 9\n") {
		t.Errorf("no model line:\n%s", a)
	}
	sc := output(t, strings.Replace(sbSrc, "exists", "~exists", 1), true, Options{Model: memory.SC, Machine: "x86-4"})
	if !strings.HasPrefix(sc, "Test SB Forbidden\nStates 3\n") || !strings.Contains(sc, "\nOk\n") ||
		!strings.Contains(sc, "Witnesses\nPositive: 3 Negative: 0\nCondition ~exists (0:r0=0 /\\ 1:r0=0)\nObservation SB Never 0 3\n") {
		t.Errorf("~exists under SC:\n%s", sc)
	}
}

// TestBadInput: each mistake is named with its file and line.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"", "t.litmus:1: a C litmus test starts with \"C NAME\""},
		{"C X\n{}\nexists (x=1)", "t.litmus:3: expected a thread P0(...) { ... }"},
		{"C X\nP0(int *x) {\n WRITE_ONCE(*x, 1)\n}\nexists (x=1)", "t.litmus:4: expected \";\", found \"}\""},
		{"C X\nP0(int *x) {\n int r0;\n r0 = READ_ONCE(x);\n}\nexists (0:r0=1)", "t.litmus:4: READ_ONCE wants a location as *x here"},
		{"C X\nP0(int *x) {\n int r0;\n r0 = r1;\n}\nexists (x=1)", "t.litmus:4: unknown name r1"},
		{"C X\nP0(int *x) {\n x = 2;\n}\nexists (x=1)", "t.litmus:3: assigning to location x"},
		{"C X\n{ atomic_t v = ATOMIC_INIT(x); }\nP0(int *x) {\n}\nexists (x=1)", "t.litmus:2: expected an integer"},
		{"C X\nP0(int *x) {\n smp_foo();\n}\nexists (x=1)", "t.litmus:3: smp_foo is not supported"},
		{"C X\nP0(int *x) {\n WRITE_ONCE(*y, 1);\n}\nexists (x=1)", "t.litmus:3: y is no location of the test"},
		{"C X\nP0(int *x) {\n int r0;\n}\nexists (1:r0=1)", "t.litmus:5: the condition names thread 1, but the test has 1"},
		{"C X\nP0(int *x) {\n int r0;\n}\nexists (0:r9=1)", "t.litmus:5: the condition names 0:r9, but P0 declares no register r9"},
		{"C X\nP1(int *x) {\n}\nexists (x=1)", "t.litmus:2: thread P1 where P0 was expected"},
		{"C X\nP0(int *x) {\n}\nexists x=1 junk", "t.litmus:4: unexpected \"junk\" after the condition"},
		{"C X\n(* never closed\nP0(int *x) {}", "t.litmus:2: comment never ends"},
		{"C X\nP0(int *x) {\n if (" + strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100) + ") {}\n}\nexists (x=1)", "t.litmus:3: nested more than 32 deep"},
		{"C X\nP0(int *x) {\n WRITE_ONCE(*x, 1) @\n}", "t.litmus:3: unexpected character '@'"},
		{"C X\nP0(int *x) {\n synchronize_rcu();\n}\nexists (x=1)", "t.litmus:3: synchronize_rcu is out of scope: RCU grace periods are not modelled"},
		{"C X\nP0(int *x, struct srcu_struct *s) {\n int r0;\n r0 = srcu_read_lock(s);\n}\nexists (x=1)", "t.litmus:4: srcu_read_lock is out of scope: SRCU is not modelled"},
		{"C X\nP0(int *x) {\n *x + 1;\n}\nexists (x=1)", "t.litmus:3: expected \"=\", found \"+\""},
		{"C X\nP0(int *x) {\n *y = 1;\n}\nexists (x=1)", "t.litmus:3: y is no location of the test"},
		{"C X\nP0(int *x) {\n}\nfilter (0:r0=1)\nexists (x=1)", "t.litmus:4: the condition names 0:r0, but P0 declares no register r0"},
	} {
		test, err := Parse("t.litmus", []byte(tc.src))
		if err == nil {
			_, err = Compile(test, true)
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %s...", tc.src, err, tc.want)
		}
	}
}

// TestMapping: the kernel's macros become each architecture's
// instructions.
func TestMapping(t *testing.T) {
	src := `C map
P0(int *x, spinlock_t *s) {
	int r0;
	r0 = smp_load_acquire(x);
	smp_store_release(x, 1);
	smp_wmb();
	smp_rmb();
	smp_mb();
	r0 = xchg_release(x, 2);
	spin_lock(s);
	spin_unlock(s);
}
exists (x=1)
`
	test, err := Parse("t.litmus", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		x86  bool
		want string
	}{
		{true, "L S F RMWfull RMWfull S"},
		{false, "Lacq Srel Fw Fr F RMWrel RMWacq Srel"},
	} {
		c, err := Compile(test, tc.x86)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, in := range c.Prog.Threads[0] {
			s := map[memory.Op]string{memory.Load: "L", memory.Store: "S", memory.RMW: "RMW", memory.Fence: "F"}[in.Op]
			switch {
			case in.Op == memory.Fence && in.Fence == memory.FenceWrite:
				s += "w"
			case in.Op == memory.Fence && in.Fence == memory.FenceRead:
				s += "r"
			case in.Full:
				s += "full"
			case in.Acquire:
				s += "acq"
			case in.Release:
				s += "rel"
			}
			got = append(got, s)
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("x86=%v: %s, want %s", tc.x86, g, tc.want)
		}
	}
}

// TestLocations: a locations clause adds to the final states shown.
func TestLocations(t *testing.T) {
	src := strings.Replace(sbSrc, "exists (0:r0=0 /\\ 1:r0=0)", "locations [x; 1:r0;]\nexists (0:r0=0)", 1)
	got := output(t, src, true, Options{Model: memory.SC, Machine: "x86-4"})
	want := "States 3\n0:r0=0; 1:r0=1; x=1;\n0:r0=1; 1:r0=0; x=1;\n0:r0=1; 1:r0=1; x=1;\nOk\nWitnesses\nPositive: 1 Negative: 2\n"
	if !strings.Contains(got, want) {
		t.Errorf("got:\n%s\nwant it to contain:\n%s", got, want)
	}
	for _, bad := range []string{"locations [x; 5:r0;]\nexists (x=1)", "locations [x y]\nexists (x=1)", "locations [zz;]\nexists (x=1)"} {
		test, err := Parse("t.litmus", []byte(strings.Replace(sbSrc, "exists (0:r0=0 /\\ 1:r0=0)", bad, 1)))
		if err == nil {
			_, err = Compile(test, true)
		}
		if err == nil || !strings.HasPrefix(err.Error(), "t.litmus:5: ") {
			t.Errorf("%q: error %v, want one at line 5", bad, err)
		}
	}
}

// verdict runs src under m, every execution, and gives the observation
// and the number of distinct final states.
func verdict(t *testing.T, src string, m memory.Model) (string, int, *Result) {
	t.Helper()
	test, err := Parse("t.litmus", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(test, m != memory.ARMv8)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(test, c, Options{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	return observation(r), len(r.states), r
}

// TestKernelConstructs: the constructs of the kernel's own litmus tests
// (tools/memory-model/litmus-tests) beyond the marked accesses: plain
// accesses, spin_trylock, spin_is_locked, smp_store_mb,
// smp_mb__after_unlock_lock, raw spinlocks and the filter clause.
func TestKernelConstructs(t *testing.T) {
	// Plain accesses compile to the ordinary loads and stores: message
	// passing through them is reordered on ARMv8 only.
	plainMP := `C plainMP
P0(int *x, int *y) { *x = 1; *y = 1; }
P1(int *x, int *y) { int r0; int r1; r0 = *y; r1 = *x; }
exists (1:r0=1 /\ 1:r1=0)
`
	for m, want := range map[memory.Model]string{memory.SC: "Never", memory.TSO: "Never", memory.ARMv8: "Sometimes"} {
		if got, _, _ := verdict(t, plainMP, m); got != want {
			t.Errorf("plain MP under %v: %s, want %s", m, got, want)
		}
	}
	// A plain read in an expression, a plain store of a register.
	if got, n, _ := verdict(t, "C copy\nP0(int *x, int *y) { int r0 = 3; *x = r0; *y = *x + 1; }\nexists (x=3 /\\ y=4)\n", memory.ARMv8); got != "Always" || n != 1 {
		t.Errorf("plain copy: %s with %d states, want Always with 1", got, n)
	}
	// Two trylocks of a free lock: exactly one succeeds.
	try := `C try
P0(spinlock_t *s) { int r0; r0 = spin_trylock(s); }
P1(spinlock_t *s) { int r1; r1 = raw_spin_trylock(s); }
exists (0:r0=1 /\ 1:r1=1 \/ 0:r0=0 /\ 1:r1=0)
`
	for _, m := range models {
		if got, n, _ := verdict(t, try, m); got != "Never" || n != 2 {
			t.Errorf("trylock under %v: %s with %d states, want Never with 2", m, got, n)
		}
	}
	// spin_is_locked reads the lock word: held between lock and unlock.
	held := `C held
P0(spinlock_t *s) { int r0; int r1; int r2; spin_lock(s); r0 = spin_is_locked(s); spin_unlock(s); r1 = spin_is_locked(s); smp_mb__after_unlock_lock(); }
exists (0:r0=1 /\ 0:r1=0)
`
	for _, m := range models {
		if got, _, _ := verdict(t, held, m); got != "Always" {
			t.Errorf("spin_is_locked under %v: %s, want Always", m, got)
		}
	}
	// smp_store_mb orders a store before a later load: SB is forbidden.
	sbmb := strings.NewReplacer("WRITE_ONCE(*x, 1);", "smp_store_mb(*x, 1);", "WRITE_ONCE(*y, 1);", "smp_store_mb(*y, 1);").Replace(sbSrc)
	for _, m := range models {
		if got, _, _ := verdict(t, sbmb, m); got != "Never" {
			t.Errorf("SB+store_mbs under %v: %s, want Never", m, got)
		}
	}
	// herd7's leniencies: an assignment declares its register, (void)
	// discards a value, ATOMIC_INIT gives an atomic_t its start.
	lenient := `C lenient
{ atomic_t v = ATOMIC_INIT(5); }
P0(atomic_t *v) { r1 = atomic_read(v); (void)atomic_xchg(v, 7); }
exists (0:r1=5 /\ v=7)
`
	for _, m := range models {
		if got, n, _ := verdict(t, lenient, m); got != "Always" || n != 1 {
			t.Errorf("lenient under %v: %s with %d states, want Always with 1", m, got, n)
		}
	}
	// The atomics that test a value: each result and final value.
	for _, tc := range []struct {
		init int
		call string
		r, v int
	}{
		{0, "atomic_add_unless(v, 1, 0)", 0, 0},
		{2, "atomic_add_unless(v, 3, 0)", 1, 5},
		{1, "atomic_fetch_add_unless(v, 5, 9)", 1, 6},
		{9, "atomic_fetch_add_unless(v, 5, 9)", 9, 9},
		{0, "atomic_inc_not_zero(v)", 0, 0},
		{4, "atomic_inc_not_zero(v)", 1, 5},
		{1, "atomic_dec_and_test(v)", 1, 0},
		{2, "atomic_dec_and_test(v)", 0, 1},
		{-1, "atomic_inc_and_test(v)", 1, 0},
		{2, "atomic_sub_and_test(2, v)", 1, 0},
		{2, "atomic_add_negative(-3, v)", 1, -1},
		{2, "atomic_add_negative(-2, v)", 0, 0},
	} {
		src := fmt.Sprintf("C cond\n{ atomic_t v = ATOMIC_INIT(%d); }\nP0(atomic_t *v) { int r0; r0 = %s; }\nexists (0:r0=%d /\\ v=%d)\n", tc.init, tc.call, tc.r, tc.v)
		for _, m := range models {
			if got, n, _ := verdict(t, src, m); got != "Always" || n != 1 {
				t.Errorf("%s from %d under %v: %s with %d states, want r0=%d v=%d always", tc.call, tc.init, m, got, n, tc.r, tc.v)
			}
		}
	}
	// A conditional atomic that adds is a full barrier: SB with one that
	// succeeds is forbidden everywhere (scripts/litmus/SB+add-unless-fails
	// is the one that gives up).
	sbAdds := `C SB+add-unless-adds
{ atomic_t z = ATOMIC_INIT(1); }
P0(int *x, int *y, atomic_t *z) { int r0; int r1; WRITE_ONCE(*x, 1); r1 = atomic_add_unless(z, 1, 0); r0 = READ_ONCE(*y); }
P1(int *x, int *y, atomic_t *z) { int r0; int r1; WRITE_ONCE(*y, 1); r1 = atomic_add_unless(z, 1, 0); r0 = READ_ONCE(*x); }
exists (0:r0=0 /\ 1:r0=0)
`
	for _, m := range models {
		if got, _, _ := verdict(t, sbAdds, m); got != "Never" {
			t.Errorf("SB+add-unless-adds under %v: %s, want Never", m, got)
		}
	}
	// A filter drops the executions it does not hold in, uncounted.
	filtered := strings.Replace(sbSrc, "exists", "filter (1:r0=1)\nexists", 1)
	got, n, r := verdict(t, filtered, memory.TSO)
	if got != "Never" || n != 2 || r.Filtered != 2 || r.Positive+r.Negative != 2 {
		t.Errorf("filtered SB: %s, %d states, %d filtered, %d counted; want Never, 2, 2, 2", got, n, r.Filtered, r.Positive+r.Negative)
	}
	var b strings.Builder
	if err := r.Write(&b); err != nil || !strings.HasSuffix(b.String(), "every execution enumerated, 2 filtered out\n") {
		t.Errorf("filtered SB output (%v):\n%s", err, b.String())
	}
}
