// Package luabind exposes the emulated machine to Lua (gopher-lua): the
// operator API a script uses at top level (machine, spawn, run, ...) and
// the kernel API its tasks and cross-called functions use
// (smp_call_function_single, ...), with the names of docs/api.md.
//
// Scripts are untrusted: only Lua's base, table, string and math libraries
// are opened, without dofile, loadfile, require, module, string.dump or any
// way to reach files, processes or the network; math.random draws from the
// run's seeded generator.
package luabind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/xcall"
)

// Options configure a Session.
type Options struct {
	// Machine is the machine to boot: a built-in name or a path (the host
	// reads it; scripts cannot). Empty: machines.Default.
	Machine string
	// MachineForced: Machine came from the command line (-m) and takes
	// precedence over the script's machine() call.
	MachineForced bool
	Seed          uint64
	// Sched chooses the scheduling decisions (explore: a strategy, a list
	// to replay, recording).
	Sched emu.SchedConfig
	// Timeout bounds the host time of Exec calls (0: none).
	Timeout time.Duration
	// MemoryLimit bounds the heap (bytes) during Exec (0: DefaultMemoryLimit).
	MemoryLimit uint64
	// Stdout receives print() output.
	Stdout io.Writer
	// Setup, if set, is called on every freshly booted kernel (to attach
	// trace sinks, say).
	Setup func(k *xcall.Kernel)
	// Recycle: the caller does not use Session.L, nor call a Lua function
	// of the session, after Close, so that Close may hand the session's
	// Lua state to the next session that recycles (recycle.go); explore
	// does, for every run.
	Recycle bool
}

// Session is one Lua state driving one machine.
type Session struct {
	L    *lua.LState
	K    *xcall.Kernel
	opts Options

	spec    *machines.Spec
	started bool // something ran since boot: machine() may no longer switch

	closed      bool
	tabs        []*lua.LTable  // the session's clones of the template's tables (world.go)
	pool        []*lua.LState  // idle Lua threads for handlers
	sformat     *lua.LFunction // the original string.format
	ctx         *luaContext    // every Lua thread's: Interrupt cancels it
	cancel      context.CancelFunc
	timer       *time.Timer
	timedOut    atomic.Bool // set by the timer goroutine
	memExceeded atomic.Bool // set by the memory watchdog
	armed       int         // runs in progress (nested: the shell), under memWatch's lock
	tasks       int
	inHook      int        // > 0 while a hook's operator code runs
	badMachine  string     // the error machine() raised when it refused its argument
	names       valueNames // the stable names tostring prints
	printBuf    []byte     // print's line (print)

	// Breakpoint, when set, is what breakpoint() calls: cpu is the CPU of
	// the calling kernel code (-1 at top level), where its file:line. The
	// shell sets it to stop there; without it breakpoint() does nothing.
	Breakpoint func(cpu int, where string)
}

// Limits on what a script may use.
const (
	callStackSize = 200
	maxTasks      = 100000
	// registrySize is where each Lua thread's value stack starts, and the
	// step it grows by (up to 1 Mi values). Every task is a thread with a
	// stack of its own: gopher-lua's default start, 5120 values (80 KiB),
	// made a short scenario allocate hundreds of KiB per run.
	registrySize = 256
)

// New creates a session and boots the machine of opts.
func New(opts Options) (*Session, error) {
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	s := &Session{opts: opts}
	var tabs []*lua.LTable
	if opts.Recycle {
		s.L, tabs = takeIdleState()
	}
	if s.L == nil {
		s.L = lua.NewState(luaOptions)
	}
	s.ctx, s.cancel = newLuaContext(s)
	s.L.SetContext(s.ctx)
	w := theWorld()
	s.tabs = w.install(s.L, s, tabs)
	s.sformat = w.sformat
	name := opts.Machine
	if name == "" {
		name = machines.Default
	}
	spec, err := machines.Load(name)
	if err != nil {
		s.L.Close()
		return nil, err
	}
	if err := s.boot(spec); err != nil {
		s.L.Close()
		return nil, err
	}
	return s, nil
}

// luaContext is the context the session's Lua threads run under.
// gopher-lua polls its Done channel before every Lua instruction; a
// context.WithCancel context finds that channel anew on each call (an
// atomic load and a type assertion, 3% of a Lua cross-call), so this one
// keeps it. Everything else, Value included, is the cancelable context's,
// so a context derived from this one is linked to it as to that one. It
// also names its session, for the shared functions (world.go: sessionOf).
type luaContext struct {
	context.Context
	done <-chan struct{}
	s    *Session
}

func (c *luaContext) Done() <-chan struct{} { return c.done }

func newLuaContext(s *Session) (*luaContext, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	return &luaContext{ctx, ctx.Done(), s}, cancel
}

