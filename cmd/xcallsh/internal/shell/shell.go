// Package shell is xcallsh's interactive shell (docs/shell.md): Main reads
// lines from a terminal (line editing, completion, history, Ctrl-C) or a
// pipe; New and Exec run them one at a time. Its commands are one table
// (commands.go), which also completes them (complete.go), prints their
// help and generates docs/commands.md (docs.go); report turns a session
// into a self-verifying report (shellreport.go); luafmt.go prints Lua
// values.
package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peterh/liner"
	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/session"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/traces"
	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/luabind"
)

// Shell is the interactive shell: one machine, a Lua session at operator
// level, and the command table (commands.go). Every line goes through Exec,
// whether it comes from a terminal, a pipe, a `source` file or a test.
//
// Everything a command does to the machine is Lua the shell runs in the
// session, under a chunk name of its own ("input#3", "on#4"); the shell
// keeps those chunks as the session's steps, and `report` turns them into a
// script that does exactly the same thing.
//
// All fields but the interrupt block belong to the goroutine that calls
// Exec. The interrupt block is shared with the signal goroutine (Interrupt):
// it is guarded by mu, except stopped, which is atomic.
type Shell struct {
	out, errOut io.Writer

	machine string // what to boot: a built-in name or a TOML file
	forced  bool   // -m or boot: the machine() Lua calls are ignored
	seed    uint64

	sess  *luabind.Session
	rec   *session.Recorder // the views; nil after going back until ensureViews (checkpoint.go)
	steps []shellStep
	ncmd  int      // commands since boot: numbers the chunk names
	notes []string // why a report might not replay this session exactly

	from, to int64 // the last interval that advanced time (timeline, trace)
	logShown int   // kernel log lines already printed

	interactive bool
	last        string // the last step, next or continue line (an empty line repeats it)
	quit        bool
	failures    int
	luaDead     bool                  // Ctrl-C stopped all Lua of the session: it cannot go on
	sourced     []string              // the files sourced since boot, for restart
	w           *watcher              // what the looking commands know of the run (inspect.go)
	stopCPU     int                   // the CPU of the event the machine last stopped at (-1: none)
	dbg         debugger              // breakpoints and stepping (breakpoints.go)
	quiet       *muteWriter           // the session's stdout: muted while re-executing
	cps         checkpoints           // parked re-executions, for going back (checkpoint.go)
	reexecStart uint64                // the event the last re-execution started after (0: boot)
	builtins    map[string]lua.LValue // the globals at boot; looked up, never ranged
	script      *script               // the chunk on the script goroutine, paused in breakpoint() between commands (script.go)

	// The interrupt block (Ctrl-C): set by guard around each command, read
	// and escalated by Interrupt.
	mu       sync.Mutex
	busy     bool
	cmdID    int
	level    int
	root     context.Context
	rootStop context.CancelFunc
	cmdStop  context.CancelFunc
	stopped  atomic.Bool      // the current command was interrupted
	running  *luabind.Session // the session the current command runs in
	// escalateAfter is how long each step waits before the next (SetEscalate).
	escalateAfter time.Duration
}

// shellStep is one chunk the shell ran, for reports.
type shellStep struct {
	line string // the command line as typed
	name string // the chunk name
	src  string // the Lua source

	// How the shell re-executes it (back, goto): with advanced set, it ran
	// pre (Lua, may be empty) and then advanced the machine by adv ns an
	// instant at a time, which src amounts to; else it ran src.
	pre      string
	adv      int64
	advanced bool
}

// Limits of the shell.
const (
	// onLimit is how much virtual time `on`, `offline` and `online` advance
	// at most while waiting for their task.
	onLimit int64 = 10e9
	// consoleLines is how many new kernel log lines a command prints.
	consoleLines = 40
	// DefaultEscalate is how long Ctrl-C waits before stopping harder
	// (see Interrupt), unless SetEscalate says otherwise.
	DefaultEscalate = 150 * time.Millisecond
)

