package shell

// Breakpoints and stepping on the event record (emu.Event), and going back
// by re-execution.
//
// A breakpoint is a filter on the record (a kind and key=value fields, a
// Lua condition), a cpuhp state, or a virtual time. continue, step and next
// run the machine on a goroutine of their own (the engine goroutine, see
// drive) with the debugger armed: it reads every recorded event, and when
// one matches, the recorder blocks right there, inside the event, and hands
// control back to the shell. The machine is then exactly at that event:
// the function of a csd_function_entry has not run yet, and where, cpu,
// queue, csd and ipis look at the machine as it is there (they only read).
// The next continue or step resumes the engine where it blocked.
//
// Anything else that changes the machine (a Lua line, run, on, report,
// boot) first settles: the engine finishes the instant it stopped in,
// unarmed, and the machine is back at an instant boundary, where Lua can
// act. So a continue that stopped amounts to run(ADV), which is the step
// the session records, and reports stay exact.
//
// Going back (back, reverse-continue, goto an earlier event or time) boots
// the same machine on the same seed and re-executes the session's steps
// until the target event: a run is deterministic, so that is the machine as
// it was there. Steps after that point are discarded.

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/units"
	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/xcall"
)

// breakpoint is one breakpoint.
type breakpoint struct {
	id   int
	spec string // as typed after break

	kind   emu.EventKind // EvNone: a time breakpoint
	at     int64         // the time of a time breakpoint
	cpu    int           // -1: any
	vector string        // "": any; a name or a number
	csd    uint64        // 0: any
	fn     string
	task   string
	state  string // cpuhp:STATE
	cond   string // Lua, "" for none

	condL  *lua.LState // where condFn was compiled
	condFn *lua.LFunction
	condEn *lua.LTable

	off  bool
	hits int
}

// debugger is the shell's breakpoints and the state of the current advance.
type debugger struct {
	bps    []*breakpoint
	nextID int

	// While armed, every recorded event goes through record.
	armed    bool
	stepLeft int    // step/next: stop after this many more events
	stepCPU  int    // next: only events on this CPU count (-1: any)
	target   uint64 // goto: stop at the first boundary at or after this event (0: none)
	collect  bool   // reverse-continue's pass: note hits, do not stop
	noBreak  bool   // re-execution: breakpoints do not stop

	// The engine goroutine: active from the first armed advance until it
	// ends (its run limit, nothing left, a settle); while it is blocked at
	// an event, the shell's goroutine runs commands.
	active bool
	resume chan struct{}
	msgs   chan engineMsg
	until  int64 // the time the engine runs to at most
	task   bool  // stop when nothing is left to run, rather than let time pass
	finish bool  // end at the next instant boundary (settle)

	stopped bool
	hit     *breakpoint
	hitSeq  uint64
	hitLine string
	condErr error
	seen    []string // the events of this advance, formatted (step, next)
	others  int      // next: events on other CPUs
	show    bool
	hitSeqs []uint64 // collect: where breakpoints matched
	lastHit uint64   // the event of the last stop at a breakpoint
}

// maxSeen bounds the events a step keeps to show.
const maxSeen = 200

// contLimit is how much virtual time continue, step and next advance at most.
const contLimit = onLimit

// engineMsg is what the engine goroutine tells the shell: it stopped at
// an event (and blocks there), or its advance ended, and why.
type engineMsg struct {
	stopped bool
	why     string
}

// begin arms the debugger for one advance.
func (d *debugger) begin() {
	d.armed, d.stopped, d.hit, d.condErr = true, false, nil, nil
	d.seen, d.others, d.hitLine = nil, 0, ""
}

// end disarms it.
func (d *debugger) end() {
	d.armed, d.stepLeft, d.stepCPU, d.target, d.collect, d.noBreak, d.show = false, 0, -1, 0, false, false, false
}

