// Package report is the format of xcallsh's reproducible bug reports: one
// plain Lua file that replays a run exactly (docs/reports.md), and the
// event log whose hash and checksums a report records and a replay checks.
//
// Layout of a report:
//
//	--!xcallsh report v1                      the marker: the first line
//	-- ...what this is, how to run it...
//	--! seed: 7                               the header: "--! key: value"
//	--! machine: x86-4                        (for people)
//	--! outcome: failed                       ok, failed, panic or stuck
//	--! detail: hello.lua:3: boom             the message, Go-quoted if needed
//	--! hash: ae3a5d772582a23c                the trace hash
//	--! events: 37                            trace and log events since boot
//	--! block: 1                              events per checksum entry
//	--! strategy: pct                         optional: the schedule (explore)
//	--! depth: 3                              optional
//	--! decisions: 12=3 40=ff                 optional, repeatable: a recorded schedule
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
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
)

// Marker starts every report; "v1" follows it.
const Marker = "--!xcallsh report"

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
}

// Sched is the scheduling configuration that replays the header's run.
func (h *Header) Sched() emu.SchedConfig {
	return emu.SchedConfig{Strategy: h.Strategy, Depth: h.Depth, Replay: h.Decisions}
}

// DamagedError is a report whose header or trailer cannot be read.
type DamagedError struct{ Msg string }

func (e *DamagedError) Error() string { return e.Msg }

// Parse reads the header and trailer of a report named name.
func Parse(name, src string) (*Header, error) {
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	bad := func(line int, format string, args ...any) error {
		return &DamagedError{fmt.Sprintf("%s:%d: damaged report: %s", name, line, fmt.Sprintf(format, args...))}
	}
	if v := strings.TrimSpace(strings.TrimPrefix(lines[0], Marker)); !IsReport(src) || v != "v1" {
		return nil, bad(1, "unsupported report version %q (this xcallsh reads v1)", v)
	}
	h := &Header{}
	seen := map[string]int{} // key -> line; lookups only
	set := func(ln int, key, val string) error {
		if first, dup := seen[key]; dup && key != "sum" && key != "decisions" {
			return bad(ln, "%q appears twice (first on line %d)", key, first)
		}
		seen[key] = ln
		var err error
		switch key {
		case "seed":
			h.Seed, err = strconv.ParseUint(val, 10, 64)
		case "machine":
			h.Machine = val
		case "outcome":
			switch val {
			case "ok", "failed", "panic", "stuck":
				h.Outcome.Kind = val
			default:
				return bad(ln, "outcome %q is not one of ok, failed, panic, stuck", val)
			}
		case "detail":
			h.Outcome.Detail = val
			if strings.HasPrefix(val, `"`) {
				h.Outcome.Detail, err = strconv.Unquote(val)
			}
		case "hash":
			if len(val) != 16 {
				return bad(ln, "hash %q: want 16 hex digits", val)
			}
			h.Hash, err = strconv.ParseUint(val, 16, 64)
		case "events":
			h.Sums.Events, err = strconv.Atoi(val)
			if err == nil && h.Sums.Events < 0 {
				return bad(ln, "negative event count")
			}
		case "block":
			h.Sums.Block, err = strconv.Atoi(val)
			if err == nil && (h.Sums.Block < 1 || h.Sums.Block&(h.Sums.Block-1) != 0) {
				return bad(ln, "block %d is not a power of two", h.Sums.Block)
			}
		case "strategy":
			if val != "random" && val != "pct" {
				return bad(ln, "strategy %q is not random or pct", val)
			}
			h.Strategy = val
		case "depth":
			h.Depth, err = strconv.Atoi(val)
		case "decisions":
			if h.Decisions == nil {
				h.Decisions = []emu.Decision{}
			}
			for _, f := range strings.Fields(val) {
				n, v, ok := strings.Cut(f, "=")
				dn, err1 := strconv.Atoi(n)
				dv, err2 := strconv.ParseUint(v, 16, 64)
				if !ok || err1 != nil || err2 != nil || dn < 1 {
					return bad(ln, "decision %q: want DRAW=HEXVALUE", f)
				}
				if k := len(h.Decisions); k > 0 && h.Decisions[k-1].N >= dn {
					return bad(ln, "decision %q: draws must ascend", f)
				}
				h.Decisions = append(h.Decisions, emu.Decision{N: dn, V: dv})
			}
		case "sum":
			for _, f := range strings.Fields(val) {
				v, perr := strconv.ParseUint(f, 16, 16)
				if perr != nil || len(f) != 4 {
					return bad(ln, "checksum %q: want 4 hex digits", f)
				}
				h.Sums.Entries = append(h.Sums.Entries, uint16(v))
			}
		case "end":
		}
		if err != nil {
			return bad(ln, "%s %q: %v", key, val, unwrapNum(err))
		}
		return nil
	}
	parse := func(i int, allowed map[string]bool) error {
		t := strings.TrimSpace(lines[i])
		rest, ok := strings.CutPrefix(t, "--!")
		if !ok {
			return nil
		}
		key, val, _ := strings.Cut(rest, ":")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !allowed[key] {
			if headKeys[key] || tailKeys[key] {
				return bad(i+1, "%q does not belong here", key)
			}
			return bad(i+1, "unknown key %q", key)
		}
		return set(i+1, key, val)
	}
	i := 1
	for ; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "--"); i++ {
		if err := parse(i, headKeys); err != nil {
			return nil, err
		}
	}
	headEnd := i
	for _, k := range []string{"seed", "outcome", "hash", "events", "block"} {
		if _, ok := seen[k]; !ok {
			return nil, bad(headEnd, "the header has no %q line", k)
		}
	}
	// The trailer: comment lines at the very end, the last one "--! end".
	j := len(lines) - 1
	for j > headEnd && strings.TrimSpace(lines[j]) == "" {
		j--
	}
	if j <= headEnd || strings.TrimSpace(lines[j]) != "--! end" {
		return nil, bad(j+1, "no \"--! end\" line at the end: the report is truncated")
	}
	k := j
	for k > headEnd && strings.HasPrefix(strings.TrimSpace(lines[k-1]), "--") {
		k--
	}
	for ; k <= j; k++ {
		if err := parse(k, tailKeys); err != nil {
			return nil, err
		}
	}
	s := &h.Sums
	want := (s.Events + s.Block - 1) / s.Block
	if got := len(s.Entries); got != want && !(s.Events > MaxKeptSums && got > 0 && got < want) {
		return nil, bad(j+1, "the checksum list has %d entries, want %d for %d events in blocks of %d: the report is truncated or damaged",
			got, want, s.Events, s.Block)
	}
	return h, nil
}