// Exit statuses of Main (README.md, "Running scenarios").
const (
	exitOK      = 0
	exitFailed  = 1
	exitBadArgs = 2
)

// New creates a shell and boots its machine.
func New(machine string, forced bool, seed uint64, out, errOut io.Writer) (*Shell, error) {
	sh := &Shell{out: out, errOut: errOut, machine: machine, forced: forced, seed: seed, quiet: &muteWriter{w: out}, escalateAfter: DefaultEscalate}
	sh.dbg.stepCPU = -1
	if err := sh.boot(); err != nil {
		return nil, err
	}
	return sh, nil
}

// boot starts a fresh session on sh.machine: a new Lua state, a new
// machine, no steps.
func (sh *Shell) boot() error {
	sh.settle()
	rec := session.NewRecorder()
	rec.Act = traces.New()
	// trace FILE.dat writes trace-cmd's trace.dat, kept from boot on as
	// the record comes (traces.NewFile gives a TraceDat for a .dat name).
	rec.TraceFile = "shell.dat"
	sess, err := session.New(sh.machine, sh.forced, sh.seed, emu.SchedConfig{}, 0, sh.quiet, rec)
	if err != nil {
		return err
	}
	builtins := map[string]lua.LValue{}
	sess.L.G.Global.ForEach(func(k, v lua.LValue) {
		if s, ok := k.(lua.LString); ok {
			builtins[string(s)] = v
		}
	})
	sh.install(sess, rec, nil, sh.quiet, builtins)
	return nil
}

// install makes sess, just booted (or a checkpoint, with its watcher w and
// no views: rec nil), the shell's session, with no steps.
func (sh *Shell) install(sess *luabind.Session, rec *session.Recorder, w *watcher, quiet *muteWriter, builtins map[string]lua.LValue) {
	sh.settle()
	if sh.sess != nil {
		sh.sess.Close()
	}
	sh.sess, sh.rec, sh.quiet = sess, rec, quiet
	sess.Breakpoint = sh.breakpointHook
	sh.script = nil
	sh.steps, sh.ncmd, sh.notes = nil, 0, nil
	sh.luaDead, sh.sourced, sh.last = false, nil, ""
	sh.w, sh.stopCPU = w, -1
	if w != nil {
		w.sh = sh
	}
	sh.builtins = builtins
	sh.watch()
	sh.from, sh.to, sh.logShown = 0, 0, sess.K.M.LogPrinted()
	sh.root, sh.rootStop = context.WithCancel(context.Background())
}

// Close releases the session.
func (sh *Shell) Close() {
	sh.settle()
	sh.dropCheckpoints(0)
	if sh.sess != nil {
		sh.sess.Close()
	}
}

// Exec runs one input line: a command, or Lua. Errors are printed (and
// returned).
func (sh *Shell) Exec(line string) error {
	err := sh.execLine(line)
	sh.scheduleCheckpoints()
	if err != nil {
		sh.failures++
		fmt.Fprintln(sh.errOut, err)
	}
	return err
}

// execLine runs one line and returns its error, unprinted.
func (sh *Shell) execLine(line string) error {
	trimmed := strings.TrimSpace(line)
	if trimmed == "" {
		if !sh.interactive || sh.last == "" {
			return nil
		}
		// As Delve does: Enter repeats step, next and continue (only
		// those), and shows what it repeats.
		trimmed = sh.last
		fmt.Fprintln(sh.out, trimmed)
	}
	return sh.safely(trimmed)
}

// safely dispatches a line; a Go panic (a bug in xcallsh) becomes an error
// and leaves the shell running, though the machine may be beyond use.
func (sh *Shell) safely(line string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			sh.notes = append(sh.notes, fmt.Sprintf("%q hit an internal error", line))
			err = fmt.Errorf("internal error: %v\nThis is a bug in xcallsh, not in your input; please report it "+
				"(the report command records the session). boot starts over", r)
		}
	}()
	return sh.dispatch(line)
}