// record is the debugger's look at one recorded event.
func (sh *Shell) record(e *emu.Event) {
	d := &sh.dbg
	if !d.armed {
		return
	}
	if d.show && (d.stepCPU < 0 || e.CPU == d.stepCPU) {
		if len(d.seen) < maxSeen {
			d.seen = append(d.seen, sh.fmtEvent(e))
		}
	} else if d.show {
		d.others++
	}
	if d.stopped {
		return
	}
	stop := func() {
		d.stopped = true
		sh.stopCPU = e.CPU
		d.msgs <- engineMsg{stopped: true}
		<-d.resume // the next command: d says what it wants
	}
	if d.target > 0 && e.Seq >= d.target {
		stop()
		return
	}
	if d.stepLeft > 0 && (d.stepCPU < 0 || e.CPU == d.stepCPU) {
		if d.stepLeft--; d.stepLeft == 0 {
			stop()
			return
		}
	}
	if d.noBreak {
		return
	}
	for _, bp := range d.bps {
		if bp.off || bp.kind == emu.EvNone || !sh.matches(bp, e) {
			continue
		}
		if d.collect {
			d.hitSeqs = append(d.hitSeqs, e.Seq)
			return
		}
		bp.hits++
		d.hit, d.hitSeq, d.hitLine, d.lastHit = bp, e.Seq, sh.fmtEvent(e), e.Seq
		stop()
		return
	}
}

// matches reports whether e is what bp waits for.
func (sh *Shell) matches(bp *breakpoint, e *emu.Event) bool {
	switch {
	case bp.state != "":
		if (e.Kind != emu.EvCpuhpEnter && e.Kind != emu.EvCpuhpMultiEnter) || e.StateName != bp.state {
			return false
		}
	case e.Kind != bp.kind:
		return false
	}
	if bp.cpu >= 0 && e.CPU != bp.cpu {
		return false
	}
	if bp.vector != "" && bp.vector != sh.vectorName(e.Vector) {
		n, err := strconv.ParseInt(bp.vector, 0, 64)
		if err != nil || int(n) != e.Vector {
			return false
		}
	}
	if bp.csd != 0 && e.CSD != bp.csd {
		return false
	}
	if bp.fn != "" && e.Func != bp.fn && e.Fn != bp.fn {
		return false
	}
	if bp.task != "" && !taskIs(bp.task, e.Comm, e.PID) && (e.TaskComm == "" || !taskIs(bp.task, e.TaskComm, e.TaskPID)) {
		return false
	}
	if bp.cond != "" {
		ok, err := sh.evalCond(bp, e)
		if err != nil {
			sh.dbg.condErr = fmt.Errorf("breakpoint %d: condition %s: %v", bp.id, bp.cond, err)
			return true // stop, as gdb does on an error in a condition
		}
		return ok
	}
	return true
}

// condGlobals are what a condition may use besides info: no operator
// function (run, spawn) can be called from inside the machine.
var condGlobals = []string{"math", "string", "tostring", "tonumber", "type", "pairs", "ipairs", "select", "cpumask"}

// evalCond evaluates bp's condition with info set to e.
func (sh *Shell) evalCond(bp *breakpoint, e *emu.Event) (bool, error) {
	L := sh.sess.L
	if bp.condL != L {
		fn, err := L.Load(strings.NewReader("return ("+bp.cond+")"), fmt.Sprintf("break#%d", bp.id))
		if err != nil {
			return false, errors.New(luaErr(err))
		}
		env := L.NewTable()
		for _, g := range condGlobals {
			env.RawSetString(g, L.GetGlobal(g))
		}
		fn.Env = env
		bp.condL, bp.condFn, bp.condEn = L, fn, env
	}
	bp.condEn.RawSetString("info", sh.eventTable(L, e))
	if err := L.CallByParam(lua.P{Fn: bp.condFn, NRet: 1, Protect: true}); err != nil {
		return false, errors.New(luaErr(err))
	}
	v := L.Get(-1)
	L.Pop(1)
	return lua.LVAsBool(v), nil
}