var (
	headKeys = map[string]bool{"seed": true, "machine": true, "outcome": true, "detail": true, "hash": true,
		"events": true, "block": true, "strategy": true, "depth": true, "decisions": true}
	tailKeys = map[string]bool{"sum": true, "end": true}
)

func unwrapNum(err error) error {
	if ne, ok := err.(*strconv.NumError); ok {
		return ne.Err
	}
	return err
}

// Body is the Lua part of a report.
type Body struct {
	MadeBy   string         // what made the report: "the xcallsh shell (4 steps)"
	Spec     *machines.Spec // the machine, written inline
	Forced   bool           // the run's -m: the scenario's machine() calls were ignored
	Scenario string         // Lua source of the scenario part (ScriptScenario, ...)
}

// Write writes a complete report.
func Write(w io.Writer, h *Header, b *Body) error {
	bw := bufio.NewWriter(w)
	detail := h.Outcome.Detail
	if strings.ContainsFunc(detail, func(r rune) bool { return r < ' ' || r == 0x7f }) || strings.HasPrefix(detail, `"`) ||
		strings.TrimSpace(detail) != detail {
		detail = strconv.Quote(detail)
	}
	if detail != "" {
		detail = " " + detail
	}
	fmt.Fprintf(bw, `%s v1
--
-- A bug report made by xcallsh, the emulator of Linux's cross-CPU function
-- calls (kernel/smp.c). It reproduces one run exactly. Replay it with
--
--     xcallsh run THIS_FILE
--
-- which prints "reproduced" and exits 0 when the replay ends with the outcome
-- and trace hash recorded below, or exits 1 and names the first trace or log
-- event that differs. Lines starting with "--!" are read by xcallsh: the seed
-- of the schedule, the recorded outcome, the hash of the trace, and (at the
-- end) one checksum per block of events. The rest is plain Lua: edit it, and
-- the replay says where the run went another way.
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
`, Marker, b.MadeBy, h.Seed, h.Machine, h.Outcome.Kind, detail, h.Hash, h.Sums.Events, h.Sums.Block)
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
	fmt.Fprintf(bw, "\n-- Checksums of the %d trace and log events, one per block of %d.\n", h.Sums.Events, h.Sums.Block)
	for i := 0; i < len(h.Sums.Entries); i += 12 {
		bw.WriteString("--! sum:")
		for _, s := range h.Sums.Entries[i:min(i+12, len(h.Sums.Entries))] {
			fmt.Fprintf(bw, " %04x", s)
		}
		bw.WriteString("\n")
	}
	bw.WriteString("--! end\n")
	return bw.Flush()
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
`, name, LongString(src), LuaQuote(name))
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