func (sh *Shell) dispatch(line string) error {
	sh.watch()
	cmd, args, ok := lookupCommand(line)
	if word, _, _ := strings.Cut(strings.ReplaceAll(line, "\t", " "), " "); ok && word != cmd.name && sh.isUserGlobal(word) {
		ok = false // a user's Lua global shadows an alias: t = {1, 2}; t
	}
	sh.last = ""
	if sh.script != nil {
		if ok && cmd.name == "continue" {
			if args != "" {
				return sh.pausedError("continue " + args)
			}
			sh.last = line
			return sh.resumeScript()
		}
		if !ok || cmd.runs || cmd.name == "boot" || cmd.name == "restart" || cmd.name == "report" {
			what := "Lua"
			if ok {
				what = cmd.name
			}
			return sh.pausedError(what)
		}
	}
	if !ok {
		if err := sh.over(); err != nil {
			return err
		}
		sh.settle()
		return sh.luaLine(line)
	}
	if cmd.runs {
		if err := sh.over(); err != nil {
			return err
		}
	}
	if (cmd.runs || cmd.name == "report") && !cmd.debug {
		sh.settle()
	}
	if cmd.repeat {
		sh.last = line
	}
	return cmd.fn(sh, args, line)
}

// isUserGlobal reports whether name is a Lua global the user set: one
// that differs from what the session had at boot (s, the seconds helper,
// is the API's, and does not shadow step).
func (sh *Shell) isUserGlobal(name string) bool {
	if !sh.isGlobal(name) {
		return false
	}
	v, ok := sh.builtins[name]
	return !ok || v != sh.sess.L.GetGlobal(name)
}

// isGlobal reports whether name is a Lua global with a value.
func (sh *Shell) isGlobal(name string) bool {
	return isIdent(name) && sh.sess.L.GetGlobal(name) != lua.LNil
}

// over returns an error when the session cannot run anything any more:
// the machine stopped (a kernel panic, a failed task) or Ctrl-C stopped
// all of its Lua. Commands that only look still work.
func (sh *Shell) over() error {
	why := ""
	if stopped, err := sh.sess.K.M.Stopped(); stopped {
		why = "the machine stopped"
		if err != nil {
			why = err.Error()
		}
	}
	if sh.luaDead {
		why = "Ctrl-C stopped all of its Lua"
	}
	if why == "" {
		return nil
	}
	return fmt.Errorf("the session is over (%s); boot or restart starts a new one", why)
}

