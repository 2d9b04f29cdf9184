package traces

import (
	"fmt"
	"io"

	"github.com/xcallsh/xcallsh/emu"
)

// FtraceSink writes the trace as ftrace text, one tracepoint a line, as
// the kernel's trace file prints them after FtraceHeader
// (docs/traces.md#ftrace-text).
type FtraceSink struct{ W io.Writer }

func (s *FtraceSink) Trace(e *emu.TraceEvent) { fmt.Fprintln(s.W, e.String()) }
func (s *FtraceSink) Log(*emu.LogLine)        {}

// FtraceHeader opens an ftrace text file: the nop tracer's header.
const FtraceHeader = `# tracer: nop
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| /
#           TASK-PID     CPU#  ||||   TIMESTAMP  FUNCTION
#              | |         |   ||||      |         |
`

// Events are the tracepoint hits the activity kept, oldest first (the
// oldest are dropped past a bound; WriteFtrace says how many).
func (a *Activity) Events() []emu.TraceEvent { return a.events }

// IPIs is the number of IPIs recorded (the Perfetto trace's flow arrows).
func (a *Activity) IPIs() int { return len(a.flows) }

// WriteFtrace writes the tracepoint hits the activity kept as ftrace text.
func (a *Activity) WriteFtrace(w io.Writer) error {
	if _, err := io.WriteString(w, FtraceHeader); err != nil {
		return err
	}
	if a.dropEvs > 0 {
		fmt.Fprintf(w, "# (the %d oldest events were dropped)\n", a.dropEvs)
	}
	for i := range a.events {
		if _, err := fmt.Fprintln(w, a.events[i].String()); err != nil {
			return err
		}
	}
	return nil
}
