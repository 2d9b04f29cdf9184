package emu

// The kernel log: Printk, the lines it keeps, and dmesg's time stamps.

import (
	"fmt"
	"strings"
)

// LogLine is one line of the kernel log.
type LogLine struct {
	T    int64 // virtual time, ns
	CPU  int
	Text string
}

// String renders the line as dmesg does: "[    5.000123] text".
func (l LogLine) String() string {
	return FormatStamp(l.T) + " " + l.Text
}

// FormatStamp renders a virtual time as the kernel's "[%5lu.%06lu]".
func FormatStamp(t int64) string {
	return fmt.Sprintf("[%5d.%06d]", t/1e9, t%1e9/1e3)
}

// MaxLogBytes bounds the kernel log a machine keeps. Like the kernel's
// log_buf (kernel/printk/printk.c, sized by CONFIG_LOG_BUF_SHIFT or the
// log_buf_len= boot parameter), the log is a ring: once it is full, each
// new line pushes out the oldest ones. A line costs its text plus
// logLineCost bytes. Sinks (traces, reports) still see every line as it is
// printed; only what dmesg() can read back is bounded, so a script that
// prints in a loop runs in flat memory, and which lines are kept depends
// only on the lines printed.
const MaxLogBytes = 16 << 20

// logLineCost is what a line costs beyond its text: its LogLine and the
// string header.
const logLineCost = 48

// kernelLog is the ring behind Printk: lines[head:] are kept; first counts
// the lines pushed out before them.
type kernelLog struct {
	lines []LogLine
	head  int
	first int // lines ever pushed out
	bytes int // the cost of lines[head:]
}

func (g *kernelLog) add(l LogLine) {
	g.lines = append(g.lines, l)
	g.bytes += len(l.Text) + logLineCost
	for g.bytes > MaxLogBytes && g.head < len(g.lines)-1 {
		g.bytes -= len(g.lines[g.head].Text) + logLineCost
		g.lines[g.head] = LogLine{}
		g.head++
		g.first++
	}
	if g.head > 0 && g.head >= len(g.lines)/2 {
		// Compact: the pushed-out half is copied over, so the ring costs
		// at most twice what it keeps.
		n := copy(g.lines, g.lines[g.head:])
		clear(g.lines[n:])
		g.lines, g.head = g.lines[:n], 0
	}
}

// Printk appends text to the kernel log, one line per "\n"-separated part
// (a trailing newline is dropped), stamped with the current time and cpu.
func (m *Machine) Printk(cpu int, text string) {
	text = strings.TrimSuffix(text, "\n")
	for {
		part, rest, more := strings.Cut(text, "\n")
		l := LogLine{T: m.now, CPU: cpu, Text: part}
		m.log.add(l)
		if m.Recording() {
			m.Emit(cpu, &Event{Kind: EvPrintk, Text: part})
		}
		if !more {
			return
		}
		text = rest
	}
}

// Log is the kernel log the machine still keeps (all of it unless more
// than MaxLogBytes were printed). The slice must not be modified, and is
// valid until the next Printk.
func (m *Machine) Log() []LogLine { return m.log.lines[m.log.head:] }

// LogPrinted is the number of lines ever printed: the index the next line
// will have. Lines are numbered from 0 in the order they were printed.
func (m *Machine) LogPrinted() int { return m.log.first + len(m.log.lines) - m.log.head }

// LogSince is the kept lines numbered n and later (see LogPrinted), and
// how many lines from n on were pushed out before they could be read.
func (m *Machine) LogSince(n int) (lines []LogLine, lost int) {
	kept := m.Log()
	if n < m.log.first {
		return kept, m.log.first - n
	}
	return kept[min(n-m.log.first, len(kept)):], 0
}