// prefixed returns msg with "name: " in front, unless msg already starts
// with the chunk's name (a Lua error in it reads "on#7:1: boom").
func prefixed(name, msg string) error {
	if strings.HasPrefix(msg, name+":") {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %s", name, msg)
}

// lookupCommand splits a line into a command and its arguments. A line
// whose first word is not a command, or whose second word starts like Lua
// ("run = 1", "help(x)"), is Lua.
func lookupCommand(line string) (*command, string, bool) {
	word, rest, _ := strings.Cut(line, " ")
	if i := strings.IndexAny(word, "\t"); i >= 0 {
		word, rest = word[:i], word[i+1:]+" "+rest
	}
	cmd := findCommand(word)
	if cmd == nil {
		return nil, "", false
	}
	rest = strings.TrimSpace(rest)
	if rest != "" && strings.ContainsRune("=([.:,{\"'", rune(rest[0])) && cmd.name != "on" &&
		!(cmd.takesPath() && isPath(rest)) &&
		!(word == "p" && rest[0] != '=') && // p (1 + 2): an expression to print
		!(cmd.name == "timeline" && strings.HasPrefix(rest, "..")) { // timeline ..TO: a range
		return nil, "", false
	}
	return cmd, rest, true
}

// isPath reports whether an argument is written as a path (./x, ../x, ~/x,
// /x): such an argument of boot, source, report or trace is a file, never Lua.
func isPath(s string) bool {
	return strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || strings.HasPrefix(s, "~") || strings.HasPrefix(s, "/")
}

// expandPath replaces a leading ~/ by the home directory.
func expandPath(s string) string {
	if s == "~" || strings.HasPrefix(s, "~/") {
		if home, err := os.UserHomeDir(); err == nil && home != "" {
			return filepath.Join(home, s[1:])
		}
	}
	return s
}

// luaLine runs a line of operator-level Lua and prints its values.
func (sh *Shell) luaLine(line string) error {
	name := fmt.Sprintf("input#%d", sh.ncmd+1)
	src := line
	word := commandLikeWord(line)
	if _, err := sh.sess.L.Load(strings.NewReader("return "+line), name); err == nil {
		if word == line && isIdent(word) && !sh.isGlobal(word) {
			return unknownCommand(word)
		}
		src = "return " + line
	} else if _, err := sh.sess.L.Load(strings.NewReader(line), name); err != nil {
		if isIdent(word) && !luaKeywords[word] && !sh.isGlobal(word) {
			return unknownCommand(word)
		}
		return errors.New(luaErr(err))
	}
	sh.ncmd++
	vals, err := sh.run(line, name, src, true)
	if len(vals) > 0 {
		fmt.Fprintln(sh.out, fmtValues(sh.sess.L, vals))
	}
	return err
}

// commandLikeWord is the line's first word when the line reads like a
// command line (a word, then arguments that do not start like Lua), else "".
func commandLikeWord(line string) string {
	word, rest, _ := strings.Cut(strings.ReplaceAll(line, "\t", " "), " ")
	rest = strings.TrimSpace(rest)
	if rest != "" && strings.ContainsRune("=([.:,{\"'", rune(rest[0])) {
		return ""
	}
	return word
}

// luaKeywords are Lua's reserved words: a line starting with one is Lua.
var luaKeywords = map[string]bool{
	"and": true, "break": true, "do": true, "else": true, "elseif": true, "end": true,
	"false": true, "for": true, "function": true, "if": true, "in": true, "local": true,
	"nil": true, "not": true, "or": true, "repeat": true, "return": true, "then": true,
	"true": true, "until": true, "while": true, "goto": true,
}

// unknownCommand is the error for a line that is neither a command nor
// Lua, with the nearest command name when one is close (edit distance).
func unknownCommand(word string) error {
	best, bestD := "", 0
	if len(word) > 1 {
		limit := 1
		if len(word) > 4 {
			limit = 2
		}
		for _, c := range commands() {
			for _, n := range append([]string{c.name}, c.aliases...) {
				if len(n) < 2 {
					continue
				}
				if d := editDistance(word, n); d <= limit && (best == "" || d < bestD) {
					best, bestD = c.name, d
				}
			}
		}
	}
	if best != "" {
		return fmt.Errorf("unknown command %q (did you mean %s?)", word, best)
	}
	return fmt.Errorf("unknown command %q (help lists the commands; any other line is Lua)", word)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// luaErr is the message of a gopher-lua error, without its traceback.
func luaErr(err error) string {
	var api *lua.ApiError
	if errors.As(err, &api) && api.Object != nil {
		return strings.TrimSpace(api.Object.String())
	}
	return strings.TrimSpace(err.Error())
}

// run executes a chunk in the session, interruptibly, then prints the new
// kernel log lines. With record, the chunk becomes a step of the session
// (unless Ctrl-C stopped it: see recordInterrupted).
func (sh *Shell) run(line, name, src string, record bool) ([]lua.LValue, error) {
	vals, _, err := sh.runLevel(line, name, src, record)
	return vals, err
}

// runLevel is run, also saying how hard Ctrl-C had to stop it (0: it did not).
func (sh *Shell) runLevel(line, name, src string, record bool) ([]lua.LValue, int, error) {
	before := sh.mark()
	if record && sourceDepth == 0 {
		return sh.runScript(line, name, src)
	}
	var vals []lua.LValue
	var err error
	level := sh.guard(func() {
		vals, err = sh.sess.Exec(name, src)
	})
	interrupted := level > 0
	if interrupted {
		sh.afterInterrupt(sh.sess.K.M.Executed() != before.events)
		if record {
			sh.recordInterrupted(line, before)
		}
		err = fmt.Errorf("%s: interrupted", name)
		if sh.luaDead {
			err = fmt.Errorf("%s: interrupted; Ctrl-C had to stop all Lua of the session, which is over (boot or restart starts a new one)", name)
		}
	} else if record {
		sh.steps = append(sh.steps, shellStep{line: line, name: name, src: src})
	}
	sh.console()
	return vals, level, err
}

// machineMark is what changes when the machine does something.
type machineMark struct {
	now    int64
	events uint64
	rec    uint64 // events recorded
}

func (sh *Shell) mark() machineMark {
	m := sh.sess.K.M
	return machineMark{m.Now(), m.Executed(), m.Recorded()}
}

// recordInterrupted notes a chunk Ctrl-C stopped: it is not a step (it
// would run forever again), so if the machine changed meanwhile, a report
// will not match this session.
func (sh *Shell) recordInterrupted(line string, before machineMark) {
	if sh.mark() != before {
		sh.notes = append(sh.notes, fmt.Sprintf("%q was interrupted after the machine had changed; the report leaves it out", line))
	}
}

// guard runs fn as the command Ctrl-C interrupts; it returns how far the
// interrupt had to escalate (0: there was none).
func (sh *Shell) guard(fn func()) int {
	ctx, stop := context.WithCancel(sh.root)
	sh.sess.L.SetContext(ctx)
	sh.mu.Lock()
	sh.busy, sh.level, sh.cmdStop = true, 0, stop
	sh.cmdID++
	sh.running = sh.sess
	sh.stopped.Store(false)
	sh.mu.Unlock()
	defer func() {
		sh.mu.Lock()
		sh.busy = false
		sh.mu.Unlock()
	}()
	fn()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !sh.stopped.Load() {
		return 0
	}
	return max(sh.level, 1)
}

// Interrupt is Ctrl-C: it stops what the shell runs, in three steps of
// growing force, each taken only if the command is still running after
// the escalate delay:
//
//  1. interrupt the machine: a long run() or `on` stops at the next event
//     boundary, and every task keeps its state;
//  2. stop the Lua of the running command: a runaway chunk at operator
//     level, or in a task this command spawned, stops with "interrupted"
//     (such a task fails, which stops the machine);
//  3. stop all Lua of the session (Session.Interrupt): a runaway task from
//     an earlier command. The machine is then beyond repair; boot again.
//
// It is safe from any goroutine.
func (sh *Shell) Interrupt() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !sh.busy {
		return
	}
	sh.stopped.Store(true)
	sh.escalate(sh.cmdID)
}

// SetEscalate sets how long each step of Ctrl-C waits for the command
// to stop before the next, stronger step (DefaultEscalate). A test that
// expects the gentle first step sets it long, so that a loaded host
// answering late does not reach the second.
func (sh *Shell) SetEscalate(d time.Duration) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.escalateAfter = d
}

