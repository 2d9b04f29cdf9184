// Package units reads and writes the durations of xcallsh's command lines,
// shell commands, traces and reports: a duration as typed (ParseDuration),
// a virtual time as the summary line and traces print it (Virtual), a
// duration briefly (Dur) and as the Lua a script would write (Lua).
package units

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a command-line duration: 6s, 250ms, 10us, 100ns
// (anything time.ParseDuration reads, but a unit is required), or 0, which
// needs none: 0 is 0 in every spelling (0, 0s, 0ms), and where a duration
// is a limit (--timeout) it means no limit.
func ParseDuration(s string) (time.Duration, error) {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if v == 0 {
			return 0, nil
		}
		return 0, fmt.Errorf("duration %q needs a unit (ns, us, ms, s, m, h)", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (use e.g. 6s, 250ms, 10us, 100ns)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, nil
}

// Virtual renders a virtual time as seconds with nanoseconds.
func Virtual(ns int64) string { return fmt.Sprintf("%d.%09ds", ns/1e9, ns%1e9) }

// Dur renders a duration briefly and exactly: 6s, 1.5ms, 1.234567us, 12ns.
func Dur(ns int64) string {
	if ns == 0 {
		return "0s"
	}
	neg := ""
	if ns < 0 {
		neg, ns = "-", -ns
	}
	for _, u := range []struct {
		name string
		div  int64
	}{{"s", 1e9}, {"ms", 1e6}, {"us", 1e3}} {
		if ns >= u.div {
			frac := strings.TrimRight(fmt.Sprintf("%0*d", digits(u.div), ns%u.div), "0")
			if frac != "" {
				frac = "." + frac
			}
			return fmt.Sprintf("%s%d%s%s", neg, ns/u.div, frac, u.name)
		}
	}
	return fmt.Sprintf("%s%dns", neg, ns)
}

func digits(div int64) int {
	n := 0
	for ; div > 1; div /= 10 {
		n++
	}
	return n
}

// Lua renders ns as the Lua expression a script would write: s(6),
// ms(250), us(10), ns(1234) — the largest unit that keeps it exact.
func Lua(ns int64) string {
	switch {
	case ns != 0 && ns%1e9 == 0:
		return fmt.Sprintf("s(%d)", ns/1e9)
	case ns != 0 && ns%1e6 == 0:
		return fmt.Sprintf("ms(%d)", ns/1e6)
	case ns != 0 && ns%1e3 == 0:
		return fmt.Sprintf("us(%d)", ns/1e3)
	}
	return fmt.Sprintf("ns(%d)", ns)
}