// parseBreak reads a breakpoint spec.
func (sh *Shell) parseBreak(spec string) (*breakpoint, error) {
	bp := &breakpoint{spec: spec, cpu: -1, at: -1}
	rest := spec
	if i := strings.Index(" "+rest+" ", " if "); i >= 0 {
		bp.cond = strings.TrimSpace(rest[min(i+3, len(rest)):])
		rest = strings.TrimSpace(rest[:i])
		if bp.cond == "" {
			return nil, errors.New("break: nothing after if")
		}
		if _, err := sh.sess.L.Load(strings.NewReader("return ("+bp.cond+")"), "break"); err != nil {
			return nil, fmt.Errorf("break: the condition is not a Lua expression: %s", luaErr(err))
		}
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return nil, errors.New("usage: break KIND [cpu=N] [vector=V] [csd=ID] [func=NAME] [task=NAME] [if COND] | break cpuhp:STATE | break @TIME")
	}
	switch what := f[0]; {
	case strings.HasPrefix(what, "@"):
		d, err := units.ParseDuration(what[1:])
		if err != nil {
			return nil, fmt.Errorf("break: %v", err)
		}
		if len(f) > 1 || bp.cond != "" {
			return nil, errors.New("break @TIME takes nothing else")
		}
		bp.at = d.Nanoseconds()
		return bp, nil
	case strings.HasPrefix(what, "cpuhp:"):
		bp.state = strings.TrimPrefix(what, "cpuhp:")
		bp.kind = emu.EvCpuhpEnter
		if !slices.Contains(xcall.CPUHPStates(), bp.state) {
			return nil, fmt.Errorf("break: no cpuhp state %q (states: %s)", bp.state, strings.Join(xcall.CPUHPStates(), ", "))
		}
	default:
		k, ok := emu.ParseEventKind(what)
		if !ok {
			return nil, fmt.Errorf("break: unknown event kind %q%s (kinds: %s)", what, nearestKind(what), kindNames())
		}
		bp.kind = k
	}
	for _, kv := range f[1:] {
		key, val, ok := strings.Cut(kv, "=")
		if !ok || val == "" {
			return nil, fmt.Errorf("break: %q is not KEY=VALUE (cpu, vector, csd, func, task)", kv)
		}
		switch key {
		case "cpu":
			n, err := sh.cpuArg("break", val)
			if err != nil {
				return nil, err
			}
			bp.cpu = n
		case "vector":
			bp.vector = val
		case "csd":
			n, err := strconv.ParseUint(strings.TrimPrefix(val, "#"), 10, 64)
			if err != nil || n == 0 {
				return nil, fmt.Errorf("break: bad csd id %q", val)
			}
			bp.csd = n
		case "func":
			bp.fn = val
		case "task":
			bp.task = val
		default:
			return nil, fmt.Errorf("break: unknown key %q (cpu, vector, csd, func, task)", key)
		}
	}
	return bp, nil
}

// taskIs reports whether a task=NAME key names comm (or comm-pid).
func taskIs(name, comm string, pid int) bool {
	return name == comm || name == fmt.Sprintf("%s-%d", comm, pid)
}

func kindNames() string {
	var out []string
	for _, k := range emu.EventKinds() {
		out = append(out, k.String())
	}
	return strings.Join(out, ", ")
}

