package main

// `run`'s progress line and its Ctrl-C. Both live at the edge, in host
// time: the progress line reads the machine's published clock
// (emu.Machine.Clock) from its own goroutine, which changes nothing in the
// run, and it is shown only when stderr is a terminal, so tests, pipes
// and files get the same bytes as before. Ctrl-C stops the run where it is
// (luabind.Session.Interrupt); the run then ends with the outcome
// "interrupted" and exit status 130, as a shell reports a command that
// SIGINT ended.

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/child"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/units"
	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/luabind"
	"github.com/xcallsh/xcallsh/xcall"
)

// exitInterrupted is the exit status of a run stopped by Ctrl-C: 128 plus
// SIGINT's number, what a shell shows for a command SIGINT killed.
const exitInterrupted = 130

// outcomeInterrupted is the outcome of a run stopped by Ctrl-C, in the
// summary line.
const outcomeInterrupted = "interrupted"

// When the progress line appears (host time since the run started), how
// often it is redrawn, and whether a writer is a terminal (variables for
// the tests).
var (
	progressAfter    = time.Second
	progressEvery    = 100 * time.Millisecond
	progressTerminal = isTTY
)

// clearLine takes the cursor to the start of the line and erases it.
const clearLine = "\r\033[K"

// progress is the line `run` keeps updated on stderr while it runs, once
// it has taken progressAfter of host time: the virtual time reached. Its
// methods do nothing on a nil *progress (stderr is not a terminal).
type progress struct {
	w     io.Writer                   // the terminal
	m     atomic.Pointer[emu.Machine] // the machine running now (a script may boot another)
	start time.Time
	mu    sync.Mutex // held while writing to the terminal
	shown bool       // a progress line is on the screen (under mu)
	stop  chan struct{}
	done  chan struct{}
}

// startProgress starts the progress line on stderr if it is a terminal,
// and returns nil otherwise.
func startProgress(stderr io.Writer) *progress {
	if !progressTerminal(stderr) {
		return nil
	}
	return newProgress(stderr, progressAfter, progressEvery)
}

// newProgress starts a progress line on w, first drawn after `after`, then
// every `every`.
func newProgress(w io.Writer, after, every time.Duration) *progress {
	p := &progress{w: w, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop(after, every)
	return p
}

func (p *progress) loop(after, every time.Duration) {
	defer close(p.done)
	select {
	case <-time.After(after):
	case <-p.stop:
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		p.draw()
		select {
		case <-tick.C:
		case <-p.stop:
			return
		}
	}
}

// draw writes the line anew.
func (p *progress) draw() {
	m := p.m.Load()
	if m == nil {
		return
	}
	line := fmt.Sprintf("xcallsh: %s virtual, %.1f s host (Ctrl-C stops the run)", units.Virtual(m.Clock()), time.Since(p.start).Seconds())
	p.mu.Lock()
	defer p.mu.Unlock()
	io.WriteString(p.w, clearLine+line)
	p.shown = true
}

// clear erases the line if it is shown; the caller holds mu.
func (p *progress) clear() {
	if p.shown {
		io.WriteString(p.w, clearLine)
		p.shown = false
	}
}

// watch makes the progress line follow k's machine, and then calls next
// (if not nil): a Recorder's OnBoot, told of every boot.
func (p *progress) watch(next func(*xcall.Kernel)) func(*xcall.Kernel) {
	if p == nil {
		return next
	}
	return func(k *xcall.Kernel) {
		p.m.Store(k.M)
		if next != nil {
			next(k)
		}
	}
}

// Writer wraps w (the run's stdout, which may be the same terminal) so
// that what the run prints erases the progress line first; the next tick
// draws it again below.
func (p *progress) Writer(w io.Writer) io.Writer {
	if p == nil {
		return w
	}
	return &progressWriter{p, w}
}

type progressWriter struct {
	p *progress
	w io.Writer
}

func (pw *progressWriter) Write(b []byte) (int, error) {
	pw.p.mu.Lock()
	defer pw.p.mu.Unlock()
	pw.p.clear()
	return pw.w.Write(b)
}

// Stop stops the line and erases it: the terminal is as if there had been
// none.
func (p *progress) Stop() {
	if p == nil {
		return
	}
	select {
	case <-p.stop:
		return // stopped already
	default:
	}
	close(p.stop)
	<-p.done
	p.mu.Lock()
	p.clear()
	p.mu.Unlock()
}

// watchInterrupt stops sess on Ctrl-C (in a child, forwarded by the
// parent) until the returned function is called; *hit tells whether it
// did.
func watchInterrupt(sess *luabind.Session, hit *atomic.Bool) func() {
	return onInterrupt(func() {
		hit.Store(true)
		if !child.BackstopOnly() { // tests: a child that cannot stop itself
			sess.Interrupt()
		}
	})
}

// onInterrupt calls fn, on a goroutine of its own, at the first Ctrl-C
// that comes before the returned function is called.
func onInterrupt(fn func()) func() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			fn()
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
