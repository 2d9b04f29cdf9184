package traces

import (
	"fmt"
	"strings"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/units"
)

// The ASCII timeline: one row per CPU, one column per time bucket, 80
// columns wide. A bucket shows the most telling thing that overlapped it:
//
//	H  an IPI (or other interrupt) handler ran     N  an NMI handler ran
//	>  the CPU sent an IPI                          !  an IPI waited: interrupts were off
//	#  interrupts were off at task level            ~  an IPI was on its way (sent, not yet taken)
//	=  a task (or kernel thread) ran                .  idle
//
// Below the grid, the IPIs of the interval as "CPU0 > CPU1" lines.

const (
	timelineCols = 72 // 8 columns of labels + 72 = 80
	timelineRows = 16 // CPUs shown before "… N more"
	timelineIPIs = 6  // IPI lines shown before "… N more"
)

// glyph ranks: a higher one wins a bucket.
var glyphRank = map[byte]int{'.': 0, '=': 1, '~': 2, '#': 3, '!': 4, '>': 5, 'N': 6, 'H': 7}

// spanGlyph is the glyph of a span kind.
func spanGlyph(k spanKind) byte {
	switch k {
	case spanTask, spanFunc: // a csd function shows as what runs it
		return '='
	case spanIRQsOff:
		return '#'
	case spanNMI:
		return 'N'
	}
	return 'H'
}

// Timeline draws [from, to] for the CPUs in cpus (nil: choose).
func (a *Activity) Timeline(from, to, now int64, cpus []int) string {
	if to <= from {
		to = from + 1
	}
	width := to - from
	bucket := niceBucket((width + timelineCols - 1) / timelineCols)
	cols := int((width + bucket - 1) / bucket)
	col := func(t int64) int {
		c := int((t - from) / bucket)
		return max(0, min(c, cols-1))
	}
	grid := make([][]byte, a.nr)
	active := make([]bool, a.nr)
	row := func(cpu int) []byte {
		if grid[cpu] == nil {
			grid[cpu] = []byte(strings.Repeat(".", cols))
		}
		return grid[cpu]
	}
	mark := func(cpu int, s, e int64, g byte) {
		if e < from || s > to || (e == s && s == to && to != from) {
			return
		}
		if e > s && e <= from {
			return
		}
		r := row(cpu)
		active[cpu] = true
		last := e
		if e > s {
			last = e - 1
		}
		for c := col(max(s, from)); c <= col(min(last, to)); c++ {
			g := g
			if g == '~' && r[c] == '#' {
				g = '!' // an IPI held off by interrupts off
			}
			if glyphRank[g] > glyphRank[r[c]] {
				r[c] = g
			}
		}
	}
	for i := range a.spans {
		s := &a.spans[i]
		mark(s.cpu, s.start, s.endAt(now), spanGlyph(s.kind))
	}
	var ipis []string
	nIPI := 0
	for _, f := range a.flows {
		taken := now
		if f.handler >= 0 {
			taken = a.spans[f.handler].start
		}
		if taken < from || f.t > to {
			continue
		}
		mark(f.to, f.t, taken, '~')
		mark(f.from, f.t, f.t, '>')
		nIPI++
		if len(ipis) < timelineIPIs {
			line := fmt.Sprintf("CPU%d > CPU%d  sent %s", f.from, f.to, "+"+units.Dur(f.t-from))
			if f.handler >= 0 {
				line += fmt.Sprintf(", taken %s by %s", "+"+units.Dur(taken-from), a.spans[f.handler].name)
			} else {
				line += ", not taken yet"
			}
			ipis = append(ipis, line)
		}
	}
	auto := cpus == nil
	if auto {
		if a.nr <= timelineRows {
			for c := 0; c < a.nr; c++ {
				cpus = append(cpus, c)
			}
		} else {
			for c := 0; c < a.nr; c++ {
				if active[c] {
					cpus = append(cpus, c)
				}
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "timeline %s .. %s, %s per column\n", units.Virtual(from), units.Virtual(to), units.Dur(bucket))
	label := fmt.Sprintf("+%s", units.Dur(width))
	fmt.Fprintf(&b, "        %s%*s\n", "0", cols-1, label)
	shown := 0
	for _, c := range cpus {
		if c < 0 || c >= a.nr {
			continue
		}
		if shown == timelineRows {
			break
		}
		fmt.Fprintf(&b, "CPU%-4d %s\n", c, row(c))
		shown++
	}
	if rest := len(cpus) - shown; rest > 0 {
		fmt.Fprintf(&b, "        … %d more CPUs (timeline CPULIST shows others)\n", rest)
	}
	if quiet := a.nr - len(cpus); auto && quiet > 0 {
		fmt.Fprintf(&b, "        (%d idle CPUs not shown)\n", quiet)
	}
	b.WriteString("        . idle  = task  # irqs off  > IPI sent  ~ IPI on its way  ! IPI held off\n")
	b.WriteString("        H handler  N NMI\n")
	for _, l := range ipis {
		b.WriteString("        " + l + "\n")
	}
	if nIPI > len(ipis) {
		fmt.Fprintf(&b, "        … %d more IPIs\n", nIPI-len(ipis))
	}
	return b.String()
}

// niceBucket rounds a column width up to 1, 2 or 5 times a power of ten
// nanoseconds, so the scale reads easily.
func niceBucket(min int64) int64 {
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*p >= min {
				return m * p
			}
		}
	}
}