// newThread is a new Lua thread under the session's context. gopher-lua
// gives a thread a context of its own, derived from the session's; it is
// replaced, and cancelled at once so that the session's context does not
// keep it.
func (s *Session) newThread() *lua.LState {
	if th := takeIdleThread(); th != nil {
		th.G, th.Env = s.L.G, s.L.Env
		th.SetContext(s.ctx)
		return th
	}
	th, cancel := s.L.NewThread()
	th.SetContext(s.ctx)
	if cancel != nil {
		cancel()
	}
	return th
}

// Close releases the machine and the Lua state.
func (s *Session) Close() {
	if s.closed {
		return // a second Close must not hand the state on twice
	}
	s.closed = true
	s.cancel() // first: a Lua loop that catches errors cannot outlive the machine
	if s.K != nil {
		s.K.Close()
	}
	if !s.opts.Recycle || !putIdleState(s.L, s.tabs) {
		s.L.Close()
	}
	for _, th := range s.pool {
		putIdleThread(th)
	}
	s.pool = nil
}

// Idle Lua threads, handed from closed sessions to new ones. A thread is
// a whole gopher-lua state (a call stack of callStackSize frames, a value
// stack, tables of its own that go unused): creating the two an explore
// run of a short scenario needs was a third of the run's allocations.
// Only threads with nothing on their stacks are kept, and a script can
// reach nothing of a thread's last session: newThread gives it the new
// session's globals and context. (What an idle thread still holds is
// gopher-lua's dead call frames, above its stack's top: they pin objects
// of a closed session until the thread is used again, hence the small
// bound.)
var idleThreads struct {
	sync.Mutex
	list []*lua.LState
}

const (
	// maxIdleThreads bounds the idle threads of the process.
	maxIdleThreads = 8
	// maxPooledThreads bounds the threads of finished tasks a session
	// keeps for its handlers (a thread is ~25 KiB; a script may finish
	// thousands of tasks).
	maxPooledThreads = 8
)

// idle reports whether th runs nothing: no values, no call frames.
func idle(th *lua.LState) bool {
	if th.Dead || th.GetTop() != 0 {
		return false
	}
	if frameLayout.ok { // GetStack would allocate a Debug to say the same
		return *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(th), frameLayout.off)) == nil
	}
	_, running := th.GetStack(0)
	return !running
}

func putIdleThread(th *lua.LState) {
	if !resetState(th) { // idle, and as a fresh thread (recycle.go)
		return
	}
	th.G, th.Env = nil, nil
	th.RemoveContext()
	idleThreads.Lock()
	defer idleThreads.Unlock()
	if len(idleThreads.list) < maxIdleThreads {
		idleThreads.list = append(idleThreads.list, th)
	}
}

func takeIdleThread() *lua.LState {
	idleThreads.Lock()
	defer idleThreads.Unlock()
	n := len(idleThreads.list)
	if n == 0 {
		return nil
	}
	th := idleThreads.list[n-1]
	idleThreads.list[n-1] = nil
	idleThreads.list = idleThreads.list[:n-1]
	return th
}

func (s *Session) boot(spec *machines.Spec) error {
	k, err := xcall.BootSched(spec, s.opts.Seed, s.opts.Sched)
	if err != nil {
		return err
	}
	if s.K != nil {
		s.K.Close()
	}
	s.K, s.spec, s.started = k, spec, false
	s.L.SetGlobal("nr_cpu_ids", lua.LNumber(k.NrCPUIDs()))
	if s.opts.Setup != nil {
		s.opts.Setup(k)
	}
	return nil
}

// BadMachine reports whether the script failed because its machine()
// call was refused (an invalid machine: the CLI exits with status 2 for
// it). A refusal the script caught (pcall) and went on from is not its
// failure, whatever stopped it later (runFailed).
func (s *Session) BadMachine() bool { return s.badMachine != "" }

// Spec is the booted machine's description.
func (s *Session) Spec() *machines.Spec { return s.spec }

// openSandbox opens the safe libraries in L and removes what reaches
// outside (for the template world: world.go).
func openSandbox(L *lua.LState) {
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	for _, name := range []string{"dofile", "loadfile", "require", "module", "_printregs", "collectgarbage", "newproxy", "getfenv", "setfenv"} {
		L.SetGlobal(name, lua.LNil)
	}
	str := L.GetGlobal("string").(*lua.LTable)
	str.RawSetString("dump", lua.LNil)
	str.RawSetString("rep", L.NewFunction(strRep))
	// load/loadstring compile source text only (gopher-lua has no bytecode
	// loader), in the sandboxed environment, after checking its nesting.
	installLimits(L)
	math := L.GetGlobal("math").(*lua.LTable)
	math.RawSetString("random", L.NewFunction(sessionFn((*Session).mathRandom)))
	math.RawSetString("randomseed", L.NewFunction(func(L *lua.LState) int { return 0 }))
	L.SetGlobal("print", L.NewFunction(sessionFn((*Session).print)))
}

