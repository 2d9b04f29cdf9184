package main

import (
	"strings"
	"testing"
)

// --timeline takes a range, FROM..TO (either side optional), as the next
// argument or after "="; alone it is the whole run.
func TestRunTimelineRange(t *testing.T) {
	for _, c := range []struct {
		args []string
		head string
	}{
		{[]string{"--timeline"}, "timeline 0.000000000s .. 66.000000000s, 1s per column"},
		{[]string{"--timeline", "4s..6s"}, "timeline 4.000000000s .. 6.000000000s, 50ms per column"},
		{[]string{"--timeline=59.99s.."}, "timeline 59.990000000s .. 66.000000000s, 100ms per column"},
		{[]string{"--timeline", "..20ns"}, "timeline 0.000000000s .. 0.000000020s, 1ns per column"},
		{[]string{"--timeline", ".."}, "timeline 0.000000000s .. 66.000000000s, 1s per column"},
	} {
		args := append([]string{"run", "csd_stall", "--quiet"}, c.args...)
		st, out, errOut := xcallsh(t, "", args...)
		if st != 0 {
			t.Fatalf("%v: exit %d\n%s", c.args, st, errOut)
		}
		if _, tl, ok := strings.Cut(out, "timeline "); !ok || !strings.HasPrefix("timeline "+tl, c.head+"\n") {
			t.Errorf("%v: want %q, got:\n%s", c.args, c.head, out)
		}
	}
	// The range may come before the script.
	st, out, _ := xcallsh(t, "", "run", "--timeline", "1s..2s", "csd_stall", "--quiet")
	contains(t, "range first", out, "timeline 1.000000000s .. 2.000000000s")
	if st != 0 {
		t.Errorf("range first: exit %d", st)
	}
}

// A bad range is a bad invocation (exit 2) that says what is wrong, before
// anything runs; a range that starts after the run's end fails the run.
func TestRunTimelineBadRange(t *testing.T) {
	for arg, want := range map[string]string{
		"1ms..zz":   `xcallsh run: --timeline: bad time range "1ms..zz": bad duration "zz" (use e.g. 6s, 250ms, 10us, 100ns)`,
		"2ms..1ms":  `xcallsh run: --timeline: bad time range "2ms..1ms": it ends before it starts (want FROM < TO)`,
		"5..6ms":    `xcallsh run: --timeline: bad time range "5..6ms": duration "5" needs a unit (ns, us, ms, s, m, h)`,
		"1ms...2ms": `xcallsh run: --timeline: bad time range "1ms...2ms": want FROM..TO with units, e.g. 1ms..1.5ms (either side may be left out)`,
	} {
		st, out, errOut := xcallsh(t, "", "run", "hello", "--timeline", arg)
		if st != 2 || strings.TrimSpace(errOut) != want || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 and %q", arg, st, out, errOut, want)
		}
	}
	st, out, errOut := xcallsh(t, "", "run", "hello", "--quiet", "--timeline=10s..")
	if st != 1 || !strings.Contains(errOut, "xcallsh: --timeline: the time range 10s.. starts after the end of the run (") || strings.Contains(out, "timeline ") {
		t.Errorf("after the end: exit %d\n%s\n%s", st, out, errOut)
	}
}
