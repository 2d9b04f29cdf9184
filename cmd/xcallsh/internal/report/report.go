// Package report is the format of xcallsh's reproducible bug reports: one
// plain Lua file that replays a run exactly (docs/reports.md), and the
// event log whose hash and checksums a report records and a replay checks.
//
// Layout of a report:
//
//	--!xcallsh report v2                      the marker: the first line
//	-- ...what this is, how to run it...
//	--! seed: 7                               the header: "--! key: value"
//	--! machine: x86-4                        (for people)
//	--! outcome: failed                       ok, failed, panic or stuck
//	--! detail: hello.lua:3: boom             the message, Go-quoted if needed
//	--! hash: ae3a5d772582a23c                the trace hash: of the typed events (AppendEvent)
//	--! events: 37                            events of the record since boot
//	--! block: 1                              events per checksum entry
//	--! schedule-format: 2                    emu.ScheduleFormat of the build that wrote it
//	--! strategy: pct                         optional: the schedule (explore)
//	--! depth: 3                              optional
//	--! decisions: 12=3 40=ff                 optional, repeatable: a recorded schedule
//	--! made-by: xcallsh devel (go1.26.8)     the build that wrote it (Identity)
//	--! header-sum: 0123...cdef 4567...89ab   hashes of the other "--!" lines (Seal)
//
//	machine([==[ ...the TOML... ]==])         the machine, inline
//	...the scenario...                        a script, or the shell's steps
//
//	--! sum: 1a2b 3c4d ...                    the trailer: checksums, 12 a line
//	--! end                                   the last line
//
// The header is the run of comment lines at the top, the trailer the run of
// comment lines at the bottom, so a report embedded in another report's
// scenario (in a long string) does not confuse the parser. Only the
// schedule (seed, strategy, decisions) cannot be said in Lua; everything
// else a person may edit, and the replay then names the first event that
// differs.
package report

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
)

// Marker starts every report; the format's version ("v2") follows it.
const Marker = "--!xcallsh report"

// Version is the report format Write writes: v2, which records the
// schedule format (emu.ScheduleFormat). Parse reads v1 reports too, to
// refuse them by name (FormatError): a v1 report's schedule is format 1.
const Version = 2

// IsReport reports whether src is a report (starts with the marker).
func IsReport(src string) bool { return strings.HasPrefix(src, Marker) }

// Outcome is how a run ended.
type Outcome struct {
	Kind   string // "ok", "failed", "panic" or "stuck"
	Detail string // the failure message, the panic message, the wait-for description
}

func (o Outcome) String() string {
	if o.Detail == "" {
		return o.Kind
	}
	return o.Kind + ": " + o.Detail
}

// Header is what a report records about its run.
type Header struct {
	Seed    uint64
	Machine string
	Outcome Outcome
	Hash    uint64
	Sums    Sums
	// The schedule, when it is not just the seed's: explore's strategy and
	// depth, or a recorded list of decisions (Decisions != nil).
	Strategy  string
	Depth     int
	Decisions []emu.Decision
	// Build is the identity of the xcallsh that made the report (its
	// made-by line; "" in reports older than the line). Write records the
	// running build, whatever Build says.
	Build string
	// Seal is what the header-sum line says of the other "--!" lines.
	Seal Seal
}

// Seal is the report's check of its own "--!" lines: its header-sum line
// holds a hash of the header's "--!" lines (the marker included) and one of
// the trailer's, each over their exact text, so that an edit of any of them
// shows, and shows where. Reports older than the line are not sealed.
type Seal struct {
	Sealed        bool // the report has a header-sum line
	HeaderEdited  bool // a header "--!" line is not the one written
	TrailerEdited bool // a trailer "--!" line is not the one written
}

// Edited reports whether a "--!" line of a sealed report was edited.
func (s Seal) Edited() bool { return s.HeaderEdited || s.TrailerEdited }

// sealHash is FNV-1a (64 bits) over each "--!" line of text, its exact
// text and a newline, skipping the header-sum line itself.
func sealHash(h uint64, line string) uint64 {
	t := strings.TrimSpace(line)
	rest, ok := strings.CutPrefix(t, "--!")
	if !ok {
		return h
	}
	if key, _, _ := strings.Cut(rest, ":"); strings.TrimSpace(key) == "header-sum" {
		return h
	}
	for i := 0; i < len(line); i++ {
		h = (h ^ uint64(line[i])) * fnvPrime
	}
	return (h ^ '\n') * fnvPrime
}