func nearestKind(s string) string {
	best, bestD := "", len(s)/3+2
	for _, k := range emu.EventKinds() {
		if d := editDistance(s, k.String()); d < bestD {
			best, bestD = k.String(), d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

func cmdBreak(sh *Shell, args, line string) error {
	if args == "" {
		return cmdBreakpoints(sh, "", line)
	}
	bp, err := sh.parseBreak(args)
	if err != nil {
		return err
	}
	sh.dbg.nextID++
	bp.id = sh.dbg.nextID
	sh.dbg.bps = append(sh.dbg.bps, bp)
	fmt.Fprintf(sh.out, "Breakpoint %d: %s\n", bp.id, bp.spec)
	return nil
}

func cmdBreakpoints(sh *Shell, args, line string) error {
	if len(sh.dbg.bps) == 0 {
		fmt.Fprintln(sh.out, "no breakpoints (break KIND sets one)")
		return nil
	}
	fmt.Fprintf(sh.out, "%4s  %-3s  %5s  %s\n", "NUM", "ON", "HITS", "WHAT")
	for _, bp := range sh.dbg.bps {
		on := "yes"
		if bp.off {
			on = "no"
		}
		fmt.Fprintf(sh.out, "%4d  %-3s  %5d  %s\n", bp.id, on, bp.hits, bp.spec)
	}
	return nil
}

// findBreak returns the breakpoint a command's argument names.
func (sh *Shell) findBreak(cmd, args string) (int, error) {
	n, err := strconv.Atoi(args)
	if err == nil {
		for i, bp := range sh.dbg.bps {
			if bp.id == n {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("%s: no breakpoint %q (breakpoints lists them)", cmd, args)
}

func cmdClear(sh *Shell, args, line string) error {
	if args == "all" {
		sh.dbg.bps = nil
		fmt.Fprintln(sh.out, "cleared every breakpoint")
		return nil
	}
	i, err := sh.findBreak("clear", args)
	if err != nil {
		return err
	}
	fmt.Fprintf(sh.out, "cleared breakpoint %d: %s\n", sh.dbg.bps[i].id, sh.dbg.bps[i].spec)
	sh.dbg.bps = append(sh.dbg.bps[:i], sh.dbg.bps[i+1:]...)
	return nil
}

func cmdToggle(sh *Shell, args, line string) error {
	i, err := sh.findBreak("toggle", args)
	if err != nil {
		return err
	}
	bp := sh.dbg.bps[i]
	bp.off = !bp.off
	state := "on"
	if bp.off {
		state = "off"
	}
	fmt.Fprintf(sh.out, "breakpoint %d is %s\n", bp.id, state)
	return nil
}

// drive runs the engine goroutine (starting it, or resuming it where it
// blocked) until it stops at an event or its advance ends. It is the
// command Ctrl-C interrupts.
func (sh *Shell) drive() (msg engineMsg, level int) {
	d := &sh.dbg
	level = sh.guard(func() {
		if !d.active {
			d.active = true
			d.resume, d.msgs = make(chan struct{}), make(chan engineMsg)
			go sh.engine()
		} else {
			d.resume <- struct{}{}
		}
		msg = <-d.msgs
		d.active = msg.stopped
	})
	if level > 0 {
		if d.active { // it stopped at an event as Ctrl-C came: let it end
			d.end()
			d.finish = true
			d.resume <- struct{}{}
			d.active = (<-d.msgs).stopped
			d.finish = false
		}
		sh.afterInterrupt(true)
	}
	return msg, level
}

// engine is the engine goroutine: advance's loop, an instant at a time
// (RunUntil of the next event's time, as one long RunUntil would run them),
// reading its limits from sh.dbg each time round, since a command may
// change them while the engine is blocked at an event.
func (sh *Shell) engine() {
	d := &sh.dbg
	m := sh.sess.K.M
	end := func(why string) { d.msgs <- engineMsg{why: why} }
	for steps := 1; ; steps++ {
		if d.finish {
			end("")
			return
		}
		if sh.stopped.Load() { // Ctrl-C: stop at this instant boundary
			end("interrupted")
			return
		}
		if stopped, err := m.Stopped(); stopped {
			why := "the machine stopped"
			if err != nil {
				why = err.Error()
			}
			end(why)
			return
		}
		next, ok := m.NextEventTime()
		if !ok && d.task {
			why := "nothing left to run"
			if st := sh.sess.K.Stuck(); st != "" {
				why = "stuck: " + st
			}
			end(why)
			return
		}
		if !ok || next > d.until {
			m.RunUntil(d.until)
			end(timeUp)
			return
		}
		if err := m.RunUntil(next); errors.Is(err, emu.ErrInterrupted) {
			end("interrupted")
			return
		}
		if d.task && steps%1024 == 0 {
			if st := sh.sess.K.Stuck(); st != "" {
				end("stuck: " + st)
				return
			}
		}
	}
}

// debugAdvance advances the machine with the debugger armed (the caller
// set what stops it), by at most limit ns, and records the step. task:
// stop when nothing is left to run rather than let time pass.
func (sh *Shell) debugAdvance(cmd, line string, limit int64, task bool) (adv int64, why string, level int) {
	m := sh.sess.K.M
	d := &sh.dbg
	from := m.Now()
	d.until, d.task, d.finish = from+limit, task, false
	d.begin()
	msg, level := sh.drive()
	d.armed = false
	adv, why = m.Now()-from, msg.why
	sh.interval(from, from+adv)
	sh.ncmd++
	name := fmt.Sprintf("%s#%d", cmd, sh.ncmd)
	if level <= 1 {
		sh.steps = append(sh.steps, shellStep{line: line, name: name, src: "return run(" + units.Lua(adv) + ")",
			adv: adv, advanced: true})
	} else {
		sh.notes = append(sh.notes, fmt.Sprintf("%q was interrupted inside a task; the report leaves it out", line))
	}
	if d.show { // step and next show the printk events themselves
		sh.logShown = m.LogPrinted()
	} else {
		sh.console()
	}
	return adv, why, level
}

// stopReport says where the machine stopped after continue, step or next.
func (sh *Shell) stopReport(why string, level int) error {
	d := &sh.dbg
	m := sh.sess.K.M
	switch {
	case level > 1:
		return errors.New("interrupted inside a task, which failed and stopped the machine (boot starts over)")
	case d.condErr != nil:
		fmt.Fprintln(sh.out, d.hitLine)
		return d.condErr
	case d.hit != nil:
		fmt.Fprintf(sh.out, "Breakpoint %d (%s), event #%d on CPU%d at %s\n", d.hit.id, d.hit.spec, d.hitSeq, sh.stopCPU, units.Virtual(m.Now()))
		fmt.Fprintln(sh.out, d.hitLine)
	case d.stopped:
	case level == 1:
		return fmt.Errorf("interrupted at %s", units.Virtual(m.Now()))
	default:
		for _, bp := range d.bps {
			if !bp.off && bp.kind == emu.EvNone && bp.at == m.Now() {
				bp.hits++
				fmt.Fprintf(sh.out, "Breakpoint %d (@%s) at %s\n", bp.id, units.Dur(bp.at), units.Virtual(m.Now()))
				return nil
			}
		}
		if why == timeUp {
			fmt.Fprintf(sh.out, "no breakpoint hit; virtual time %s\n", units.Virtual(m.Now()))
			return nil
		}
		if why != "" {
			fmt.Fprintf(sh.out, "%s at %s\n", why, units.Virtual(m.Now()))
		}
		if p := sh.sess.K.Panicked(); p != "" {
			fmt.Fprintf(sh.out, "panic: %s\n", p)
		}
	}
	return nil
}

// timeLimit is how far continue may go: limit, or less to stop at a time
// breakpoint. timed says a time breakpoint is due in it.
func (sh *Shell) timeLimit(limit int64) (int64, bool) {
	now := sh.sess.K.M.Now()
	timed := false
	for _, bp := range sh.dbg.bps {
		if !bp.off && bp.kind == emu.EvNone && bp.at > now && bp.at-now <= limit {
			limit, timed = bp.at-now, true
		}
	}
	return limit, timed
}

func cmdContinue(sh *Shell, args, line string) error {
	limit, task := contLimit, true
	if args != "" {
		d, err := units.ParseDuration(args)
		if err != nil {
			return fmt.Errorf("continue: %v", err)
		}
		limit, task = d.Nanoseconds(), false
	}
	limit, timed := sh.timeLimit(limit)
	task = task && !timed
	_, why, level := sh.debugAdvance("continue", line, limit, task)
	return sh.stopReport(why, level)
}

func cmdStep(sh *Shell, args, line string) error { return sh.stepping("step", args, line, -1) }

func cmdNext(sh *Shell, args, line string) error {
	cpu := sh.stopCPU
	if cpu < 0 {
		cpu = 0
	}
	return sh.stepping("next", args, line, cpu)
}

// stepping is step (cpu -1: any event counts) and next (only cpu's).
func (sh *Shell) stepping(cmd, args, line string, cpu int) error {
	n := 1
	if args != "" {
		v, err := strconv.Atoi(args)
		if err != nil || v < 1 {
			return fmt.Errorf("%s: bad count %q", cmd, args)
		}
		n = v
	}
	d := &sh.dbg
	limit, _ := sh.timeLimit(contLimit)
	d.stepLeft, d.stepCPU, d.show = n, cpu, true
	defer d.end()
	_, why, level := sh.debugAdvance(cmd, line, limit, true)
	if len(d.seen) == maxSeen {
		fmt.Fprintf(sh.out, "(the first %d events)\n", maxSeen)
	}
	for _, l := range d.seen {
		fmt.Fprintln(sh.out, l)
	}
	if d.others > 0 {
		fmt.Fprintf(sh.out, "(%d events on other CPUs)\n", d.others)
	}
	if d.hit == nil && d.stopped && d.condErr == nil {
		fmt.Fprintf(sh.out, "stopped after event #%d at %s\n", sh.sess.K.M.Recorded(), units.Virtual(sh.sess.K.M.Now()))
		return nil
	}
	return sh.stopReport(why, level)
}

// settle lets an engine blocked at an event finish its instant, unarmed,
// so that the machine is at an instant boundary before anything else
// changes it (see the file comment).
func (sh *Shell) settle() {
	d := &sh.dbg
	if !d.active {
		return
	}
	d.end()
	d.finish = true
	sh.drive()
	d.finish = false
	sh.console()
}

// --- going back ------------------------------------------------------------

// reexec re-executes the session's steps until the first event boundary
// at or after event target (0: all of them), from the last checkpoint
// before target (checkpoint.go) or, with none, from a fresh boot. It
// returns whether it stopped there. Output is discarded meanwhile. With
// views, it boots with the views of a run attached and re-executes
// everything (ensureViews); without, the session it leaves has none
// until ensureViews.
func (sh *Shell) reexec(target uint64, collect bool, how reexecFrom) (bool, error) {
	views := how == withViews
	steps, notes, sourced, ncmd, bps := sh.steps, sh.notes, sh.sourced, sh.ncmd, sh.dbg.bps
	sh.quiet.mute = true
	defer func() { sh.quiet.mute = false }() // sh.quiet: the new session's
	var cp *parked
	if views {
		if err := sh.boot(); err != nil {
			return false, err
		}
	} else {
		sh.settle()
		if how == fromCheckpoint {
			cp = sh.takeCheckpoint(target)
		}
		if cp == nil {
			p, err := sh.bootConfig().bareSession()
			if err != nil {
				return false, err
			}
			cp = p
		}
		cp.w.inheritTimes(sh.w, cp.seq)
		sh.install(cp.sess, nil, cp.w, cp.quiet, cp.builtins)
		sh.quiet.mute = true
		sh.steps = append(sh.steps, steps[:cp.idx]...)
	}
	sh.notes, sh.sourced, sh.dbg.bps = notes, sourced, bps
	m := sh.sess.K.M
	d := &sh.dbg
	defer func() { sh.ncmd = ncmd; sh.logShown = m.LogPrinted() }()
	start := 0
	sh.reexecStart = 0
	if cp != nil {
		start, sh.reexecStart = cp.idx, cp.seq
	}
	for i := start; i < len(steps); i++ {
		st := steps[i]
		if target > 0 && m.Recorded() >= target {
			return false, nil
		}
		from := m.Now()
		if resumed := cp != nil && i == cp.idx && cp.mid; resumed {
			from = cp.from // the checkpoint is inside this step's advance
		} else {
			src := st.src
			if st.advanced {
				src = st.pre
			}
			if src != "" {
				var err error
				level := sh.guard(func() { _, err = sh.sess.Exec(st.name, src) })
				if level > 0 {
					sh.afterInterrupt(true)
					return false, errors.New("interrupted while re-executing the session; restart starts over")
				}
				_ = err // the step's error was shown when it first ran
			}
			if !st.advanced {
				sh.steps = append(sh.steps, st)
				continue
			}
			from = m.Now()
		}
		d.target, d.collect, d.noBreak = target, collect, !collect
		d.until, d.task, d.finish = from+st.adv, false, false
		d.begin()
		msg, level := sh.drive()
		d.end()
		if level > 0 {
			return false, errors.New("interrupted while re-executing the session; restart starts over")
		}
		if msg.stopped {
			st.adv, st.src = m.Now()-from, "return run("+units.Lua(m.Now()-from)+")"
			sh.steps = append(sh.steps, st)
			return true, nil
		}
		sh.steps = append(sh.steps, st)
	}
	return false, nil
}

// reexecFrom is where reexec starts.
type reexecFrom int

const (
	fromCheckpoint reexecFrom = iota // the last checkpoint before the target, or boot
	fromBoot                         // boot, without views
	withViews                        // boot, with the views of a run
)

// ensureViews gives the session its views (trace, timeline, the Perfetto
// file, the report hash) when going back left it without: it re-executes
// the session, views attached, to where it is now (the event the machine
// stopped at, or the end of its steps), keeping what the user sees of the
// position (the last interval, the CPU stopped on).
func (sh *Shell) ensureViews() error {
	if sh.rec != nil {
		return nil
	}
	if sh.script != nil {
		return errors.New("going back left this session without its traces, and they are rebuilt by re-executing it, " +
			"which cannot be done while a script is paused in breakpoint() (continue first)")
	}
	target := uint64(0)
	if sh.dbg.active {
		target = sh.sess.K.M.Recorded()
	}
	from, to, stopCPU, last, ncmd := sh.from, sh.to, sh.stopCPU, sh.last, sh.ncmd
	_, err := sh.reexec(target, false, withViews)
	if err != nil {
		return err
	}
	sh.from, sh.to, sh.stopCPU, sh.last, sh.ncmd = from, to, stopCPU, last, ncmd
	return nil
}

// goBack re-executes to event target (an earlier one) and says where it is.
func (sh *Shell) goBack(cmd string, target uint64) error {
	if target < 1 {
		target = 1
	}
	exact, err := sh.reexec(target, false, fromCheckpoint)
	sh.dropCheckpoints(target)
	if err != nil {
		return fmt.Errorf("%s: %v", cmd, err)
	}
	m := sh.sess.K.M
	at := m.Recorded()
	if !exact {
		fmt.Fprintf(sh.out, "back at the end of a step: event #%d at %s (the nearest point the shell can stop at before #%d)\n", at, units.Virtual(m.Now()), target)
		return nil
	}
	fmt.Fprintf(sh.out, "back at event #%d at %s\n", at, units.Virtual(m.Now()))
	return nil
}

func cmdBack(sh *Shell, args, line string) error {
	n := uint64(1)
	if args != "" {
		v, err := strconv.ParseUint(args, 10, 64)
		if err != nil || v < 1 {
			return fmt.Errorf("back: bad count %q", args)
		}
		n = v
	}
	pos := sh.sess.K.M.Recorded()
	if n >= pos {
		return sh.goBack("back", 1)
	}
	return sh.goBack("back", pos-n)
}

func cmdReverseContinue(sh *Shell, args, line string) error {
	if args != "" {
		return errors.New("usage: reverse-continue")
	}
	before := sh.dbg.lastHit
	pos := sh.sess.K.M.Recorded()
	limit := pos
	if before > 0 && before < pos {
		limit = before
	}
	// Pass 1: where did the breakpoints match before here? After the last
	// checkpoint first; from boot when nothing matched there.
	var prev uint64
	for _, how := range []reexecFrom{fromCheckpoint, fromBoot} {
		_, err := sh.reexec(pos, true, how)
		sh.dropCheckpoints(pos)
		if err != nil {
			sh.dbg.hitSeqs = nil
			return fmt.Errorf("reverse-continue: %v", err)
		}
		for _, s := range sh.dbg.hitSeqs {
			if s < limit {
				prev = s
			}
		}
		sh.dbg.hitSeqs = nil
		if prev != 0 || sh.reexecStart == 0 {
			break
		}
	}
	if prev == 0 {
		fmt.Fprintln(sh.out, "no breakpoint hit earlier in the session; still at event", pos)
		return nil
	}
	if err := sh.goBack("reverse-continue", prev); err != nil {
		return err
	}
	sh.dbg.lastHit = prev
	return nil
}

func cmdGoto(sh *Shell, args, line string) error {
	if args == "" {
		return errors.New("usage: goto #EVENT | goto TIME")
	}
	m := sh.sess.K.M
	pos := m.Recorded()
	if n, err := strconv.ParseUint(strings.TrimPrefix(args, "#"), 10, 64); err == nil {
		if n > pos { // forward, as continue would, past any breakpoint
			sh.dbg.target, sh.dbg.noBreak = n, true
			defer sh.dbg.end()
			_, why, level := sh.debugAdvance("goto", line, contLimit, true)
			if !sh.dbg.stopped {
				return sh.stopReport(why, level)
			}
			fmt.Fprintf(sh.out, "at event #%d at %s\n", m.Recorded(), units.Virtual(m.Now()))
			return nil
		}
		return sh.goBack("goto", n)
	}
	d, err := units.ParseDuration(strings.TrimPrefix(args, "@"))
	if err != nil {
		return fmt.Errorf("goto: %q is neither an event (#N) nor a time (%v)", args, err)
	}
	t := d.Nanoseconds()
	if t >= m.Now() {
		_, why, level := sh.debugAdvance("goto", line, t-m.Now(), false)
		if level > 0 || sh.dbg.stopped {
			return sh.stopReport(why, level)
		}
		fmt.Fprintf(sh.out, "at %s\n", units.Virtual(m.Now()))
		return nil
	}
	// The last event at or before t, from the times the watcher kept.
	n := sh.watch().lastAtOrBefore(t)
	return sh.goBack("goto", n)
}

// lastAtOrBefore is the number of the last recorded event at or before t
// (0: none).
func (w *watcher) lastAtOrBefore(t int64) uint64 {
	i := sort.Search(len(w.times), func(i int) bool { return w.times[i] > t })
	if i == 0 {
		return 0
	}
	return w.firstSeq + uint64(i) - 1
}

// muteWriter is the session's output, silenced while the shell re-executes.
type muteWriter struct {
	w    io.Writer
	mute bool
}

func (m *muteWriter) Write(p []byte) (int, error) {
	if m.mute {
		return len(p), nil
	}
	return m.w.Write(p)
}
