package emu

// The tracepoint bus: TraceEvent and the sinks it is sent to.

import "fmt"

// TraceEvent is one tracepoint hit, with what ftrace records about the
// context it happened in.
type TraceEvent struct {
	T     int64
	CPU   int
	Comm  string // the task the CPU runs ("<idle>" when idle)
	PID   int
	Flags [4]byte // irqs-off, need-resched, hardirq/softirq, preempt depth: "d.h1"
	Name  string  // "ipi_send_cpu"
	Args  string  // the event's own format: "cpu=2 callsite=..."
}

// String renders the event as an ftrace text line.
func (e *TraceEvent) String() string {
	comm := fmt.Sprintf("%s-%d", e.Comm, e.PID)
	return fmt.Sprintf("%16s [%03d] %s %5d.%06d: %s: %s",
		comm, e.CPU, e.Flags[:], e.T/1e9, e.T%1e9/1e3, e.Name, e.Args)
}

// TraceSink receives every tracepoint hit and log line, in order.
type TraceSink interface {
	Trace(e *TraceEvent)
	Log(l *LogLine)
}

// AddSink subscribes s to the machine's trace and log.
func (m *Machine) AddSink(s TraceSink) { m.sinks = append(m.sinks, s) }

// Tracing reports whether anything listens to tracepoints.
func (m *Machine) Tracing() bool { return len(m.sinks) > 0 }

// Trace emits a tracepoint hit on cpu, in the context running there.
func (m *Machine) Trace(cpu int, name, args string) {
	if len(m.sinks) == 0 {
		return
	}
	e := TraceEvent{T: m.now, CPU: cpu, Name: name, Args: args}
	c := &m.cpus[cpu]
	e.Comm, e.PID = "<idle>", 0
	if t := c.Task(); t != nil {
		e.Comm, e.PID = t.Name, t.PID
	}
	e.Flags = [4]byte{'.', '.', '.', '.'}
	if c.IRQsOff {
		e.Flags[0] = 'd'
	}
	if c.inNMI {
		e.Flags[2] = 'Z'
	} else if c.Hardirq > 0 {
		e.Flags[2] = 'h'
	}
	if c.Preempt > 0 {
		p := c.Preempt
		if p > 9 {
			p = 9
		}
		e.Flags[3] = byte('0' + p)
	}
	for _, s := range m.sinks {
		s.Trace(&e)
	}
}
