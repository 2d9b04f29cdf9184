package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/report"
	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/luabind"
	"github.com/xcallsh/xcallsh/xcall"
)

// recorder is what watches a session: the event log (always), and, when
// asked, the activity recorder and an ftrace text stream. Every boot of the
// session's machine resets it, so it covers the run since the last boot.
type recorder struct {
	log    *report.EventLog
	act    *activity // nil: not recording slices and flows
	ftrace io.Writer // nil: no ftrace text
	k      *xcall.Kernel
	boots  int
	// memLimit is the run's memory limit (0: luabind's default).
	memLimit uint64
	// onBoot, if set, is told of every boot.
	onBoot func(k *xcall.Kernel)
}

// noMemoryLimit is the memory limit that is none.
const noMemoryLimit = 1 << 62

func newRecorder() *recorder {
	return &recorder{log: report.NewEventLog()}
}

// setup is luabind.Options.Setup: attach to a freshly booted kernel.
func (r *recorder) setup(k *xcall.Kernel) {
	r.k = k
	r.boots++
	r.log.Reset()
	k.M.AddSink(r.log)
	if r.onBoot != nil {
		r.onBoot(k)
	}
	if r.act != nil {
		r.act.attach(k)
	}
	if r.ftrace != nil {
		if f, ok := r.ftrace.(interface {
			Truncate(int64) error
			Seek(int64, int) (int64, error)
		}); ok && r.boots > 1 {
			f.Truncate(0)
			f.Seek(0, io.SeekStart)
		}
		io.WriteString(r.ftrace, ftraceHeader)
		k.M.AddSink(&ftraceSink{r.ftrace})
	}
}

// ftraceSink writes the trace as ftrace text.
type ftraceSink struct{ w io.Writer }

func (s *ftraceSink) Trace(e *emu.TraceEvent) { fmt.Fprintln(s.w, e.String()) }
func (s *ftraceSink) Log(*emu.LogLine)        {}

const ftraceHeader = `# tracer: nop
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| /
#           TASK-PID     CPU#  ||||   TIMESTAMP  FUNCTION
#              | |         |   ||||      |         |
`

// newSession creates a luabind session watched by r.
func newSession(machine string, forced bool, seed uint64, sched emu.SchedConfig, timeout time.Duration, stdout io.Writer, r *recorder) (*luabind.Session, error) {
	return luabind.New(luabind.Options{
		Machine:       machine,
		MachineForced: forced,
		Seed:          seed,
		Sched:         sched,
		Timeout:       timeout,
		MemoryLimit:   r.memLimit,
		Stdout:        stdout,
		Setup:         r.setup,
	})
}

// outcome is how a run ended, as the summary line and reports name it.
type outcome = report.Outcome

// outcomeOf is the outcome of a session after a script (or the shell's
// commands) ran; execErr is the script's top-level error.
func outcomeOf(s *luabind.Session, execErr error) outcome {
	if execErr != nil {
		return outcome{Kind: "failed", Detail: execErr.Error()}
	}
	k := s.K
	if p := k.Panicked(); p != "" {
		return outcome{Kind: "panic", Detail: p}
	}
	if stopped, why := k.M.Stopped(); stopped && why != nil && !errors.Is(why, xcall.ErrPanic) {
		return outcome{Kind: "failed", Detail: why.Error()}
	}
	if st := k.Stuck(); st != "" {
		return outcome{Kind: "stuck", Detail: st}
	}
	return outcome{Kind: "ok"}
}

// summary is the one-line account of a run.
func summary(s *luabind.Session, kind string, hash uint64) string {
	k := s.K
	st := k.Stats
	return fmt.Sprintf("xcallsh: %s seed %d: %s virtual, %d calls, %d IPIs, %d reports, %d warnings, outcome %s, trace %016x",
		s.Spec().Name, k.M.Seed(), fmtVirtual(k.M.Now()), st.Calls, st.IPIs, st.Reports, st.Warnings, kind, hash)
}
