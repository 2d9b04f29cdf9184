package explore

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/child"
	"github.com/xcallsh/xcallsh/luabind"
)

// A pool runs schedules of one scenario: in this process, or in worker
// processes (Options.Workers).
type pool interface {
	// run runs s on worker w, 0 <= w < the pool's size; a worker runs one
	// schedule at a time.
	run(w int, s Schedule) Result
	// stream runs on worker w the schedules next gives until it gives no
	// more, and passes each result to deliver.
	stream(w int, next func() (Schedule, bool), deliver func(Result))
	close()
}

// inProcess runs every schedule in this process.
type inProcess struct{ sc Scenario }

func (p inProcess) run(_ int, s Schedule) Result { return Run(p.sc, s) }
func (inProcess) close()                         {}

func (p inProcess) stream(_ int, next func() (Schedule, bool), deliver func(Result)) {
	for s, ok := next(); ok; s, ok = next() {
		deliver(Run(p.sc, s))
	}
}

// The worker protocol, over a worker's stdin and stdout, one JSON value a
// line: the parent sends the Scenario once, then one Schedule per run; the
// worker answers each with its Result.

// wireScenario is Scenario on the wire.
type wireScenario struct {
	Name, Source  string
	Machine       string
	MachineForced bool
	Timeout       time.Duration
	MemoryLimit   uint64
	Memory        string
}

// Serve is an explore worker: it reads the scenario and then schedules from
// in, and writes one Result per schedule to out, until in ends.
func Serve(in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(in)
	var ws wireScenario
	if err := dec.Decode(&ws); err != nil {
		return fmt.Errorf("explore worker: reading the scenario: %v", err)
	}
	sc := Scenario{Name: ws.Name, Source: ws.Source, Machine: ws.Machine, MachineForced: ws.MachineForced,
		Timeout: ws.Timeout, MemoryLimit: ws.MemoryLimit, Memory: ws.Memory}
	if child.BackstopOnly() {
		sc.Timeout, sc.MemoryLimit = 0, 1<<62
	}
	if proto, err := luabind.Compile(sc.Name, sc.Source); err == nil {
		sc.compiled = proto
	}
	w := bufio.NewWriterSize(out, 64<<10)
	enc := json.NewEncoder(w)
	for {
		var s Schedule
		if err := dec.Decode(&s); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("explore worker: reading a schedule: %v", err)
		}
		if err := enc.Encode(Run(sc, s)); err != nil {
			return err
		}
		// Each answer goes out at once: if the worker dies in the next
		// run, the parent must know which run that was.
		if err := w.Flush(); err != nil {
			return err
		}
	}
}

// workers runs schedules in child processes, one run at a time each, and
// enforces the per-run --timeout and the memory limit on them from
// outside: a worker killed or dead costs the one run it was doing, which
// fails with kind "limit", and a fresh worker takes its place.
type workers struct {
	sc      Scenario
	limit   uint64 // memory limit, bytes (0: none)
	procs   []*worker
	crashed func(child.Exit) // Options.Crashed
}

type worker struct {
	p       *child.Proc
	in      io.WriteCloser
	bw      *bufio.Writer // on in
	enc     *json.Encoder // on in, unbuffered
	replies chan Result
	timer   *time.Timer
}

func newWorkers(sc Scenario, n int, crashed func(child.Exit)) *workers {
	return &workers{sc: sc, limit: sc.MemoryLimit, procs: make([]*worker, n), crashed: crashed}
}

// start starts worker w and sends it the scenario.
func (ws *workers) start() (*worker, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	p, err := child.Start(child.Config{Mode: "worker", Memory: ws.limit, Stdin: inR, Stdout: outW})
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	w := &worker{p: p, in: inW, replies: make(chan Result, 1)}
	bw := bufio.NewWriter(inW)
	w.enc, w.bw = json.NewEncoder(inW), bw
	sc := ws.sc
	json.NewEncoder(bw).Encode(wireScenario{Name: sc.Name, Source: sc.Source, Machine: sc.Machine,
		MachineForced: sc.MachineForced, Timeout: sc.Timeout, MemoryLimit: sc.MemoryLimit, Memory: sc.Memory})
	bw.Flush()
	go func() {
		defer close(w.replies)
		dec := json.NewDecoder(bufio.NewReaderSize(outR, 64<<10))
		for {
			var r Result
			if err := dec.Decode(&r); err != nil {
				io.Copy(io.Discard, outR)
				outR.Close()
				return
			}
			w.replies <- r
		}
	}()
	return w, nil
}

