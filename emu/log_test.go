package emu

import (
	"fmt"
	"strings"
	"testing"
)

// TestLogRing: past MaxLogBytes the oldest lines go, exactly as many as
// make room, and the numbering of LogSince keeps counting.
func TestLogRing(t *testing.T) {
	m := &Machine{}
	text := strings.Repeat("x", 1000-logLineCost) // each line costs 1000 bytes
	keep := MaxLogBytes / 1000
	total := 3*keep + 7
	for i := 0; i < total; i++ {
		m.Printk(0, fmt.Sprintf("%06d", i)+text[6:])
		if got := m.LogPrinted(); got != i+1 {
			t.Fatalf("after line %d: LogPrinted = %d", i, got)
		}
	}
	log := m.Log()
	if len(log) != keep {
		t.Fatalf("kept %d lines, want %d", len(log), keep)
	}
	if first := log[0].Text[:6]; first != fmt.Sprintf("%06d", total-keep) {
		t.Fatalf("oldest kept line is %s, want %06d", first, total-keep)
	}
	lines, lost := m.LogSince(0)
	if lost != total-keep || len(lines) != keep {
		t.Fatalf("LogSince(0): %d lines, %d lost; want %d, %d", len(lines), lost, keep, total-keep)
	}
	lines, lost = m.LogSince(total - 2)
	if lost != 0 || len(lines) != 2 || lines[0].Text[:6] != fmt.Sprintf("%06d", total-2) {
		t.Fatalf("LogSince(total-2): %d lines from %q, %d lost", len(lines), lines[0].Text[:6], lost)
	}
	if lines, _ := m.LogSince(total); len(lines) != 0 {
		t.Fatalf("LogSince(total) = %d lines", len(lines))
	}
	if cap(m.log.lines) > 4*keep {
		t.Fatalf("the ring holds %d slots for %d lines", cap(m.log.lines), keep)
	}
}
