// Package session starts a luabind session for a run or the shell and
// watches it: the Recorder keeps the event log (always) and, when asked,
// the activity for the Perfetto trace and the timeline, and an ftrace text
// stream; Outcome and Summary say how the run ended.
package session

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/report"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/traces"
	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/units"
	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/luabind"
	"github.com/xcallsh/xcallsh/xcall"
)

// Recorder is what watches a session: the event log (always), and, when
// asked, the activity recorder and an ftrace text stream. Every boot of the
// session's machine resets it, so it covers the run since the last boot.
type Recorder struct {
	Log *report.EventLog
	Act *traces.Activity // nil: not recording slices and flows
	// TraceFile, if set, names the trace file written from the record
	// (traces.NewFile: ftrace text or trace.dat); Trace is its writer since
	// the last boot, which the caller writes out at the end.
	TraceFile string
	Trace     traces.File
	K         *xcall.Kernel
	boots     int
	// MemLimit is the run's memory limit (0: luabind's default).
	MemLimit uint64
	// OnBoot, if set, is told of every boot.
	OnBoot func(k *xcall.Kernel)
}

// NoMemoryLimit is the memory limit that is none.
const NoMemoryLimit = 1 << 62

// NewRecorder returns a recorder with an empty event log.
func NewRecorder() *Recorder {
	return &Recorder{Log: report.NewEventLog()}
}

// setup is luabind.Options.Setup: attach to a freshly booted kernel.
func (r *Recorder) setup(k *xcall.Kernel) {
	r.K = k
	r.boots++
	r.Log.Reset()
	k.M.AddRecorder(r.Log)
	if r.OnBoot != nil {
		r.OnBoot(k)
	}
	if r.Act != nil {
		r.Act.Attach(k)
	}
	if r.TraceFile != "" {
		if c, ok := r.Trace.(io.Closer); ok {
			c.Close()
		}
		r.Trace = traces.NewFile(r.TraceFile, k)
		k.M.AddRecorder(r.Trace)
	}
}

// New creates a luabind session watched by r.
func New(machine string, forced bool, seed uint64, sched emu.SchedConfig, timeout time.Duration, stdout io.Writer, r *Recorder) (*luabind.Session, error) {
	return luabind.New(luabind.Options{
		Machine:       machine,
		MachineForced: forced,
		Seed:          seed,
		Sched:         sched,
		Timeout:       timeout,
		MemoryLimit:   r.MemLimit,
		Stdout:        stdout,
		Setup:         r.setup,
	})
}

// Outcome is the outcome of a session after a script (or the shell's
// commands) ran, as the summary line and reports name it; execErr is the
// script's top-level error.
func Outcome(s *luabind.Session, execErr error) report.Outcome {
	if execErr != nil {
		return report.Outcome{Kind: "failed", Detail: execErr.Error()}
	}
	k := s.K
	if p := k.Panicked(); p != "" {
		return report.Outcome{Kind: "panic", Detail: p}
	}
	if stopped, why := k.M.Stopped(); stopped && why != nil && !errors.Is(why, xcall.ErrPanic) {
		return report.Outcome{Kind: "failed", Detail: why.Error()}
	}
	if st := k.Stuck(); st != "" {
		return report.Outcome{Kind: "stuck", Detail: st}
	}
	return report.Outcome{Kind: "ok"}
}

// Summary is the one-line account of a run.
func Summary(s *luabind.Session, kind string, hash uint64) string {
	k := s.K
	st := k.Stats
	return fmt.Sprintf("xcallsh: %s seed %d: %s virtual, %d calls, %d IPIs, %d reports, %d warnings, outcome %s, trace %016x",
		s.Spec().Name, k.M.Seed(), units.Virtual(k.M.Now()), st.Calls, st.IPIs, st.Reports, st.Warnings, kind, hash)
}
