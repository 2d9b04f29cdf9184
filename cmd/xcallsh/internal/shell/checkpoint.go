package shell

// Checkpoints: what makes going back (back, goto, reverse-continue) cost
// a bounded amount of host time however long the run.
//
// A machine cannot be copied (its tasks are Lua coroutines), but a run is
// deterministic: booting the same machine on the same seed and running the
// session's steps again reaches the same state. A checkpoint is such a
// re-execution stopped on the way: a second session, booted and run to an
// instant boundary inside the steps, then parked (it runs nothing, its
// goroutines are blocked). Going back to event #N takes the last checkpoint
// before N and runs it on to N, instead of booting and running everything
// before N again; the checkpoint becomes the shell's session.
//
// A checkpoint runs without the views of a run (the Activity recorder
// behind trace, timeline and the Perfetto file, the trace.dat writer, the
// event log behind the report hash): only the watcher the looking commands
// and the debugger need is attached, which numbers the events exactly as
// the shell's own session does. Building those views is most of what a
// re-execution costs, so the session that going back leaves is viewless;
// the first command that reads a view (trace, timeline, report, the
// summary at the end) re-executes the session with its views once
// (ensureViews), as going back did before there were checkpoints, and the
// views are then exactly those of a session that ran to this point
// directly.
//
// Checkpoints are built on a goroutine of their own between commands,
// once the run is long enough for them to matter (minSpacing events), at
// most maxParked of them, spaced evenly over the run: every event is at
// most spacing events (and an eighth) after a checkpoint or boot. A move
// stops that goroutine first (letting it finish the checkpoint it builds
// only if that is the nearest before the move's target), and the
// goroutine touches nothing of the shell's own session. Going back to N
// drops the checkpoints at or after N (they belong to the discarded
// future); boot and restart drop them all.

import (
	"errors"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/luabind"
)

// minSpacing is the fewest events between two checkpoints; the shell
// builds none on a run shorter than that: re-executing that many events
// without views takes well under 100 ms. (A variable for the tests,
// which move through short runs with checkpoints.)
var minSpacing uint64 = 40000

const (
	// maxParked bounds the checkpoints kept (each is a session: its Lua
	// state, its machine and a watcher).
	maxParked = 24
)

// parked is one checkpoint: a session re-executed to an instant boundary
// and left there.
type parked struct {
	sess     *luabind.Session
	w        *watcher
	quiet    *muteWriter
	builtins map[string]lua.LValue
	seq      uint64 // the events recorded up to here
	// Where in the steps: steps[:idx] ran; with mid, steps[idx] (an
	// advanced step) ran its pre and advanced from from to here; without,
	// steps[idx] has not started.
	idx  int
	from int64
	mid  bool
}

func (p *parked) close() {
	if p != nil && p.sess != nil {
		p.sess.Close()
		p.sess = nil
	}
}

// bootCfg is what the shell boots: a copy for the builder's goroutine.
type bootCfg struct {
	machine string
	forced  bool
	seed    uint64
	out     io.Writer
}

func (sh *Shell) bootConfig() bootCfg { return bootCfg{sh.machine, sh.forced, sh.seed, sh.out} }

// bareSession boots a session without views, muted, with a watcher not
// yet tied to a shell: the start of a checkpoint.
func (c bootCfg) bareSession() (*parked, error) {
	quiet := &muteWriter{w: c.out, mute: true}
	sess, err := luabind.New(luabind.Options{
		Machine:       c.machine,
		MachineForced: c.forced,
		Seed:          c.seed,
		Sched:         emu.SchedConfig{},
		Stdout:        quiet,
	})
	if err != nil {
		return nil, err
	}
	p := &parked{sess: sess, quiet: quiet, builtins: map[string]lua.LValue{}}
	sess.L.G.Global.ForEach(func(k, v lua.LValue) {
		if s, ok := k.(lua.LString); ok {
			p.builtins[string(s)] = v
		}
	})
	p.w = newWatcher(nil, sess.K)
	return p, nil
}

// follow re-attaches p's watcher when a step booted another machine (a
// script's machine() call), as Shell.watch does.
func (p *parked) follow() {
	if p.w.k != p.sess.K {
		noTimes := p.w.noTimes
		p.w = newWatcher(nil, p.sess.K)
		p.w.noTimes = noTimes
	}
}

// inheritTimes gives the watcher of a checkpoint, which kept no event
// times, those of the shell's watcher old, which saw the same events up to
// the checkpoint (the run is the same up to there): the times are most of
// what a checkpoint would hold otherwise, 8 bytes an event.
func (w *watcher) inheritTimes(old *watcher, seq uint64) {
	if !w.noTimes {
		return
	}
	w.noTimes = false
	if w.firstSeq == 0 || old == nil || old.firstSeq != w.firstSeq || seq < w.firstSeq {
		return
	}
	n := min(seq-w.firstSeq+1, uint64(len(old.times)))
	w.times = append(make([]int64, 0, n+n/4), old.times[:n]...)
}