// escalate takes the next step for command id; sh.mu is held.
func (sh *Shell) escalate(id int) {
	if !sh.busy || sh.cmdID != id {
		return
	}
	sh.level++
	switch sh.level {
	case 1:
		sh.running.K.M.Interrupt()
	case 2:
		sh.cmdStop()
	case 3:
		sh.rootStop()
		sh.running.Interrupt()
	default:
		return
	}
	time.AfterFunc(sh.escalateAfter, func() {
		sh.mu.Lock()
		defer sh.mu.Unlock()
		sh.escalate(id)
	})
}

// afterInterrupt puts the session back in working order after Ctrl-C;
// ran says whether the machine executed events during the command.
func (sh *Shell) afterInterrupt(ran bool) {
	sh.mu.Lock()
	level := sh.level
	sh.mu.Unlock()
	m := sh.sess.K.M
	if level >= 2 {
		sh.sess.Reset()
	}
	if level >= 3 {
		sh.luaDead = true
		sh.root, sh.rootStop = context.WithCancel(context.Background())
		sh.notes = append(sh.notes, "Ctrl-C stopped all Lua of the session: its tasks cannot go on (boot starts over)")
	}
	m.ClearInterrupt()
	// A run stopped between two events of one instant: finish the instant,
	// so the machine is where run(now - start) would have left it.
	if stopped, _ := m.Stopped(); ran && !stopped {
		m.RunUntil(m.Now())
	}
}