// print is the scripts' print: its arguments as tostring gives them,
// tab-separated, a line on Options.Stdout. The line is built in the
// session's buffer and written with one Write, as fmt.Fprintln wrote it;
// nothing is written if a __tostring fails.
func (s *Session) print(L *lua.LState) int {
	n := L.GetTop()
	if s.printBuf == nil {
		s.printBuf = make([]byte, 0, 128)
	}
	b := s.printBuf[:0]
	for i := 1; i <= n; i++ {
		if i > 1 {
			b = append(b, '\t')
		}
		b = append(b, s.ToString(L, L.Get(i))...)
	}
	b = append(b, '\n')
	s.opts.Stdout.Write(b)
	if cap(b) <= maxPrintBuf {
		s.printBuf = b
	}
	return 0
}

// maxPrintBuf bounds the buffer a session keeps for print's lines.
const maxPrintBuf = 4096

// ScriptError is a failure of the script: a Lua error (at top level, in a
// task or in a cross-called function) or a limit. Msg reads "file:line: text".
type ScriptError struct{ Msg string }

func (e *ScriptError) Error() string { return e.Msg }

// errMsg extracts the Lua message of err, without the traceback. An error
// object that is not a string or a number reads as Lua prints it, "(error
// object is a table value)", located where error() was called; so does a
// Go panic in a built-in.
func errMsg(err error) string {
	var api *lua.ApiError
	if errors.As(err, &api) && api.Object != nil {
		switch api.Object.(type) {
		case lua.LString, lua.LNumber:
			if api.Type == lua.ApiErrorPanic {
				if m := traceLocRE.FindStringSubmatch(api.StackTrace); m != nil {
					return m[1] + " " + api.Object.String()
				}
			}
			return api.Object.String()
		}
		return errorObject(api)
	}
	return err.Error()
}

// Exec runs a chunk of Lua source at operator level. name is the chunk
// name errors carry ("scripts/hello.lua"). It returns the chunk's values.
func (s *Session) Exec(name, src string) ([]lua.LValue, error) {
	fn, err := s.load(name, src)
	if err != nil {
		return nil, err
	}
	fn.Proto.IsVarArg &^= lua.VarArgNeedsArg // as Compile: no arg table
	return s.run(fn)
}

// Compile compiles a chunk once, for running it in many sessions
// (ExecCompiled): explore does not parse its scenario for every seed.
//
// The chunk is marked as needing no `arg` table. gopher-lua's compiler
// marks every vararg function that does not use `...` as needing one, the
// main chunk too, and its VM then builds a table of the chunk's extra
// arguments (a 32-slot map, 2.7 KB) at each call, in the register of the
// chunk's first local, which has no name there and which the chunk's
// code writes before reading. Lua 5.1 never gives a main chunk an `arg`
// (lparser.c: luaY_parser marks it VARARG_ISVARARG only), and no script
// can tell the difference.
func Compile(name, src string) (*lua.FunctionProto, error) {
	proto, err := compileChunk(name, src)
	if err == nil {
		proto.IsVarArg &^= lua.VarArgNeedsArg
	}
	return proto, err
}

// ExecCompiled runs a chunk compiled by Compile, like Exec.
func (s *Session) ExecCompiled(proto *lua.FunctionProto) ([]lua.LValue, error) {
	return s.run(s.L.NewFunctionFromProto(proto))
}

func (s *Session) run(fn *lua.LFunction) ([]lua.LValue, error) {
	s.armTimeout()
	defer s.disarmTimeout()
	top := s.L.GetTop()
	s.L.Push(fn)
	if err := s.L.PCall(0, lua.MultRet, nil); err != nil {
		return nil, s.runFailed(err)
	}
	n := s.L.GetTop() - top
	out := make([]lua.LValue, n)
	for i := 0; i < n; i++ {
		out[i] = s.L.Get(top + 1 + i)
	}
	s.L.SetTop(top)
	return out, nil
}

// runFailed is the error of a chunk that failed with err; it forgets a
// refusal of machine() that is not what the chunk failed with.
func (s *Session) runFailed(err error) error {
	werr := s.wrapErr(err)
	if s.badMachine != "" && !strings.Contains(werr.Error(), s.badMachine) {
		s.badMachine = ""
	}
	return werr
}