// runTo re-executes steps from where p is until at least stopAt events
// are recorded, and parks at the first instant boundary there (or at the
// end of the steps). It does what Shell.reexec does, the same chunks and
// the same instants, without the debugger: a step's advance runs an
// instant at a time (RunUntil of the next event's time) up to its end.
// It returns false if cancel was set meanwhile (p is then beyond use).
func (p *parked) runTo(steps []shellStep, stopAt uint64, cancel *atomic.Bool) bool {
	for ; p.idx < len(steps); p.idx, p.mid = p.idx+1, false {
		st := steps[p.idx]
		m := p.sess.K.M
		if !p.mid {
			if m.Recorded() >= stopAt {
				p.seq = m.Recorded()
				return true
			}
			src := st.src
			if st.advanced {
				src = st.pre
			}
			if src != "" {
				p.sess.Exec(st.name, src) // its error was shown when it first ran
				p.follow()
				m = p.sess.K.M
			}
			if cancel.Load() {
				return false
			}
			if !st.advanced {
				continue
			}
			p.from, p.mid = m.Now(), true
		}
		until := p.from + st.adv
		for {
			if stopped, _ := m.Stopped(); stopped {
				break
			}
			if cancel.Load() {
				return false
			}
			if m.Recorded() >= stopAt {
				p.seq = m.Recorded()
				return true
			}
			next, ok := m.NextEventTime()
			if !ok || next > until {
				m.RunUntil(until)
				break
			}
			if err := m.RunUntil(next); errors.Is(err, emu.ErrInterrupted) {
				return false // only stopBuilder interrupts it
			}
		}
	}
	p.seq = p.sess.K.M.Recorded()
	return true
}

// builder is the goroutine that builds checkpoints.
type builder struct {
	cancel atomic.Bool // stop now, throw away what it builds
	last   atomic.Bool // stop after the checkpoint it builds
	mu     sync.Mutex
	cur    *luabind.Session // the session it runs now
	curAt  uint64           // the event it runs it to
	done   chan struct{}
}

// checkpoints is the shell's set of checkpoints and its builder.
type checkpoints struct {
	mu     sync.Mutex
	parked []*parked // by seq, ascending
	b      *builder
	// The run's length when the builder last set out (0: none since a
	// builder was stopped or checkpoints dropped): one round of building
	// per length, so that checkpoints that cannot be placed as wanted
	// (an instant of more events than the spacing) are not built again
	// and again.
	lastN uint64
}

// spacing is the most events a move re-executes after a checkpoint (give
// or take the instant a checkpoint parks at the end of), on a run of n
// events: maxParked checkpoints cover the run with room to spare.
func spacing(n uint64) uint64 {
	return max(minSpacing, (n+maxParked-1)/maxParked)
}

// wanted lists where checkpoints are missing on a run of n events, given
// those at have: every gap longer than spacing(n) (and an eighth: a
// checkpoint parks at the end of the instant it was asked for) gets one,
// spacing(n) after its start. The latest first: back from the end is the
// usual move.
func wanted(have []uint64, n uint64) []uint64 {
	s := spacing(n)
	var out []uint64
	prev := uint64(0)
	for _, h := range append(append([]uint64(nil), have...), n) {
		for h > prev+s+s/8 {
			prev += s
			out = append(out, prev)
		}
		prev = max(prev, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] > out[j] })
	return out
}