// advance runs the machine until done() holds, the machine stops, or limit
// ns of virtual time pass; for a task (task set), also when the machine is
// stuck, without running out the clock. It returns how far it went and,
// when done() does not hold, why it stopped (timeUp: the limit).
//
// It executes one instant at a time (RunUntil of the next event's time,
// which executes the same events in the same order as one long RunUntil),
// so that an interrupt or a stuck machine stops it between instants.
func (sh *Shell) advance(done func() bool, limit int64, task bool) (adv int64, why string, level int) {
	m := sh.sess.K.M
	start := m.Now()
	level = sh.guard(func() {
		for steps := 1; ; steps++ {
			if done() || sh.stopped.Load() {
				return
			}
			if stopped, err := m.Stopped(); stopped {
				why = "the machine stopped"
				if err != nil {
					why = err.Error()
				}
				return
			}
			next, ok := m.NextEventTime()
			if !ok && task {
				why = "nothing left to run"
				if st := m.Stuck(); st != "" {
					why = "stuck: " + st
				}
				return
			}
			if !ok || next > start+limit {
				m.RunUntil(start + limit)
				why = timeUp
				return
			}
			if err := m.RunUntil(next); errors.Is(err, emu.ErrInterrupted) {
				return
			}
			if task && steps%1024 == 0 {
				if st := m.Stuck(); st != "" {
					why = "stuck: " + st
					return
				}
			}
		}
	})
	if level > 0 {
		sh.afterInterrupt(true)
		why = "interrupted"
	}
	return m.Now() - start, why, level
}

// timeUp is advance's why when the time limit was reached.
const timeUp = "time is up"

// console prints the kernel log lines that appeared since the last time.
func (sh *Shell) console() {
	if sh.quiet.mute {
		return
	}
	if sh.logShown > sh.sess.K.M.LogPrinted() {
		sh.logShown = 0 // the script booted another machine
	}
	fresh, lost := sh.sess.K.M.LogSince(sh.logShown)
	sh.logShown = sh.sess.K.M.LogPrinted()
	if lost > 0 {
		fmt.Fprintf(sh.out, "… %d kernel log lines went out of the log buffer before they were shown\n", lost)
	}
	for i, l := range fresh {
		if i == consoleLines {
			fmt.Fprintf(sh.out, "… %d more kernel log lines (dmesg shows them)\n", len(fresh)-i)
			break
		}
		fmt.Fprintln(sh.out, l.String())
	}
}

// interval records that virtual time moved from from to to.
func (sh *Shell) interval(from, to int64) {
	if to > from {
		sh.from, sh.to = from, to
	}
}

// incomplete reports whether line is Lua that needs more lines (an open
// function, table or string), so the shell reads on.
func (sh *Shell) incomplete(line string) bool {
	src := line
	if cmd, args, ok := lookupCommand(strings.TrimSpace(line)); ok {
		if cmd.name != "on" {
			return false
		}
		if _, rest, ok := strings.Cut(args, " "); ok {
			src = "return function() " + rest + "\nend"
		}
	}
	if _, err := sh.sess.L.Load(strings.NewReader("return "+src), "input"); err == nil {
		return false
	}
	_, err := sh.sess.L.Load(strings.NewReader(src), "input")
	return err != nil && strings.Contains(err.Error(), "at EOF")
}

