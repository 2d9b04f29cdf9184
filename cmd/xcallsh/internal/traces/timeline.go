package traces

import (
	"fmt"
	"strings"

	"github.com/xcallsh/xcallsh/emu"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/units"
)

// The ASCII timeline: one row per CPU, one column per time bucket, 80
// columns wide. A bucket shows the most telling thing that overlapped it,
// in this order:
//
//	X  an IPI was lost (dropped): on its sender and its target
//	H  an IPI (or other interrupt) handler ran
//	N  an NMI handler ran
//	>  the CPU sent an IPI
//	!  an IPI waited: interrupts were off
//	s  a softirq ran (softirq_entry to softirq_exit)
//	w  a CSD-lock wait
//	~  an IPI was on its way (sent, not yet taken)
//	-  the CPU was offline
//	#  interrupts were off at task level
//	=  a task (or kernel thread) ran
//	.  idle
//
// Below the grid, the IPIs of the interval as "CPU0 > CPU1" lines.
//
// Under a native memory model, a CPU whose store buffer held stores in
// the interval gets a row of its own under it ("  store"): b while a
// store was buffered (invisible to the other CPUs), v where it became
// visible; and the stores are listed under the IPIs, with the IPI that
// overtook one. Without buffered stores the timeline is as it was.

const (
	timelineCols = 72 // 8 columns of labels + 72 = 80
	timelineRows = 16 // CPUs shown before "… N more"
	timelineIPIs = 6  // IPI lines shown before "… N more"
)

// glyphRanks orders the glyphs: a later one wins a bucket.
const glyphRanks = ".=#-~ws!>NHX"

func glyphRank(g byte) int { return strings.IndexByte(glyphRanks, g) }

// spanGlyph is the glyph of a span kind.
func spanGlyph(k spanKind) byte {
	switch k {
	case spanTask, spanFunc, spanCpuhp: // a csd function or cpuhp callback shows as what runs it
		return '='
	case spanOffline:
		return '-'
	case spanWait:
		return 'w'
	case spanIRQsOff:
		return '#'
	case spanNMI:
		return 'N'
	case spanSoftirq:
		return 's'
	}
	return 'H'
}

