package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/child"
	"github.com/xcallsh/xcallsh/xcall"
)

// The file descriptors of a `run` child beyond stdin, stdout and stderr
// (fd 2 is left to the Go runtime, whose fatal errors the parent keeps).
const (
	childStderrFD  = 3 // what the run prints on stderr
	childControlFD = 4 // what the run tells its parent: "machine NAME SEED" at each boot
)

// interruptGrace is how long a child has to stop by itself after Ctrl-C.
const interruptGrace = 500 * time.Millisecond

// limitMessage is what the in-process checks of luabind say when a limit
// stops a run, without the script location.
func limitMessage(limit string, f runFlags) string {
	switch limit {
	case child.KilledTimeout:
		return fmt.Sprintf("stopped: the run took longer than the --timeout of %v (host time)", f.timeout)
	case child.KilledMemory:
		return fmt.Sprintf("stopped: the run used more than %d MiB of memory (the limit)", f.memLimit>>20)
	}
	return "stopped: interrupted"
}

// superviseRun runs `xcallsh run ARGS` in a child process and watches it
// (package child): the flags, the script and the machine were validated.
// ok is false if no child could be started (the run then runs in this
// process, with the in-process limits only).
func superviseRun(args []string, name string, f runFlags, machine string, stdout, stderr io.Writer) (status int, ok bool) {
	// The child writes straight to the parent's stdout and stderr when they
	// are files, which keeps the order of what it prints on both exactly;
	// otherwise (tests) through pipes.
	// Ctrl-C is the parent's from now on: it passes it on (watchRun).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	errFile, direct := stderr.(*os.File)
	var errR *os.File
	if !direct {
		var err error
		if errR, errFile, err = os.Pipe(); err != nil {
			return 0, false
		}
	}
	ctlR, ctlW, err := os.Pipe()
	if err == nil {
		var p *child.Proc
		if p, err = child.Start(child.Config{Args: append([]string{"run"}, args...), Mode: "run", Memory: f.memLimit,
			Stdout: stdout, ExtraFiles: []*os.File{errFile, ctlW}}); err == nil {
			ctlW.Close() // the child has them now
			if !direct {
				errFile.Close()
			}
			return watchRun(p, errR, ctlR, sigs, args, name, f, machine, stderr), true
		}
		ctlR.Close()
		ctlW.Close()
	}
	if !direct {
		errR.Close()
		errFile.Close()
	}
	return 0, false
}

// watchRun watches a `run` child until it ends and says how it ended, if
// it did not say so itself. errR (nil: none) is the pipe of its stderr.
func watchRun(p *child.Proc, errR, ctlR *os.File, sigs <-chan os.Signal, args []string, name string, f runFlags, machine string, stderr io.Writer) int {
	var wg sync.WaitGroup
	if errR != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			io.Copy(stderr, errR)
			errR.Close()
		}()
	}
	wg.Add(1)
	var mu sync.Mutex
	seed := f.seed
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(ctlR)
		for sc.Scan() {
			if fs := strings.Fields(sc.Text()); len(fs) == 3 && fs[0] == "machine" {
				if n, err := strconv.ParseUint(fs[2], 10, 64); err == nil {
					mu.Lock()
					machine, seed = fs[1], n
					mu.Unlock()
				}
			}
		}
		io.Copy(io.Discard, ctlR)
		ctlR.Close()
	}()
	if f.timeout > 0 {
		t := time.AfterFunc(f.timeout+child.Grace, func() { p.Kill(child.KilledTimeout) })
		defer t.Stop()
	}
	var interrupted atomic.Bool
	go func() {
		select {
		case <-sigs:
			// The child stops the run itself and says where; one that does
			// not within interruptGrace is killed.
			interrupted.Store(true)
			p.Signal(os.Interrupt)
			select {
			case <-time.After(interruptGrace):
				p.Kill(child.KilledInterrupt)
			case <-p.Done():
			}
		case <-p.Done():
		}
	}()
	ex := p.Wait()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	limit := ex.Killed
	switch {
	case limit == "" && ex.OutOfMemory():
		limit = child.KilledMemory
	case limit == "" && interrupted.Load() && ex.Signal != "":
		limit = child.KilledInterrupt // Ctrl-C came before the child listened
	}
	switch {
	case ex.BrokenPipe():
		return exitFailed // its stdout was closed (`| head`): nothing to say
	case limit != "":
		if isTTY(stderr) {
			io.WriteString(stderr, clearLine) // the child's progress line, if it left one
		}
		fmt.Fprintf(stderr, "%s: %s\n", name, limitMessage(limit, f))
		kind, status := "limit", exitFailed
		if limit == child.KilledInterrupt {
			kind, status = outcomeInterrupted, exitInterrupted // as when the run stops by itself on Ctrl-C
		}
		if !f.quiet {
			fmt.Fprintf(stderr, "xcallsh: %s seed %d: outcome %s (the run was stopped from outside: no trace)\n", machine, seed, kind)
		}
		return status
	case ex.Crashed():
		if isTTY(stderr) {
			io.WriteString(stderr, clearLine)
		}
		path := writeChildCrash(ex, args)
		fmt.Fprintf(stderr, "xcallsh: the run's process died: %s\n"+
			"This is a bug in xcallsh or a host limit it does not check itself (the Go stack is\n"+
			"limited to %d MiB), not a failure of your script. %s\n"+
			"Please send it with the command line to the xcallsh developers.\n", ex.FatalLine(), child.MaxStack>>20, path)
		if !f.quiet {
			fmt.Fprintf(stderr, "xcallsh: %s seed %d: outcome crashed\n", machine, seed)
		}
		return exitFailed
	}
	return ex.Code
}

// writeChildCrash writes what a crashed child printed, the command line
// and the script, into the temporary directory, and says where.
func writeChildCrash(ex child.Exit, args []string) string {
	return writeCrash(ex.FatalLine(), append([]string{"run"}, args...), string(ex.Runtime))
}

// childRunHooks connect a `run` in a child to its parent.
type childRunHooks struct {
	ctl io.Writer // "machine NAME SEED" lines
}

// boot tells the parent the machine and seed of a (re)booted kernel.
func (h *childRunHooks) boot(k *xcall.Kernel) {
	fmt.Fprintf(h.ctl, "machine %s %d\n", k.Spec.Name, k.M.Seed())
}
