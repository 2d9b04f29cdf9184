package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseDuration reads a command-line duration: 6s, 250ms, 10us, 100ns
// (anything time.ParseDuration reads, but a unit is required).
func parseDuration(s string) (time.Duration, error) {
	if _, err := strconv.ParseFloat(s, 64); err == nil {
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

// durationFlag is a flag.Value for parseDuration.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

// fmtVirtual renders a virtual time as seconds with nanoseconds.
func fmtVirtual(ns int64) string { return fmt.Sprintf("%d.%09ds", ns/1e9, ns%1e9) }

// fmtDur renders a duration briefly and exactly: 6s, 1.5ms, 1.234567us, 12ns.
func fmtDur(ns int64) string {
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

// luaDur renders ns as the Lua expression a script would write: s(6),
// ms(250), us(10), ns(1234) — the largest unit that keeps it exact.
func luaDur(ns int64) string {
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