const (
	fnvOffset = 0xcbf29ce484222325
	fnvPrime  = 0x100000001b3
)

// Sched is the scheduling configuration that replays the header's run.
func (h *Header) Sched() emu.SchedConfig {
	st, _ := emu.ParseStrategy(h.Strategy) // check refuses other names; "" is random
	return emu.SchedConfig{Strategy: st, Depth: h.Depth, Replay: h.Decisions}
}

// DamagedError is a report whose header or trailer cannot be read.
type DamagedError struct{ Msg string }

func (e *DamagedError) Error() string { return e.Msg }

// FormatError is a sound report whose schedule format is not this
// xcallsh's (emu.ScheduleFormat): its seed and decisions would draw
// another run here, so it is refused, naming the build that can replay it.
type FormatError struct {
	Name   string // the report's file name
	Format int    // its schedule format (1: a v1 report, which has none)
	Build  string // its made-by line ("": older than the line)
	// Edited says the report is sealed and a "--!" line of its header is
	// not the one written: the schedule-format or made-by line may be
	// the edited one.
	Edited bool
}

// ModulePath is xcallsh's Go module, for `go run MODULE/cmd/xcallsh@REV`.
const ModulePath = "github.com/xcallsh/xcallsh"

func (e *FormatError) Error() string {
	var b strings.Builder
	run := "run " + shellWord(e.Name)
	by := "an xcallsh older than the made-by line"
	if e.Build != "" {
		by = commentText(e.Build)
		if len(by) > 200 {
			by = by[:200] + "..."
		}
	}
	fmt.Fprintf(&b, "%s: cannot replay: this report was made by %s (schedule format %d); this xcallsh replays schedule format %d only\n",
		e.Name, by, e.Format, emu.ScheduleFormat)
	rev, dirty := buildRev(e.Build)
	switch {
	case rev != "":
		fmt.Fprintf(&b, "replay it with: go run %s/cmd/xcallsh@%s %s", ModulePath, rev, run)
		if dirty {
			b.WriteString("\n(the build that made it had local changes, which that revision lacks)")
		}
	case e.Format < emu.ScheduleFormat:
		fmt.Fprintf(&b, "its made-by line names no release or commit, so which xcallsh made it cannot be told; replay it with\n"+
			"an xcallsh from before schedule format %d (a checkout of a commit before the one that added\n"+
			"emu.ScheduleFormat = %d: git log -S 'ScheduleFormat = %d' -- emu/sched.go): go run ./cmd/xcallsh %s",
			e.Format+1, e.Format+1, e.Format+1, run)
	default:
		fmt.Fprintf(&b, "its made-by line names no release or commit, so which xcallsh made it cannot be told; replay it with\n"+
			"an xcallsh whose emu.ScheduleFormat is %d: go run ./cmd/xcallsh %s", e.Format, run)
	}
	if e.Edited {
		b.WriteString("\nbut a \"--!\" line of its header was edited (the header-sum does not match): the schedule-format or made-by line may not be the one written")
	}
	return b.String()
}

// madeByRE reads Identity's text: the module version, the revision and
// whether the tree was dirty.
var madeByRE = regexp.MustCompile(`^xcallsh (\S+)(?: rev ([0-9a-f]{7,40})(\+dirty)?)? \(go[^()\s]*\)$`)

// buildRev is what `go run MODULE@REV` can fetch to get the build named by
// a made-by line: its module version (a release or a pseudo-version),
// else its VCS revision; "" when the line names neither. dirty says the
// build had local changes.
func buildRev(build string) (rev string, dirty bool) {
	m := madeByRE.FindStringSubmatch(build)
	if m == nil {
		return "", false
	}
	if v := m[1]; v != "devel" && versionRE.MatchString(v) {
		return v, m[3] != ""
	}
	return m[2], m[3] != ""
}

