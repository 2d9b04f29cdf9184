package main

import (
	"fmt"
	"time"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/units"
)

// parseDuration is units.ParseDuration under the name the flag values
// (and torture's) use.
var parseDuration = units.ParseDuration

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
