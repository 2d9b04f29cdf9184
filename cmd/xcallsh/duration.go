package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseDuration reads a command-line duration: 6s, 250ms, 10us, 100ns
// (anything time.ParseDuration reads, but a unit is required), or 0, which
// needs none: 0 is 0 in every spelling (0, 0s, 0ms), and where a duration
// is a limit (--timeout) it means no limit.
func parseDuration(s string) (time.Duration, error) {
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

// maxTimeout bounds --timeout: a year is longer than any run anyone waits
// for, and keeps the deadline arithmetic far from overflowing.
const maxTimeout = 365 * 24 * time.Hour

// timeoutFlag is --timeout: a duration from 0 (no limit) to maxTimeout.
type timeoutFlag struct{ d *time.Duration }

func (f timeoutFlag) String() string { return durationFlag(f).String() }

func (f timeoutFlag) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	if d > maxTimeout {
		return fmt.Errorf("%s is out of range 0 (no limit) to %v", s, maxTimeout)
	}
	*f.d = d
	return nil
}

// Memory limits: --memory-limit on run and explore.
const (
	minMemoryLimit = 32 << 20 // below this, the Go runtime itself does not fit
	maxMemoryLimit = 1 << 40
)

// memoryFlag is --memory-limit SIZE: 512MiB, 2GiB, or 0 for no limit.
type memoryFlag struct{ v *uint64 }

func (f memoryFlag) String() string {
	if f.v == nil {
		return ""
	}
	return fmtSize(*f.v)
}

func (f memoryFlag) Set(s string) error {
	if s == "0" {
		*f.v = 0
		return nil
	}
	var n uint64
	var unit string
	if _, err := fmt.Sscanf(s, "%d%s", &n, &unit); err != nil || fmt.Sprintf("%d%s", n, unit) != s {
		return fmt.Errorf("bad size %q (use e.g. 512MiB, 2GiB; 0: no limit)", s)
	}
	shift := map[string]uint{"KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40}[unit]
	if shift == 0 {
		return fmt.Errorf("bad size %q: unit %q (use KiB, MiB, GiB or TiB)", s, unit)
	}
	if n > maxMemoryLimit>>shift || n<<shift < minMemoryLimit {
		return fmt.Errorf("%s is out of range %s to %s (0: no limit)", s, fmtSize(minMemoryLimit), fmtSize(maxMemoryLimit))
	}
	*f.v = n << shift
	return nil
}

func fmtSize(n uint64) string {
	switch {
	case n == 0:
		return "0"
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}