// --- the two front ends -------------------------------------------------

// Options are how the shell starts: the machine to boot (a built-in name or
// a TOML file), whether it was given (-m: the script's machine() calls are
// then ignored), the seed, and whether stdin and stdout are a terminal.
type Options struct {
	Machine  string
	Forced   bool
	Seed     uint64
	Terminal bool
}

// Main is `xcallsh [-m MACHINE] [--seed N]` once its flags are read: it
// boots the machine and reads commands from stdin until the end, a quit,
// or (on a terminal) Ctrl-D, and returns the exit status.
func Main(o Options, stdin io.Reader, stdout, stderr io.Writer) int {
	sh, err := New(o.Machine, o.Forced, o.Seed, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "xcallsh: %v\n", err)
		return exitBadArgs
	}
	defer sh.Close()
	if o.Terminal {
		return sh.terminal()
	}
	return sh.piped(stdin)
}

// piped reads commands from r: no prompt, no line editing, no escape codes.
func (sh *Shell) piped(r io.Reader) int {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for !sh.quit && sc.Scan() {
		line := sc.Text()
		for !sh.quit && sh.incomplete(line) && sc.Scan() {
			line += "\n" + sc.Text()
		}
		sh.Exec(line)
	}
	fmt.Fprintln(sh.errOut, sh.summary())
	if sh.failures > 0 {
		return exitFailed
	}
	return exitOK
}

// terminal is the interactive loop on liner.
func (sh *Shell) terminal() int {
	sh.interactive = true
	ln := liner.NewLiner()
	defer ln.Close()
	ln.SetCtrlCAborts(true)
	ln.SetTabCompletionStyle(liner.TabPrints)
	ln.SetWordCompleter(sh.complete)
	hist := historyPath()
	if hist != "" {
		if f, err := os.Open(hist); err == nil {
			ln.ReadHistory(f)
			f.Close()
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	go func() {
		for range sigs {
			sh.Interrupt()
		}
	}()
	spec := sh.sess.Spec()
	fmt.Fprintf(sh.out, "xcallsh on %s, seed %d: help lists the commands; any other line is Lua.\n", spec.Name, sh.seed)
	for !sh.quit {
		line, err := ln.Prompt("xcallsh> ")
		if errors.Is(err, liner.ErrPromptAborted) {
			continue
		}
		if err != nil { // io.EOF: Ctrl-D
			fmt.Fprintln(sh.out)
			break
		}
		cancelled := false
		for sh.incomplete(line) {
			more, err := ln.Prompt(">> ")
			if err != nil { // Ctrl-C or Ctrl-D on a continuation line cancels it
				cancelled = true
				break
			}
			line += "\n" + more
		}
		if cancelled {
			continue
		}
		if strings.TrimSpace(line) != "" {
			ln.AppendHistory(strings.TrimRight(line, " \t"))
			saveHistory(ln, hist, sh.errOut)
		}
		sh.Exec(line)
	}
	fmt.Fprintln(sh.errOut, sh.summary())
	return exitOK
}

// historyPath is $XDG_CONFIG_HOME/xcallsh/history, or
// ~/.config/xcallsh/history; "" when neither can be found.
func historyPath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "xcallsh", "history")
}

// saveHistory writes the history file, readable by its owner only.
func saveHistory(ln *liner.State, path string, errOut io.Writer) {
	if path == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return
	}
	f.Chmod(0o600)
	ln.WriteHistory(f)
	f.Close()
}

// summary is the session's summary line.
func (sh *Shell) summary() string {
	if err := sh.ensureViews(); err != nil {
		return "xcallsh: " + err.Error()
	}
	return session.Summary(sh.sess, session.Outcome(sh.sess, nil).Kind, sh.rec.Log.Hash())
}