// Timeline draws [from, to] for the CPUs in cpus (nil: choose). The
// column width is chosen from the range, so a narrow range zooms in down
// to a nanosecond per column.
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
	irqsOff := make([][]bool, a.nr) // columns with interrupts off, whatever they show
	active := make([]bool, a.nr)
	row := func(cpu int) []byte {
		if grid[cpu] == nil {
			grid[cpu] = []byte(strings.Repeat(".", cols))
		}
		return grid[cpu]
	}
	mark := func(cpu int, s, e int64, g byte) {
		if cpu < 0 || cpu >= a.nr || e < from || s > to || (e == s && s == to && to != from) {
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
		if g == '#' && irqsOff[cpu] == nil {
			irqsOff[cpu] = make([]bool, cols)
		}
		for c := col(max(s, from)); c <= col(min(last, to)); c++ {
			g := g
			switch {
			case g == '#':
				irqsOff[cpu][c] = true
			case g == '~' && irqsOff[cpu] != nil && irqsOff[cpu][c]:
				g = '!' // an IPI held off by interrupts off
			}
			if glyphRank(g) > glyphRank(r[c]) {
				r[c] = g
			}
		}
	}
	for i := range a.spans {
		s := &a.spans[i]
		mark(s.cpu, s.start, s.endAt(now), spanGlyph(s.kind))
	}
	var ipis []string
	nIPI, nLost := 0, 0
	for i := range a.flows {
		f := &a.flows[i]
		end := f.end
		if end < 0 {
			end = now
		}
		if end < from || f.t > to {
			continue
		}
		mark(f.to, f.t, end, '~')
		if f.lost {
			mark(f.from, f.t, f.t, 'X')
			mark(f.to, end, end, 'X')
			nLost++
		} else {
			mark(f.from, f.t, f.t, '>')
		}
		nIPI++
		if len(ipis) < timelineIPIs {
			ipis = append(ipis, a.ipiLine(f, from))
		}
	}
	storeRows, storeLines, nStores := a.storeTimeline(from, to, cols, col)
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
	shown, softirq := 0, false
	for _, c := range cpus {
		if c < 0 || c >= a.nr {
			continue
		}
		if shown == timelineRows {
			break
		}
		fmt.Fprintf(&b, "CPU%-4d %s\n", c, row(c))
		if sr := storeRows[c]; sr != nil {
			fmt.Fprintf(&b, "  store %s\n", strings.TrimRight(string(sr), " "))
		}
		softirq = softirq || strings.IndexByte(string(row(c)), 's') >= 0
		shown++
	}
	if rest := len(cpus) - shown; rest > 0 {
		fmt.Fprintf(&b, "        … %d more CPUs (timeline CPULIST shows others)\n", rest)
	}
	if quiet := a.nr - len(cpus); auto && quiet > 0 {
		fmt.Fprintf(&b, "        (%d idle CPUs not shown)\n", quiet)
	}
	b.WriteString("        . idle  = task  # irqs off  > IPI sent  ~ IPI on its way  ! IPI held off\n")
	b.WriteString("        H handler  N NMI  w CSD-lock wait  - offline")
	if softirq {
		b.WriteString("  s softirq") // only where one is drawn: the other timelines stay as they were
	}
	b.WriteString("\n")
	if nLost > 0 {
		b.WriteString("        X IPI lost: dropped, never delivered (sender and target)\n")
	}
	if nStores > 0 {
		b.WriteString("        store: b buffered (the other CPUs cannot see it)  v visible\n")
	}
	for _, l := range ipis {
		b.WriteString("        " + l + "\n")
	}
	if nIPI > len(ipis) {
		fmt.Fprintf(&b, "        … %d more IPIs\n", nIPI-len(ipis))
	}
	for _, l := range storeLines {
		b.WriteString("        " + l + "\n")
	}
	if nStores > len(storeLines) {
		fmt.Fprintf(&b, "        … %d more buffered stores\n", nStores-len(storeLines))
	}
	return b.String()
}