func (ws *workers) run(i int, s Schedule) Result {
	w := ws.procs[i]
	if w == nil {
		var err error
		if w, err = ws.start(); err != nil {
			// No process: run here, with the in-process limits only.
			return Run(ws.sc, s)
		}
		ws.procs[i] = w
	}
	w.enc.Encode(s) // a dead worker's error shows as its end below
	var deadline <-chan time.Time
	if ws.sc.Timeout > 0 {
		if w.timer == nil {
			w.timer = time.NewTimer(ws.sc.Timeout + child.Grace)
		} else {
			w.timer.Reset(ws.sc.Timeout + child.Grace)
		}
		deadline = w.timer.C
	}
	select {
	case r, ok := <-w.replies:
		if w.timer != nil {
			w.timer.Stop() // no stale tick after Stop (Go 1.23 timers)
		}
		if ok {
			return r
		}
	case <-deadline:
		w.p.Kill(child.KilledTimeout)
	}
	// The worker is dead or being killed: this run fails, a fresh worker
	// takes the next.
	return ws.retire(i, s)
}

// retire ends worker i, which died or is being killed while it ran s, and
// returns s's result: a failure of kind limit that says why. The next run
// starts a fresh worker.
func (ws *workers) retire(i int, s Schedule) Result {
	w := ws.procs[i]
	ws.procs[i] = nil
	w.in.Close()
	ex := w.p.Wait()
	for range w.replies {
	}
	return Result{Schedule: s, Failed: true, Kind: "limit", Message: ws.deathMessage(ex)}
}

// A streaming worker is sent schedules ahead of its answers, so that it
// does not wait for the next one between runs (a round trip through the
// pipes, and the parent's turn on a busy host, cost as much as a short
// run): as many as it runs in about aheadTime, between 2 and maxAhead (few
// enough to fit in a pipe's buffer, and so that at the end of a search no
// worker holds much more than aheadTime of work while the others idle).
const (
	aheadTime = 20 * time.Millisecond
	maxAhead  = 64
)

func (ws *workers) stream(i int, next func() (Schedule, bool), deliver func(Result)) {
	var sent []Schedule   // sent to the worker, not yet answered, oldest first
	var resend []Schedule // sent to a worker that died, to send again
	var started time.Time // when the worker began sent[0] (about)
	more := true
	ahead := 2
	var perRun time.Duration // a moving average of the time between answers
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		w := ws.procs[i]
		if w == nil {
			var err error
			if w, err = ws.start(); err != nil {
				// No process: run the rest here, with the in-process
				// limits only.
				for _, s := range append(sent, resend...) {
					deliver(Run(ws.sc, s))
				}
				if more {
					inProcess{ws.sc}.stream(i, next, deliver)
				}
				return
			}
			ws.procs[i] = w
		}
		// Topped up in batches: one write through the pipe for many runs.
		refill := len(sent) <= ahead/2 || len(resend) > 0
		for refill && len(sent) < ahead {
			var s Schedule
			if len(resend) > 0 {
				s, resend = resend[0], resend[1:]
			} else if more {
				if s, more = next(); !more {
					break
				}
			} else {
				break
			}
			if len(sent) == 0 {
				started = time.Now()
			}
			sent = append(sent, s)
			json.NewEncoder(w.bw).Encode(s)
		}
		w.bw.Flush() // a dead worker's error shows as its end below
		if len(sent) == 0 {
			return
		}
		var deadline <-chan time.Time
		if ws.sc.Timeout > 0 {
			d := time.Until(started.Add(ws.sc.Timeout + child.Grace))
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			deadline = timer.C
		}
		select {
		case r, ok := <-w.replies:
			if timer != nil {
				timer.Stop()
			}
			if ok {
				deliver(r)
				now := time.Now()
				perRun += (now.Sub(started) - perRun) / 8
				ahead = max(2, min(maxAhead, int(aheadTime/max(perRun, time.Microsecond))))
				sent, started = sent[1:], now
				continue
			}
		case <-deadline:
			w.p.Kill(child.KilledTimeout)
		}
		// The worker is dead or being killed: its current run fails, a
		// fresh worker takes the ones sent after it.
		deliver(ws.retire(i, sent[0]))
		resend = append(append([]Schedule{}, sent[1:]...), resend...)
		sent = nil
	}
}

// deathMessage says which limit stopped a worker, in the words of the
// in-process checks, or what it died of.
func (ws *workers) deathMessage(ex child.Exit) string {
	if ex.Crashed() && !ex.OutOfMemory() && ws.crashed != nil {
		ws.crashed(ex)
	}
	switch {
	case ex.Killed == child.KilledTimeout:
		return fmt.Sprintf("stopped: the run took longer than the --timeout of %v (host time)", ws.sc.Timeout)
	case ex.Killed == child.KilledMemory || ex.OutOfMemory():
		return fmt.Sprintf("stopped: the run used more than %d MiB of memory (the limit)", ws.limit>>20)
	}
	return fmt.Sprintf("stopped: the run's process died: %s (a bug in xcallsh or a host limit it does not check itself; the Go stack is limited to %d MiB)",
		ex.FatalLine(), child.MaxStack>>20)
}

func (ws *workers) close() {
	for i, w := range ws.procs {
		if w == nil {
			continue
		}
		w.in.Close() // the worker ends when its input does
		w.p.Wait()
		for range w.replies {
		}
		ws.procs[i] = nil
	}
}