func (s *Session) wrapErr(err error) error {
	msg := errMsg(err)
	loc := ""
	if m := locRE.FindString(msg); m != "" {
		loc = m + " " // where the script was when it was stopped
	}
	switch {
	case s.memExceeded.Load():
		return &ScriptError{Msg: fmt.Sprintf("%sstopped: the run used more than %d MiB of memory (the limit)", loc, s.memLimit()>>20)}
	case s.timedOut.Load():
		return &ScriptError{Msg: fmt.Sprintf("%sstopped: the run took longer than the --timeout of %v (host time)", loc, s.opts.Timeout)}
	case strings.Contains(msg, "context canceled") || strings.HasPrefix(msg, "stopped: interrupted"):
		return &ScriptError{Msg: loc + "stopped: interrupted"}
	}
	return &ScriptError{Msg: msg}
}

var locRE = regexp.MustCompile(`^[^\s:]+:\d+:`)

// DefaultMemoryLimit bounds the heap a run may use.
const DefaultMemoryLimit = 2 << 30

func (s *Session) memLimit() uint64 {
	if s.opts.MemoryLimit > 0 {
		return s.opts.MemoryLimit
	}
	return DefaultMemoryLimit
}

// armTimeout starts the host-side guards of one Exec: the --timeout timer
// and the memory watchdog. They only ever interrupt the run.
func (s *Session) armTimeout() {
	if s.opts.Timeout > 0 {
		s.timer = time.AfterFunc(s.opts.Timeout, func() {
			s.timedOut.Store(true)
			s.Interrupt()
		})
	}
	memWatch.arm(s)
}

func (s *Session) disarmTimeout() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	memWatch.disarm(s)
}

// memWatch is the process's memory watchdog: while sessions run (between
// armTimeout and disarmTimeout), one goroutine reads the heap's size every
// memWatchPeriod and interrupts each running session whose limit it
// exceeds (a script building huge strings or tables), before the host
// runs out. (A goroutine and a channel per run, woken at its end, cost an
// explore run of a short scenario more than its script.) The goroutine
// ends at a tick that finds no session running; the next armTimeout
// starts another.
var memWatch watchdog

const memWatchPeriod = 20 * time.Millisecond

type watchdog struct {
	sync.Mutex
	running  []*Session // in the order they were armed
	watching bool       // the goroutine runs
}

func (w *watchdog) arm(s *Session) {
	w.Lock()
	defer w.Unlock()
	s.armed++
	if s.armed > 1 {
		return // a nested run: watched already
	}
	w.running = append(w.running, s)
	if !w.watching {
		w.watching = true
		go w.watch()
	}
}

func (w *watchdog) disarm(s *Session) {
	w.Lock()
	defer w.Unlock()
	if s.armed--; s.armed > 0 {
		return
	}
	w.drop(s)
}

// drop stops watching s (no-op if it is not watched).
func (w *watchdog) drop(s *Session) {
	if i := slices.Index(w.running, s); i >= 0 {
		w.running = slices.Delete(w.running, i, i+1)
	}
}

func (w *watchdog) watch() {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	tick := time.NewTicker(memWatchPeriod)
	defer tick.Stop()
	for range tick.C {
		w.Lock()
		if len(w.running) == 0 {
			w.watching = false
			w.Unlock()
			return
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			heap := sample[0].Value.Uint64()
			for _, s := range slices.Clone(w.running) {
				if heap > s.memLimit() {
					s.memExceeded.Store(true)
					s.Interrupt()
					w.drop(s) // interrupted once; its disarm finds it gone
				}
			}
		}
		w.Unlock()
	}
}

// Interrupt stops what runs (Ctrl-C, a timeout): the Lua VM and the
// machine. Safe from any goroutine. The session cannot run Lua afterwards
// unless Reset is called.
func (s *Session) Interrupt() {
	s.cancel()
	if k := s.K; k != nil {
		k.M.Interrupt()
	}
}

// Reset re-arms a session after Interrupt, so the shell can go on.
func (s *Session) Reset() {
	s.ctx, s.cancel = newLuaContext(s)
	s.L.SetContext(s.ctx)
	s.L.SetTop(0)
	s.pool = nil
	s.timedOut.Store(false)
	s.memExceeded.Store(false)
}

// current is the context running kernel code, or nil at top level.
func (s *Session) current() *emu.Context { return s.K.M.Current() }

// MaxStringRep bounds what string.rep may build.
const MaxStringRep = 64 << 20

// strRep is string.rep(s, n [, sep]) with a bound on the result's size.
func strRep(L *lua.LState) int {
	str := L.CheckString(1)
	n := L.CheckInt64(2)
	sep := L.OptString(3, "")
	size := float64(len(str))*float64(n) + float64(len(sep))*float64(n-1)
	if n <= 0 || size == 0 { // an empty result: no loop of n steps
		L.Push(lua.LString(""))
		return 1
	}
	if size > MaxStringRep {
		argError(L, 2, "rep", tooLong(size))
	}
	var b strings.Builder
	b.Grow(int(size))
	for i := int64(0); i < n; i++ {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(str)
	}
	L.Push(lua.LString(b.String()))
	return 1
}
