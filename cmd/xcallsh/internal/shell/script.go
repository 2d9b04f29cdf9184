package shell

// breakpoint() in a script: a Lua line, or a file run by `source FILE.lua`,
// runs on a goroutine of its own (the script goroutine); breakpoint()
// blocks it there, inside the call, and hands control back to the shell,
// as the recorder does at a breakpoint of the record (breakpoints.go). The
// machine is exactly where the call is: between two instants at top level,
// or inside an event when kernel code (a task, a cross-called function)
// calls it. The looking commands read it there; continue resumes the
// script where it blocked. Nothing else may change the machine meanwhile:
// the script still holds it.
//
// The step the session records is the whole chunk, once it ends: the
// pause changes nothing the machine does, so a report of the session
// replays, and its replay (xcallsh run, which sets no hook) runs
// breakpoint() as the no-op it is there.

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/units"
)

// script is a chunk running on the script goroutine.
type script struct {
	line, name, src string
	before          machineMark
	resume          chan struct{}
	msgs            chan scriptMsg
	paused          bool   // blocked in breakpoint()
	where           string // the breakpoint() call it is blocked in
}

// scriptMsg is what the script goroutine tells the shell: it blocked in
// breakpoint() (paused), or the chunk ended with vals and err.
type scriptMsg struct {
	paused bool
	where  string
	cpu    int
	vals   []lua.LValue
	err    error
}

// breakpointHook is the session's Breakpoint hook. It blocks only on the
// script goroutine of a chunk that may pause; anywhere else (re-execution,
// a task running under run or continue) it does nothing.
func (sh *Shell) breakpointHook(cpu int, where string) {
	sc := sh.script
	if sc == nil {
		return
	}
	sc.msgs <- scriptMsg{paused: true, where: where, cpu: cpu}
	<-sc.resume
}

// runScript runs a chunk that records a step on the script goroutine,
// until it ends or pauses in breakpoint(). Paused, it returns no values
// and no error, and the chunk stays sh.script.
func (sh *Shell) runScript(line, name, src string) ([]lua.LValue, int, error) {
	sc := &script{line: line, name: name, src: src, before: sh.mark(),
		resume: make(chan struct{}), msgs: make(chan scriptMsg)}
	sh.script = sc
	sess := sh.sess
	return sh.waitScript(func() {
		go func() {
			vals, err := sess.Exec(name, src)
			sc.msgs <- scriptMsg{vals: vals, err: err}
		}()
	})
}

// resumeScript is continue while a script is paused in breakpoint().
func (sh *Shell) resumeScript() error {
	sc := sh.script
	vals, level, err := sh.waitScript(func() { sc.resume <- struct{}{} })
	if sh.script == nil && len(vals) > 0 && err == nil && level == 0 {
		fmt.Fprintln(sh.out, fmtValues(sh.sess.L, vals))
	}
	return err
}

// waitScript starts or resumes the script goroutine (start) and waits,
// interruptibly, until it pauses or ends; at its end the chunk becomes a
// step, as run records one.
func (sh *Shell) waitScript(start func()) ([]lua.LValue, int, error) {
	sc := sh.script
	var msg scriptMsg
	level := sh.guard(func() {
		start()
		msg = <-sc.msgs
	})
	if msg.paused {
		sc.paused, sc.where = true, msg.where
		sh.stopCPU = msg.cpu
		sh.console()
		m := sh.sess.K.M
		on := ""
		if msg.cpu >= 0 {
			on = fmt.Sprintf(" on CPU%d", msg.cpu)
		}
		fmt.Fprintf(sh.out, "breakpoint() at %s%s, after event #%d at %s (continue goes on)\n",
			msg.where, on, m.Recorded(), units.Virtual(m.Now()))
		return nil, level, nil
	}
	sh.script = nil
	vals, err := msg.vals, msg.err
	if level > 0 {
		sh.afterInterrupt(sh.sess.K.M.Executed() != sc.before.events)
		sh.recordInterrupted(sc.line, sc.before)
		err = fmt.Errorf("%s: interrupted", sc.name)
		if sh.luaDead {
			err = fmt.Errorf("%s: interrupted; Ctrl-C had to stop all Lua of the session, which is over (boot or restart starts a new one)", sc.name)
		}
	} else {
		sh.steps = append(sh.steps, shellStep{line: sc.line, name: sc.name, src: sc.src})
	}
	sh.console()
	return vals, level, err
}

// pausedError is why a command is refused while a script is paused.
func (sh *Shell) pausedError(what string) error {
	return fmt.Errorf("%s: the script is paused in breakpoint() at %s; continue goes on (only the looking commands work meanwhile)",
		what, sh.script.where)
}
