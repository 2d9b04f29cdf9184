package litmus

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/xcallsh/xcallsh/emu/memory"
)

// Options choose how a test runs.
type Options struct {
	Model memory.Model
	// Runs is the number of random runs; 0 enumerates every execution
	// instead.
	Runs int
	Seed uint64
	// Machine names the machine, for the last line.
	Machine string
}

// MaxEnumerated bounds the distinct states an enumeration visits.
const MaxEnumerated = 1 << 18

// Result is what a test did.
type Result struct {
	Test   *Test
	Opts   Options
	states []string       // distinct final states as printed, sorted
	counts map[string]int // runs that ended in each (enumeration: 1 each)
	// Positive counts the runs (enumeration: distinct final states) in
	// which the condition's proposition held, Negative the others.
	Positive, Negative int
	Stuck              int // runs that deadlocked (a lock never released)
	Filtered           int // runs (enumeration: final states) the filter clause dropped
}

// Run runs c, compiled from t, as opts says.
func Run(t *Test, c *Compiled, opts Options) (*Result, error) {
	r := &Result{Test: t, Opts: opts, counts: map[string]int{}}
	// Distinct final states are told apart by the observed values alone;
	// each is printed, and its proposition evaluated, once.
	type seen struct {
		line  string
		holds bool
	}
	byKey := map[string]*seen{}
	var key []byte
	add := func(f *memory.Final, n int) {
		if t.Filter != nil && !c.holds(t.Filter, f) {
			r.Filtered += n
			return
		}
		key = key[:0]
		for _, o := range c.observed {
			key = strconv.AppendInt(key, c.value(o, f), 10)
			key = append(key, ',')
		}
		st := byKey[string(key)]
		if st == nil {
			st = &seen{c.stateLine(f), c.holds(t.Cond.P, f)}
			byKey[string(key)] = st
			r.states = append(r.states, st.line)
		}
		r.counts[st.line] += n
		if st.holds {
			r.Positive += n
		} else {
			r.Negative += n
		}
	}
	if opts.Runs == 0 {
		finals, stuck, complete := memory.Enumerate(c.Prog, opts.Model, MaxEnumerated)
		if !complete {
			return nil, fmt.Errorf("%s: more than %d states to enumerate; use random runs (--runs N)", t.File, MaxEnumerated)
		}
		r.Stuck = stuck
		for i := range finals {
			add(&finals[i], 1)
		}
	} else {
		rng := rand.New(rand.NewPCG(opts.Seed, 0x6c69746d7573)) // "litmus"
		runner := memory.NewRunner(c.Prog, opts.Model)
		for range opts.Runs {
			if !runner.Run(rng) {
				r.Stuck++
				continue
			}
			f := runner.Final()
			add(&f, 1)
		}
	}
	slices.Sort(r.states)
	return r, nil
}

// stateLine is a final state as herd7 prints it: "0:r0=1; 1:r0=0; x=2;".
func (c *Compiled) stateLine(f *memory.Final) string {
	var b strings.Builder
	for i, o := range c.observed {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := c.value(o, f)
		if l, ok := memory.LocOf(v, len(c.Prog.Locs)); ok {
			fmt.Fprintf(&b, "%s=%s;", o, c.Prog.Locs[l]) // a pointer
		} else {
			fmt.Fprintf(&b, "%s=%d;", o, v)
		}
	}
	return b.String()
}

// value is o's value in f.
func (c *Compiled) value(o observed, f *memory.Final) int64 {
	if o.thread < 0 {
		return f.Mem[o.index]
	}
	return f.Regs[o.thread][o.index]
}

// holds evaluates q on f.
func (c *Compiled) holds(q *Prop, f *memory.Final) bool {
	switch q.Op {
	case "true":
		return true
	case "false":
		return false
	case "~":
		return !c.holds(q.A, f)
	case `/\`:
		return c.holds(q.A, f) && c.holds(q.B, f)
	case `\/`:
		return c.holds(q.A, f) || c.holds(q.B, f)
	}
	match := func(o observed) bool { return o.thread == q.Thread && o.name == q.Name }
	if i := slices.IndexFunc(c.observed, match); i >= 0 {
		return c.value(c.observed[i], f) == q.Val
	}
	return c.value(c.filtered[slices.IndexFunc(c.filtered, match)], f) == q.Val
}

// Ok reports whether the condition is validated: exists, some run
// satisfied it; ~exists, none did; forall, all did.
func (r *Result) Ok() bool {
	switch r.Test.Cond.Quant {
	case "exists":
		return r.Positive > 0
	case "~exists":
		return r.Positive == 0
	}
	return r.Negative == 0
}

// Write prints the result as herd7 does, then a line of how it was run.
func (r *Result) Write(w io.Writer) error {
	t := r.Test
	kind := map[string]string{"exists": "Allowed", "~exists": "Forbidden", "forall": "Required"}[t.Cond.Quant]
	var b strings.Builder
	fmt.Fprintf(&b, "Test %s %s\n", t.Name, kind)
	fmt.Fprintf(&b, "States %d\n", len(r.states))
	for _, s := range r.states {
		b.WriteString(s + "\n")
	}
	if r.Ok() {
		b.WriteString("Ok\n")
	} else {
		b.WriteString("No\n")
	}
	b.WriteString("Witnesses\n")
	// Witnesses are counted for the condition (for ~exists, the runs
	// where the proposition failed), the Observation for the proposition.
	wpos, wneg := r.Positive, r.Negative
	if t.Cond.Quant == "~exists" {
		wpos, wneg = wneg, wpos
	}
	fmt.Fprintf(&b, "Positive: %d Negative: %d\n", wpos, wneg)
	fmt.Fprintf(&b, "Condition %s\n", t.Cond)
	obs := "Sometimes"
	switch {
	case r.Positive == 0:
		obs = "Never"
	case r.Negative == 0:
		obs = "Always"
	}
	fmt.Fprintf(&b, "Observation %s %s %d %d\n", t.Name, obs, r.Positive, r.Negative)
	how := fmt.Sprintf("%d random runs, seed %d", r.Opts.Runs, r.Opts.Seed)
	if r.Opts.Runs == 0 {
		how = "every execution enumerated"
	}
	fmt.Fprintf(&b, "Model %s (%s), %s", r.Opts.Model, r.Opts.Machine, how)
	if r.Stuck > 0 {
		fmt.Fprintf(&b, ", %d stuck", r.Stuck)
	}
	if r.Filtered > 0 {
		fmt.Fprintf(&b, ", %d filtered out", r.Filtered)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}
