package emu

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

// Printk appends text to the kernel log, one line per "\n"-separated part
// (a trailing newline is dropped), stamped with the current time and cpu.
func (m *Machine) Printk(cpu int, text string) {
	text = strings.TrimSuffix(text, "\n")
	for {
		part, rest, more := strings.Cut(text, "\n")
		l := LogLine{T: m.now, CPU: cpu, Text: part}
		m.log = append(m.log, l)
		for _, s := range m.sinks {
			s.Log(&l)
		}
		if !more {
			return
		}
		text = rest
	}
}

// Log is the kernel log so far. The slice must not be modified.
func (m *Machine) Log() []LogLine { return m.log }