// ipiLine describes one IPI for the lines under the grid, times relative
// to from.
func (a *Activity) ipiLine(f *ipiFlow, from int64) string {
	src := "operator"
	if f.from >= 0 {
		src = fmt.Sprintf("CPU%d", f.from)
	}
	line := fmt.Sprintf("%s > CPU%d  sent +%s", src, f.to, units.Dur(f.t-from))
	if f.delay > 0 {
		line += fmt.Sprintf(", delayed %s", units.Dur(f.delay))
	}
	if f.merged {
		line += ", merged"
	}
	switch {
	case f.lost && f.reason == emu.DropOffline:
		line += fmt.Sprintf(", LOST +%s (pending, cleared as CPU%d came back up)", units.Dur(f.end-from), f.to)
	case f.lost:
		line += fmt.Sprintf(", LOST +%s (dropped)", units.Dur(f.end-from))
	case f.end < 0:
		line += ", not taken yet"
	default:
		line += fmt.Sprintf(", taken +%s", units.Dur(f.end-from))
		if f.handler >= 0 {
			if by := " by " + a.spans[f.handler].name; len(line)+len(by) <= timelineCols {
				line += by
			}
		}
	}
	if r := []rune(line); len(r) > timelineCols {
		line = string(r[:timelineCols-1]) + "…"
	}
	return line
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

// Range is a timeline's FROM..TO, as `run --timeline` and the shell's
// timeline command take it. A side left out is the run's start or its end.
type Range struct {
	From, To       int64 // ns
	HasFrom, HasTo bool
}

// ParseRange reads FROM..TO: two durations with units (1ms..1.5ms, 0..20us),
// either side optional (..2ms, 1ms..; ".." is the whole run).
func ParseRange(s string) (Range, error) {
	lo, hi, ok := strings.Cut(s, "..")
	if !ok || strings.HasPrefix(hi, ".") || strings.Contains(hi, "..") {
		return Range{}, fmt.Errorf("bad time range %q: want FROM..TO with units, e.g. 1ms..1.5ms (either side may be left out)", s)
	}
	var r Range
	for _, side := range []struct {
		text string
		v    *int64
		set  *bool
	}{{lo, &r.From, &r.HasFrom}, {hi, &r.To, &r.HasTo}} {
		if side.text == "" {
			continue
		}
		d, err := units.ParseDuration(side.text)
		if err != nil {
			return Range{}, fmt.Errorf("bad time range %q: %v", s, err)
		}
		*side.v, *side.set = d.Nanoseconds(), true
	}
	if r.HasFrom && r.HasTo && r.To <= r.From {
		return Range{}, fmt.Errorf("bad time range %q: it ends before it starts (want FROM < TO)", s)
	}
	return r, nil
}

// Resolve returns the range's bounds in a run that reached now: the sides
// left out are 0 and now. A range that starts after now is an error; one
// that ends after now is drawn as asked (empty past now).
func (r Range) Resolve(now int64) (from, to int64, err error) {
	from, to = 0, now
	if r.HasFrom {
		from = r.From
	}
	if r.HasTo {
		to = r.To
	}
	if from > now {
		return 0, 0, fmt.Errorf("the time range %s starts after the end of the run (%s)", r, units.Virtual(now))
	}
	return from, to, nil
}

// String is the range as ParseRange reads it.
func (r Range) String() string {
	s := ""
	if r.HasFrom {
		s = units.Dur(r.From)
	}
	s += ".."
	if r.HasTo {
		s += units.Dur(r.To)
	}
	return s
}

// storeTimeline draws the buffered stores that overlap [from, to]: a row
// per storing CPU (nil for the others), up to timelineIPIs lines
// describing them, and how many there were.
func (a *Activity) storeTimeline(from, to int64, cols int, col func(int64) int) (rows map[int][]byte, lines []string, n int) {
	for i := range a.stores {
		st := &a.stores[i]
		if st.end < from || st.start > to || st.cpu < 0 || st.cpu >= a.nr {
			continue
		}
		if rows == nil {
			rows = map[int][]byte{} // looked up by CPU, never iterated
		}
		r := rows[st.cpu]
		if r == nil {
			r = []byte(strings.Repeat(" ", cols))
			rows[st.cpu] = r
		}
		for c := col(max(st.start, from)); c <= col(min(max(st.end-1, st.start), to)); c++ {
			if r[c] == ' ' {
				r[c] = 'b'
			}
		}
		if st.end <= to {
			r[col(st.end)] = 'v'
		}
		n++
		if len(lines) < timelineIPIs {
			lines = append(lines, a.storeLine(st, from))
		}
	}
	return rows, lines, n
}

// storeLine describes one buffered store, times relative to from.
func (a *Activity) storeLine(st *storeSpan, from int64) string {
	to := "" // an unlock of an async csd: any CPU may read it
	if st.to >= 0 {
		to = fmt.Sprintf(" > CPU%d", st.to)
	}
	rel := func(t int64) string { // buffered before the range: "-40ns"
		if t < from {
			return "-" + units.Dur(from-t)
		}
		return "+" + units.Dur(t-from)
	}
	line := fmt.Sprintf("CPU%d %s%s  %s..%s", st.cpu, st.name, to, rel(st.start), rel(st.end))
	if st.barrier != "" {
		line += ", drained by " + st.barrier
	}
	for i, id := range a.overtaken(st) {
		if i == 0 {
			line += ", overtaken by IPI"
		}
		if f := a.flow0(id); f != nil {
			line += " " + rel(f.t)
		}
	}
	if r := []rune(line); len(r) > timelineCols {
		line = string(r[:timelineCols-1]) + "…"
	}
	return line
}

// flow0 finds the IPI of id among all those recorded (nil: not recorded).
func (a *Activity) flow0(id uint64) *ipiFlow {
	for i := range a.flows {
		if a.flows[i].id == id {
			return &a.flows[i]
		}
	}
	return nil
}
