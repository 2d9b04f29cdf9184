// Package child runs xcallsh's work on other people's scripts in a child
// process that the parent watches: the backstop behind the in-process
// limits of luabind.Session (--timeout, the heap limit), which a Go
// built-in that runs for minutes, a single huge allocation or a Go fatal
// error (a stack overflow kills the whole process) can escape.
//
// The xcallsh binary re-executes itself (os.Executable) with EnvMode set;
// the child calls Setup first. The parent kills the child when its host
// time passes the deadline or its resident memory passes the limit plus
// Margin, and tells which limit it was, or, when the child died by itself,
// what it died of.
package child

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// EnvMode names the environment variable that makes xcallsh a child:
	// "run" (a `run`), "worker" (an explore worker).
	EnvMode = "XCALLSH_CHILD"
	// EnvMemory carries the memory limit (bytes) to the child.
	EnvMemory = "XCALLSH_CHILD_MEMORY"
	// EnvNoInProcess (tests only) turns off the child's in-process limits so
	// that the backstop alone is exercised.
	EnvNoInProcess = "XCALLSH_TEST_BACKSTOP_ONLY"
	// EnvFatal (tests only) makes the child die of a Go fatal error (a
	// runaway recursion) before it does its work.
	EnvFatal = "XCALLSH_TEST_CHILD_FATAL"
)

// MaxStack is the Go stack limit of a child, per goroutine. Go's default is
// 1 GB, which a runaway recursion takes seconds and a gigabyte of memory to
// reach; the emulator's own recursion is shallow (Lua calls nest at most 200
// deep) and needs well under 1 MiB, so 64 MiB leaves room for any legitimate
// run and makes a runaway one die in a fraction of a second.
const MaxStack = 64 << 20

// Grace is how long past its deadline a child may run before it is killed:
// long enough for the in-process --timeout (checked between Lua
// instructions), whose message names the script line, to stop the run and
// let the child write its outputs; short enough that the whole ends within
// the timeout plus one second.
const Grace = 700 * time.Millisecond

// PollEvery is how often the parent reads a child's resident memory.
const PollEvery = 50 * time.Millisecond

// Margin is how far a child's resident memory may exceed the memory limit
// before the parent kills it. The in-process limit counts the Go heap's
// objects; the process's resident set also holds the runtime (its binary,
// stacks, GC metadata: some tens of MiB), heap fragmentation, and freed
// memory not yet returned to the system. The child's Go memory limit (Setup)
// keeps those near the limit, so a quarter of the limit plus 64 MiB is room
// for them: the in-process check, with its better message, fires first
// whenever it can, and the backstop holds a run of the 2 GiB default to
// 2.6 GiB.
func Margin(limit uint64) uint64 { return limit/4 + 64<<20 }

// ExtraEnv is added to every child's environment (the tests set what makes
// the test binary act as xcallsh).
var ExtraEnv []string

// Mode is the child mode this process runs in ("" in the parent).
func Mode() string { return os.Getenv(EnvMode) }

// Setup prepares a child process: no core dumps (a crash is reported by
// the parent), the Go stack limit, and a Go memory limit at the run's
// memory limit so that the collector works harder before the in-process
// check or the backstop fires.
func Setup() {
	setupOS()
	debug.SetMaxStack(MaxStack)
	if n, err := strconv.ParseUint(os.Getenv(EnvMemory), 10, 64); err == nil && n > 0 && !BackstopOnly() {
		debug.SetMemoryLimit(int64(min(n, 1<<62)))
	}
	if os.Getenv(EnvFatal) == "1" {
		recurse(0)
	}
}

// recurse never returns: it overflows the stack (tests).
func recurse(n int) int {
	var pad [256]byte
	pad[n%256] = byte(n)
	return recurse(n+1) + int(pad[0])
}

// BackstopOnly says whether the in-process limits are off (tests).
func BackstopOnly() bool { return os.Getenv(EnvNoInProcess) == "1" }

// Why the parent killed a child.
const (
	KilledTimeout   = "timeout"
	KilledMemory    = "memory"
	KilledInterrupt = "interrupt"
)

// Config describes a child to start.
type Config struct {
	Args       []string // after the program name
	Mode       string   // EnvMode's value
	Memory     uint64   // resident memory limit in bytes (0: none); the backstop kills at Memory + Margin
	Stdin      io.Reader
	Stdout     io.Writer // an *os.File is handed to the child as is
	ExtraFiles []*os.File
}

// maxRuntimeOutput bounds what is kept of a child's own stderr (the Go
// runtime's fatal errors and goroutine dumps).
const maxRuntimeOutput = 8 << 20