var versionRE = regexp.MustCompile(`^v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$`)

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/+=:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Limits of a report, which Parse enforces (a report is other people's
// file) and Write obeys, so that every report Write makes, Parse reads.
const (
	// MaxSize is the largest report, in bytes: room for MaxDecisions
	// decisions (at most 34 bytes each), a machine of machines.MaxFileSize
	// and a scenario of tens of megabytes.
	MaxSize = 64 << 20
	// MaxEvents is the largest event count ("events"): a run at ten
	// million events a second would take 30 hours to reach it. It keeps
	// the checksum arithmetic far from overflow.
	MaxEvents = 1 << 40
	// MaxBlock is the largest block ("block"): MaxEvents events in MaxSums
	// blocks.
	MaxBlock = MaxEvents / MaxSums
	// MaxDecisions is the longest decision list: 16 MiB once read. A
	// recorded run that made more non-canonical draws is a report only
	// once explore has shrunk them.
	MaxDecisions = 1 << 20
	// MaxDraw is the largest draw number of a decision: more draws than a
	// run makes in days.
	MaxDraw = 1 << 48
)

// Parse reads the header and trailer of a report named name.
//
// Parse reads reports of format v1 and v2. A report it can read whose
// schedule format is not emu.ScheduleFormat (every v1 report: format 1)
// is refused with a *FormatError, after every check for damage.
//
// Every number has a range, and a report outside one is damaged: seed
// 0-18446744073709551615, events 0-MaxEvents, block a power of two in
// 1-MaxBlock, depth 1-emu.MaxDepth, at most MaxDecisions decisions whose
// draws ascend in 1-MaxDraw and whose values are 0-ffffffffffffffff, at
// most MaxSums checksums of 4 hex digits, a hash of 16 hex digits. The
// machine, if named, is a name machines.CheckName accepts; the whole
// report is at most MaxSize bytes.
func Parse(name, src string) (*Header, error) {
	bad := func(line int, format string, args ...any) error {
		return &DamagedError{fmt.Sprintf("%s:%d: damaged report: %s", name, line, fmt.Sprintf(format, args...))}
	}
	first, _, _ := strings.Cut(src, "\n")
	version := 0
	switch v := strings.TrimSpace(strings.TrimPrefix(first, Marker)); {
	case !IsReport(src):
		return nil, bad(1, "unsupported report version %s (this xcallsh reads v1 and v2)", quote(v))
	case v == "v1":
		version = 1
	case v == "v2":
		version = 2
	default:
		return nil, bad(1, "unsupported report version %s (this xcallsh reads v1 and v2)", quote(v))
	}
	if len(src) > MaxSize {
		return nil, bad(1+strings.Count(src[:MaxSize], "\n"), "the report is larger than %d bytes (%d bytes)", MaxSize, len(src))
	}
	src = strings.ReplaceAll(src, "\r\n", "\n")
	h := &Header{}
	format := 1                   // a v1 report's; v2 reports say theirs
	var sealHead, sealTail uint64 // the header-sum line's hashes
	seen := map[string]int{}      // key -> line; lookups only
	set := func(ln int, key, val string) error {
		if first, dup := seen[key]; dup && key != "sum" && key != "decisions" {
			return bad(ln, "%q appears twice (first on line %d)", key, first)
		}
		seen[key] = ln
		var err error
		switch key {
		case "seed":
			var n uint64
			n, err = number(key, val, 0, math.MaxUint64)
			h.Seed = n
		case "machine":
			h.Machine = val
			if val != "" {
				if cerr := machines.CheckName(val); cerr != nil {
					return bad(ln, "machine name: %v", cerr)
				}
			}
		case "outcome":
			switch val {
			case "ok", "failed", "panic", "stuck":
				h.Outcome.Kind = val
			default:
				return bad(ln, "outcome %s is not one of ok, failed, panic, stuck", quote(val))
			}
		case "detail":
			h.Outcome.Detail = val
			if strings.HasPrefix(val, `"`) {
				h.Outcome.Detail, err = strconv.Unquote(val)
				if err != nil {
					err = fmt.Errorf("detail %s: %v", quote(val), unwrapNum(err))
				}
			}
		case "hash":
			if len(val) != 16 {
				return bad(ln, "hash %s: want 16 hex digits", quote(val))
			}
			h.Hash, err = strconv.ParseUint(val, 16, 64)
			if err != nil {
				err = fmt.Errorf("hash %s: want 16 hex digits", quote(val))
			}
		case "events":
			var n uint64
			n, err = number(key, val, 0, MaxEvents)
			h.Sums.Events = int(n)
		case "block":
			var n uint64
			n, err = number(key, val, 1, MaxBlock)
			h.Sums.Block = int(n)
			if err == nil && n&(n-1) != 0 {
				return bad(ln, "block %d is not a power of two", n)
			}
		case "strategy":
			if val != "random" && val != "pct" {
				return bad(ln, "strategy %s is not random or pct", quote(val))
			}
			h.Strategy = val
		case "depth":
			var n uint64
			n, err = number(key, val, 1, emu.MaxDepth)
			h.Depth = int(n)
		case "decisions":
			if h.Decisions == nil {
				h.Decisions = []emu.Decision{}
			}
			for f := range strings.FieldsSeq(val) {
				if len(h.Decisions) == MaxDecisions {
					return bad(ln, "more than %d decisions", MaxDecisions)
				}
				n, v, ok := strings.Cut(f, "=")
				dn, err1 := strconv.ParseUint(n, 10, 64)
				dv, err2 := strconv.ParseUint(v, 16, 64)
				switch {
				case !ok || !isDigits(n) || !isHex(v):
					return bad(ln, "decision %s: want DRAW=HEXVALUE", quote(f))
				case err1 != nil || dn < 1 || dn > MaxDraw:
					return bad(ln, "decision %s: draw %s out of range 1-%d", quote(f), clip(n), uint64(MaxDraw))
				case err2 != nil:
					return bad(ln, "decision %s: value %s out of range 0-ffffffffffffffff", quote(f), clip(v))
				}
				if k := len(h.Decisions); k > 0 && h.Decisions[k-1].N >= int(dn) {
					return bad(ln, "decision %s: draws must ascend", quote(f))
				}
				h.Decisions = append(h.Decisions, emu.Decision{N: int(dn), V: dv})
			}
		case "schedule-format":
			var n uint64
			n, err = number(key, val, 1, MaxScheduleFormat)
			format = int(n)
		case "made-by":
			h.Build = val
		case "header-sum":
			a, b, _ := strings.Cut(val, " ")
			var err1, err2 error
			if len(a) == 16 && len(b) == 16 && isHex(a) && isHex(b) {
				sealHead, err1 = strconv.ParseUint(a, 16, 64)
				sealTail, err2 = strconv.ParseUint(b, 16, 64)
			}
			if len(a) != 16 || len(b) != 16 || !isHex(a) || !isHex(b) || err1 != nil || err2 != nil {
				return bad(ln, "header-sum %s: want two hashes of 16 hex digits", quote(val))
			}
			h.Seal.Sealed = true
		case "sum":
			for f := range strings.FieldsSeq(val) {
				v, perr := strconv.ParseUint(f, 16, 16)
				if perr != nil || len(f) != 4 {
					return bad(ln, "checksum %s: want 4 hex digits", quote(f))
				}
				if len(h.Sums.Entries) == MaxSums {
					return bad(ln, "more than %d checksums", MaxSums)
				}
				h.Sums.Entries = append(h.Sums.Entries, uint16(v))
			}
		case "end":
		}
		if err != nil {
			return bad(ln, "%v", err)
		}
		return nil
	}
	parse := func(ln int, line string, allowed map[string]bool) error {
		t := strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(t, "--!")
		if !ok {
			return nil
		}
		key, val, _ := strings.Cut(rest, ":")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !allowed[key] {
			if headKeys[key] || tailKeys[key] {
				return bad(ln, "%q does not belong here", key)
			}
			return bad(ln, "unknown key %s", quote(key))
		}
		return set(ln, key, val)
	}
	isComment := func(line string) bool { return strings.HasPrefix(strings.TrimSpace(line), "--") }

	// The lines are read in place, not split: a report may hold millions.
	// Line n (1-based) runs from an offset to the next newline or the end.
	lineAt := func(off int) (line string, next int) {
		if i := strings.IndexByte(src[off:], '\n'); i >= 0 {
			return src[off : off+i], off + i + 1
		}
		return src[off:], len(src) + 1
	}

	// The header: comment lines after the first.
	marker, off := lineAt(0)
	headSum, tailSum := sealHash(fnvOffset, marker), uint64(fnvOffset)
	i := 1 // 0-based number of the line at off
	for ; off <= len(src); i++ {
		line, next := lineAt(off)
		if !isComment(line) {
			break
		}
		if err := parse(i+1, line, headKeys); err != nil {
			return nil, err
		}
		headSum = sealHash(headSum, line)
		off = next
	}
	headEnd := i
	required := []string{"seed", "outcome", "hash", "events", "block"}
	if version >= 2 {
		required = append(required, "schedule-format")
	}
	for _, k := range required {
		if _, ok := seen[k]; !ok {
			return nil, bad(headEnd, "the header has no %q line", k)
		}
	}
	// The trailer: comment lines at the very end, the last one "--! end".
	// Line j runs from jStart to jEnd.
	j := strings.Count(src, "\n")
	jStart, jEnd := strings.LastIndexByte(src, '\n')+1, len(src)
	prev := func() {
		j--
		jEnd = jStart - 1
		jStart = strings.LastIndexByte(src[:jEnd], '\n') + 1
	}
	for j > headEnd && strings.TrimSpace(src[jStart:jEnd]) == "" {
		prev()
	}
	if j <= headEnd || strings.TrimSpace(src[jStart:jEnd]) != "--! end" {
		return nil, bad(j+1, "no \"--! end\" line at the end: the report is truncated")
	}
	end := j
	for j > headEnd {
		k, kStart, kEnd := j, jStart, jEnd
		prev()
		if !isComment(src[jStart:jEnd]) {
			j, jStart, jEnd = k, kStart, kEnd
			break
		}
	}
	for off = jStart; j <= end; j++ {
		line, next := lineAt(off)
		if err := parse(j+1, line, tailKeys); err != nil {
			return nil, err
		}
		tailSum = sealHash(tailSum, line)
		off = next
	}
	if h.Seal.Sealed {
		h.Seal.HeaderEdited, h.Seal.TrailerEdited = headSum != sealHead, tailSum != sealTail
	}
	s := &h.Sums
	want := (s.Events + s.Block - 1) / s.Block
	if got := len(s.Entries); got != want && !(s.Events > MaxKeptSums && got > 0 && got < want) {
		return nil, bad(end+1, "the checksum list has %d entries, want %d for %d events in blocks of %d: the report is truncated or damaged",
			got, want, s.Events, s.Block)
	}
	if format != emu.ScheduleFormat {
		return nil, &FormatError{Name: name, Format: format, Build: h.Build, Edited: h.Seal.HeaderEdited}
	}
	return h, nil
}

// MaxScheduleFormat bounds a report's schedule-format line.
const MaxScheduleFormat = 1 << 20

var (
	headKeys = map[string]bool{"seed": true, "machine": true, "outcome": true, "detail": true, "hash": true,
		"events": true, "block": true, "strategy": true, "depth": true, "decisions": true, "made-by": true,
		"header-sum": true, "schedule-format": true}
	tailKeys = map[string]bool{"sum": true, "end": true}
)

// number reads val, a decimal integer of a header's key, in lo..hi.
func number(key, val string, lo, hi uint64) (uint64, error) {
	digits := strings.TrimPrefix(val, "-")
	if !isDigits(digits) {
		return 0, fmt.Errorf("%s %s: invalid syntax", key, quote(val))
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || digits != val || n < lo || n > hi {
		return 0, fmt.Errorf("%s %s out of range %d-%d", key, clip(val), lo, hi)
	}
	return n, nil
}

// isDigits reports whether s is one or more decimal digits.
func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// isHex reports whether s is one or more hex digits.
func isHex(s string) bool {
	return s != "" && strings.Trim(s, "0123456789abcdefABCDEF") == ""
}

// clip shortens s, text from a report, for a message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// quote quotes s, text from a report, for a message, shortened.
func quote(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "..."
	}
	return strconv.Quote(s)
}

func unwrapNum(err error) error {
	if ne, ok := err.(*strconv.NumError); ok {
		return ne.Err
	}
	return err
}

// check reports a header Write cannot write as a report Parse reads back.
func (h *Header) check() error {
	if h.Machine != "" {
		if err := machines.CheckName(h.Machine); err != nil {
			return fmt.Errorf("machine name: %v", err)
		}
	}
	switch h.Outcome.Kind {
	case "ok", "failed", "panic", "stuck":
	default:
		return fmt.Errorf("outcome %q is not one of ok, failed, panic, stuck", h.Outcome.Kind)
	}
	if h.Strategy != "" && h.Strategy != "random" && h.Strategy != "pct" {
		return fmt.Errorf("strategy %q is not random or pct", h.Strategy)
	}
	if h.Depth != 0 && (h.Depth < 1 || h.Depth > emu.MaxDepth) {
		return fmt.Errorf("depth %d out of range 1-%d", h.Depth, emu.MaxDepth)
	}
	s := &h.Sums
	if s.Block == 0 && s.Events == 0 && s.Entries == nil {
		return nil // a draft, before the run: written as no events in blocks of 1
	}
	if s.Events < 0 || s.Events > MaxEvents {
		return fmt.Errorf("events %d out of range 0-%d", s.Events, int64(MaxEvents))
	}
	if s.Block < 1 || s.Block > MaxBlock || s.Block&(s.Block-1) != 0 {
		return fmt.Errorf("block %d is not a power of two in 1-%d", s.Block, MaxBlock)
	}
	want := (s.Events + s.Block - 1) / s.Block
	if got := len(s.Entries); got > MaxSums || got != want && !(s.Events > MaxKeptSums && got > 0 && got < want) {
		return fmt.Errorf("%d checksums for %d events in blocks of %d", got, s.Events, s.Block)
	}
	if len(h.Decisions) > MaxDecisions {
		return fmt.Errorf("%d decisions, more than %d: shrink them (explore --shrink)", len(h.Decisions), MaxDecisions)
	}
	for i, d := range h.Decisions {
		if d.N < 1 || d.N > MaxDraw || i > 0 && d.N <= h.Decisions[i-1].N {
			return fmt.Errorf("decision %d=%x: draws must ascend in 1-%d", d.N, d.V, int64(MaxDraw))
		}
	}
	return nil
}

// Body is the Lua part of a report.
type Body struct {
	MadeBy   string         // what made the report: "the xcallsh shell (4 steps)"
	Spec     *machines.Spec // the machine, written inline
	Forced   bool           // the run's -m: the scenario's machine() calls were ignored
	Scenario string         // Lua source of the scenario part (ScriptScenario, ...)
}

// Write writes a complete report. It refuses, before writing anything, a
// header that Parse would not read back as it is (a field out of its range,
// a machine name that is not one) and a report larger than MaxSize. No
// header field can hold a line break: the detail is quoted when it holds a
// control character, and so are the names in comments (MadeBy, the
// scenario's name).
func Write(w io.Writer, h *Header, b *Body) error {
	if err := h.check(); err != nil {
		return fmt.Errorf("cannot write the report: %v", err)
	}
	bw := &bytes.Buffer{}
	detail := h.Outcome.Detail
	if strings.ContainsFunc(detail, func(r rune) bool { return r < ' ' || r == 0x7f }) || strings.HasPrefix(detail, `"`) ||
		strings.TrimSpace(detail) != detail {
		detail = strconv.Quote(detail)
	}
	if detail != "" {
		detail = " " + detail
	}
	fmt.Fprintf(bw, `%s v%d
--
-- A bug report made by xcallsh, the emulator of Linux's cross-CPU function
-- calls (kernel/smp.c). It reproduces one run exactly. Replay it with
--
--     xcallsh run THIS_FILE
--
-- which prints "reproduced" and exits 0 when the replay ends with the outcome
-- and trace hash recorded below, or exits 1 and names the first event of the
-- run's record that differs. Lines starting with "--!" are read by xcallsh:
-- the seed and the schedule format, the recorded outcome, the hash of the
-- record, and (at the end) one checksum per block of events. The rest is
-- plain Lua: edit it, and the replay says where the run went another way.
--
-- Made by %s.
--
--! seed: %d
--! machine: %s
--! outcome: %s
--! detail:%s
--! hash: %016x
--! events: %d
--! block: %d
--! schedule-format: %d
`, Marker, Version, commentText(b.MadeBy), h.Seed, h.Machine, h.Outcome.Kind, detail, h.Hash, h.Sums.Events, max(h.Sums.Block, 1), emu.ScheduleFormat)
	if h.Strategy != "" {
		fmt.Fprintf(bw, "--! strategy: %s\n", h.Strategy)
	}
	if h.Depth != 0 {
		fmt.Fprintf(bw, "--! depth: %d\n", h.Depth)
	}
	if h.Decisions != nil {
		if len(h.Decisions) == 0 {
			bw.WriteString("--! decisions:\n")
		}
		for i := 0; i < len(h.Decisions); i += 8 {
			bw.WriteString("--! decisions:")
			for _, d := range h.Decisions[i:min(i+8, len(h.Decisions))] {
				fmt.Fprintf(bw, " %d=%x", d.N, d.V)
			}
			bw.WriteString("\n")
		}
	}
	fmt.Fprintf(bw, "--! made-by: %s\n", commentText(Identity()))
	trailer := &bytes.Buffer{}
	for i := 0; i < len(h.Sums.Entries); i += 12 {
		trailer.WriteString("--! sum:")
		for _, s := range h.Sums.Entries[i:min(i+12, len(h.Sums.Entries))] {
			fmt.Fprintf(trailer, " %04x", s)
		}
		trailer.WriteString("\n")
	}
	trailer.WriteString("--! end\n")
	// The seal goes last in the header: it hashes the lines above and the
	// trailer, as Parse reads them.
	headSum, tailSum := uint64(fnvOffset), uint64(fnvOffset)
	for line := range strings.Lines(bw.String()) {
		headSum = sealHash(headSum, strings.TrimSuffix(line, "\n"))
	}
	for line := range strings.Lines(trailer.String()) {
		tailSum = sealHash(tailSum, strings.TrimSuffix(line, "\n"))
	}
	fmt.Fprintf(bw, "--! header-sum: %016x %016x\n", headSum, tailSum)
	bw.WriteString("\n-- The machine: its description, inline (xcallsh machines lists the built-in ones).\n")
	fmt.Fprintf(bw, "machine(%s)\n", LongString(b.Spec.Source))
	if b.Forced {
		bw.WriteString("-- The run chose the machine on the command line (-m), so the scenario's own\n" +
			"-- machine() calls were ignored; they are here too.\n" +
			"machine = function() end\n")
	}
	bw.WriteString("\n")
	bw.WriteString(b.Scenario)
	if !strings.HasSuffix(b.Scenario, "\n") {
		bw.WriteString("\n")
	}
	fmt.Fprintf(bw, "\n-- Checksums of the %d events of the record, one per block of %d.\n", h.Sums.Events, max(h.Sums.Block, 1))
	bw.Write(trailer.Bytes())
	if bw.Len() > MaxSize {
		return fmt.Errorf("cannot write the report: it would be %d bytes, more than %d", bw.Len(), MaxSize)
	}
	_, err := w.Write(bw.Bytes())
	return err
}

// commentText is s for a Lua comment line: Go-quoted if it holds a control
// character (a line break would end the comment).
func commentText(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return strconv.Quote(s)
	}
	return s
}

// LongString quotes s as a Lua long string whose value is exactly s (a
// quoted string when s holds a carriage return, which a long string would
// turn into a newline).
func LongString(s string) string {
	if strings.ContainsRune(s, '\r') {
		return LuaQuote(s)
	}
	for n := 1; ; n++ {
		closer := "]" + strings.Repeat("=", n) + "]"
		if strings.Index(s+closer, closer) == len(s) {
			return "[" + strings.Repeat("=", n) + "[\n" + s + closer
		}
	}
}

// ScriptScenario is the scenario part of a report made from the script
// src, which ran under the chunk name name.
func ScriptScenario(name, src string) string {
	return fmt.Sprintf(`-- The scenario: %s, run under its own chunk name, so the names of its
-- functions in the trace and the positions in its error messages stay as
-- they were recorded.
local scenario = %s
assert(loadstring(scenario, %s))()
`, commentText(name), LongString(src), LuaQuote(name))
}

// LuaQuote quotes s as a Lua 5.1 string literal.
func LuaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < ' ' || c == 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