// scheduleCheckpoints starts the builder when the run outgrew its
// checkpoints. It runs after every line; the builder works from a copy of
// the steps, which later lines only extend.
func (sh *Shell) scheduleCheckpoints() {
	c := &sh.cps
	if c.b != nil {
		select {
		case <-c.b.done: // its round is over
			c.b = nil
		default:
			return
		}
	}
	if sh.script != nil || sh.luaDead || sh.sess == nil {
		return
	}
	n := sh.sess.K.M.Recorded()
	if n <= minSpacing || n == c.lastN {
		return
	}
	c.lastN = n
	var want []uint64
	for {
		c.mu.Lock()
		var have []uint64
		for _, p := range c.parked {
			have = append(have, p.seq)
		}
		c.mu.Unlock()
		want = wanted(have, n)
		if len(have)+len(want) <= maxParked {
			break
		}
		sh.thinCheckpoint(n)
	}
	if len(want) == 0 {
		return
	}
	steps := append([]shellStep(nil), sh.steps...)
	cfg := sh.bootConfig()
	b := &builder{done: make(chan struct{})}
	c.b = b
	go func() {
		defer close(b.done)
		for _, at := range want {
			if b.last.Load() || b.cancel.Load() {
				return
			}
			p, err := cfg.bareSession()
			if err != nil {
				return
			}
			p.w.noTimes = true
			b.mu.Lock()
			b.cur, b.curAt = p.sess, at
			b.mu.Unlock()
			ok := !b.cancel.Load() && p.runTo(steps, at, &b.cancel)
			b.mu.Lock()
			b.cur = nil
			// stopBuilder may have interrupted p just as it parked:
			// it sets cancel before it looks at cur.
			ok = ok && !b.cancel.Load()
			b.mu.Unlock()
			if !ok {
				p.close()
				return
			}
			c.mu.Lock()
			i := sort.Search(len(c.parked), func(i int) bool { return c.parked[i].seq >= p.seq })
			if i < len(c.parked) && c.parked[i].seq == p.seq || len(c.parked) >= maxParked {
				c.mu.Unlock()
				p.close()
				continue
			}
			c.parked = append(c.parked[:i], append([]*parked{p}, c.parked[i:]...)...)
			c.mu.Unlock()
		}
	}()
}

// thinCheckpoint drops the checkpoint whose neighbours are the closest
// (on a run of n events), so that the rest stay spread over the run.
func (sh *Shell) thinCheckpoint(n uint64) {
	c := &sh.cps
	c.mu.Lock()
	defer c.mu.Unlock()
	best, bestGap := -1, uint64(0)
	for i := range c.parked {
		prev, next := uint64(0), n
		if i > 0 {
			prev = c.parked[i-1].seq
		}
		if i+1 < len(c.parked) {
			next = c.parked[i+1].seq
		}
		if gap := max(next, prev) - prev; best < 0 || gap < bestGap {
			best, bestGap = i, gap
		}
	}
	if best >= 0 {
		c.parked[best].close()
		c.parked = append(c.parked[:best], c.parked[best+1:]...)
	}
}

// stopBuilder stops the builder, if it runs, and waits for it.
func (sh *Shell) stopBuilder() { sh.stopBuilderFor(0) }

// stopBuilderFor stops the builder for a move to event target: if what it
// builds now is a checkpoint before target, later than any there is, it
// finishes that one first (the move would otherwise re-execute that far
// itself).
func (sh *Shell) stopBuilderFor(target uint64) {
	b := sh.cps.b
	if b == nil {
		return
	}
	best := uint64(0)
	if target > 0 {
		sh.cps.mu.Lock()
		for _, p := range sh.cps.parked {
			if p.seq < target {
				best = p.seq
			}
		}
		sh.cps.mu.Unlock()
	}
	b.mu.Lock()
	if b.cur != nil && b.curAt > best && b.curAt < target {
		b.last.Store(true)
	} else {
		b.cancel.Store(true)
		if b.cur != nil {
			b.cur.Interrupt() // the Lua and the machine: it is thrown away
		}
	}
	b.mu.Unlock()
	<-b.done
	sh.cps.b, sh.cps.lastN = nil, 0
}

// waitCheckpoints waits until the builder has built what it set out to
// (the benchmark measures moves with the checkpoints in place).
func (sh *Shell) waitCheckpoints() {
	for sh.cps.b != nil {
		<-sh.cps.b.done
		sh.cps.b = nil
		sh.scheduleCheckpoints()
	}
}

// dropCheckpoints closes the checkpoints at or after event from (0: all).
func (sh *Shell) dropCheckpoints(from uint64) {
	sh.stopBuilder()
	c := &sh.cps
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastN = 0
	keep := c.parked[:0]
	for _, p := range c.parked {
		if from > 0 && p.seq < from {
			keep = append(keep, p)
		} else {
			p.close()
		}
	}
	c.parked = keep
}

// takeCheckpoint removes and returns the last checkpoint before event
// target (nil: none; target 0: none either, a whole re-execution starts
// at boot).
func (sh *Shell) takeCheckpoint(target uint64) *parked {
	sh.stopBuilderFor(target)
	c := &sh.cps
	c.mu.Lock()
	defer c.mu.Unlock()
	i := sort.Search(len(c.parked), func(i int) bool { return c.parked[i].seq >= target }) - 1
	if target == 0 || i < 0 {
		return nil
	}
	p := c.parked[i]
	c.parked = append(c.parked[:i], c.parked[i+1:]...)
	return p
}

// parkedCount is how many checkpoints the shell holds.
func (sh *Shell) parkedCount() int {
	sh.cps.mu.Lock()
	defer sh.cps.mu.Unlock()
	return len(sh.cps.parked)
}