// Proc is a running child.
type Proc struct {
	cmd     *exec.Cmd
	limit   uint64
	mu      sync.Mutex
	killed  string
	done    chan struct{}
	runtime bytes.Buffer // fd 2 of the child: the Go runtime's output
	copying sync.WaitGroup
	waitErr error
}

// Start starts a child. Its fd 2 is kept for the Go runtime's output
// (Exit.Runtime); what the child means to print on stderr goes through one
// of ExtraFiles. Only on Linux: elsewhere it returns errors.ErrUnsupported
// and the caller runs in its own process.
func Start(c Config) (*Proc, error) {
	if !supported {
		return nil, errors.ErrUnsupported
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, c.Args...)
	cmd.Env = append(append(os.Environ(), ExtraEnv...), EnvMode+"="+c.Mode, fmt.Sprintf("%s=%d", EnvMemory, c.Memory))
	cmd.Stdin = c.Stdin
	cmd.Stdout = c.Stdout
	cmd.ExtraFiles = c.ExtraFiles
	cmd.SysProcAttr = sysProcAttr()
	p := &Proc{cmd: cmd, limit: c.Memory, done: make(chan struct{})}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p.copying.Add(1)
	go func() {
		defer p.copying.Done()
		io.Copy(&capped{&p.runtime, maxRuntimeOutput}, errPipe)
	}()
	if p.limit > 0 {
		go p.watchMemory()
	}
	return p, nil
}

// Pid is the child's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Kill kills the child (SIGKILL), remembering why (the first reason wins).
func (p *Proc) Kill(why string) {
	p.mu.Lock()
	if p.killed == "" {
		p.killed = why
	}
	p.mu.Unlock()
	p.cmd.Process.Kill()
}

// Signal sends sig to the child.
func (p *Proc) Signal(sig os.Signal) { p.cmd.Process.Signal(sig) }

// Done is closed when the child has exited (after Wait).
func (p *Proc) Done() <-chan struct{} { return p.done }

func (p *Proc) watchMemory() {
	tick := time.NewTicker(PollEvery)
	defer tick.Stop()
	max := p.limit + Margin(p.limit)
	for {
		select {
		case <-p.done:
			return
		case <-tick.C:
			if rss, ok := RSS(p.Pid()); ok && rss > max {
				p.Kill(KilledMemory)
				return
			}
		}
	}
}

// RSS reads the resident set size of process pid from /proc.
func RSS(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * uint64(os.Getpagesize()), true
}

// Exit is how a child ended.
type Exit struct {
	Code    int    // exit status; -1 if killed by a signal
	Signal  string // the signal that killed it, if one did
	Killed  string // why the parent killed it ("": it was not)
	Runtime []byte // what it wrote on its fd 2 (the Go runtime's output)
}

// Crashed says whether the child died by itself in a way its own code did
// not choose: a Go fatal error or unrecovered panic (which print on fd 2 and
// exit 2), or a signal nobody in xcallsh sent.
func (e Exit) Crashed() bool {
	return e.Killed == "" && !e.BrokenPipe() && (e.Signal != "" || (e.Code != 0 && len(bytes.TrimSpace(e.Runtime)) > 0))
}

// BrokenPipe says whether the child died of writing to a closed stdout
// (`xcallsh run x.lua | head`), as any program does.
func (e Exit) BrokenPipe() bool { return e.Signal == syscall.SIGPIPE.String() }

// FatalLine is the line that says what a crashed child died of: the Go
// runtime's "fatal error: ..." or "panic: ...", else its first line, else
// the signal.
func (e Exit) FatalLine() string {
	sc := bufio.NewScanner(bytes.NewReader(e.Runtime))
	first := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if first == "" && line != "" {
			first = line
		}
		if strings.HasPrefix(line, "fatal error:") || strings.HasPrefix(line, "panic:") {
			return line
		}
	}
	if first != "" {
		return first
	}
	if e.Signal != "" {
		return "killed by signal " + e.Signal
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// OutOfMemory says whether the child died because the system refused it
// memory (Go's "fatal error: runtime: out of memory"): the memory limit
// in effect, not a bug.
func (e Exit) OutOfMemory() bool {
	return bytes.Contains(e.Runtime, []byte("fatal error: runtime: out of memory"))
}

// Wait waits for the child to exit.
func (p *Proc) Wait() Exit {
	p.copying.Wait() // before cmd.Wait, which closes the pipe
	err := p.cmd.Wait()
	close(p.done)
	p.waitErr = err
	e := Exit{Code: p.cmd.ProcessState.ExitCode(), Runtime: p.runtime.Bytes()}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Signal = ws.Signal().String()
	}
	p.mu.Lock()
	e.Killed = p.killed
	p.mu.Unlock()
	return e
}

// capped is a writer that keeps the first n bytes and discards the rest.
type capped struct {
	b *bytes.Buffer
	n int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.n - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
