package traces

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/xcallsh/xcallsh/emu"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/units"
)

// The Chrome Trace Event / Perfetto JSON writer (docs/traces.md#perfetto-json):
// one process per machine (pid 1, named after the machine), one thread track
// "CPU n" per CPU (tid n), complete ("X") slices for tasks, irqs-off spans,
// interrupt handlers and csd functions, thread-scoped instants for every
// tracepoint hit and kernel log line, and a v1 flow arrow per IPI.
//
// Flow arrows: the "s" event sits half a nanosecond after the send
// tracepoint, on the sender's track, so it falls strictly inside the slice
// that sent it (a task or a handler) and never on the same timestamp as an
// instant; the "f" event ("bp":"e", binding to its enclosing slice) sits half
// a nanosecond after the start of the handler slice that took the IPI.
// Timestamps are printed in microseconds with exact decimals, so the file is
// the same byte for byte on every platform.

// jsonEvent is one output event before sorting.
type jsonEvent struct {
	ts    int64 // ns*2: flow events sit on odd half-nanoseconds
	tid   int
	class int   // 0 slice, 1 instant, 2 flow start, 3 flow end
	dur   int64 // slices: ns
	depth int
	text  string
}

// usHalf renders a time in half-nanoseconds as microseconds.
func usHalf(h int64) string {
	ns := h / 2
	s := fmt.Sprintf("%d.%03d", ns/1000, ns%1000)
	if h%2 != 0 {
		s += "5"
	}
	return s
}

func jstr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// WriteJSON writes the whole recording, up to virtual time now.
func (a *Activity) WriteJSON(w io.Writer, now int64, log []emu.LogLine, hash uint64) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"machine\":%s,\"seed\":%d,\"trace_hash\":\"%016x\",\"end\":%s,\"spans_dropped\":%d,\"tracepoints_dropped\":%d},\n\"traceEvents\":[\n",
		jstr(a.spec.Name), a.m.Seed(), hash, jstr(units.Virtual(now)), a.dropped, a.dropEvs)
	fmt.Fprintf(bw, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,\"args\":{\"name\":%s}}", jstr(a.spec.Name))
	for cpu := 0; cpu < a.nr; cpu++ {
		fmt.Fprintf(bw, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":%d,\"args\":{\"name\":\"CPU %d\"}}", cpu, cpu)
		fmt.Fprintf(bw, ",\n{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":1,\"tid\":%d,\"args\":{\"sort_index\":%d}}", cpu, cpu)
	}
	for _, e := range a.jsonEvents(now, log) {
		bw.WriteString(",\n")
		bw.WriteString(e.text)
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}

// nested returns the spans as they are drawn: ends clamped to now and to
// their parents (a slice that started by sighting may overlap an exact one;
// Perfetto needs proper nesting), at least 1 ns long, sorted per CPU by
// start, longest first.
func (a *Activity) nested(now int64) []span {
	out := make([]span, len(a.spans))
	for i, s := range a.spans {
		s.end = s.endAt(now)
		if s.end <= s.start {
			s.end = s.start + 1
		}
		out[i] = s
	}
	sort.SliceStable(out, func(i, j int) bool {
		x, y := &out[i], &out[j]
		if x.cpu != y.cpu {
			return x.cpu < y.cpu
		}
		if x.start != y.start {
			return x.start < y.start
		}
		if x.end != y.end {
			return x.end > y.end
		}
		return x.kind < y.kind
	})
	var stack []int
	for i := range out {
		s := &out[i]
		for len(stack) > 0 {
			top := &out[stack[len(stack)-1]]
			if top.cpu == s.cpu && top.end > s.start {
				break
			}
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 {
			if top := &out[stack[len(stack)-1]]; s.end > top.end {
				s.end = top.end
			}
		}
		stack = append(stack, i)
	}
	return out
}

func (a *Activity) jsonEvents(now int64, log []emu.LogLine) []jsonEvent {
	var evs []jsonEvent
	spans := a.nested(now)
	for _, s := range spans {
		args := ""
		for _, kv := range s.args {
			args += fmt.Sprintf(",%s:%s", jstr(kv[0]), jstr(kv[1]))
		}
		if args != "" {
			args = ",\"args\":{" + args[1:] + "}"
		}
		evs = append(evs, jsonEvent{ts: 2 * s.start, tid: s.cpu, class: 0, dur: s.end - s.start, depth: int(s.kind),
			text: fmt.Sprintf("{\"ph\":\"X\",\"name\":%s,\"cat\":%q,\"pid\":1,\"tid\":%d,\"ts\":%s,\"dur\":%s%s}",
				jstr(s.name), s.kind.cat(), s.cpu, usHalf(2*s.start), usHalf(2*(s.end-s.start)), args)})
	}
	for _, e := range a.events {
		evs = append(evs, jsonEvent{ts: 2 * e.T, tid: e.CPU, class: 1,
			text: fmt.Sprintf("{\"ph\":\"i\",\"s\":\"t\",\"name\":%s,\"cat\":\"tracepoint\",\"pid\":1,\"tid\":%d,\"ts\":%s,\"args\":{\"task\":%s,\"flags\":%s,\"fields\":%s}}",
				jstr(e.Name), e.CPU, usHalf(2*e.T), jstr(e.Comm+"-"+strconv.Itoa(e.PID)), jstr(string(e.Flags[:])), jstr(e.Args))})
	}
	for _, l := range log {
		if l.CPU < 0 || l.CPU >= a.nr {
			continue
		}
		evs = append(evs, jsonEvent{ts: 2 * l.T, tid: l.CPU, class: 1,
			text: fmt.Sprintf("{\"ph\":\"i\",\"s\":\"t\",\"name\":\"printk\",\"cat\":\"log\",\"pid\":1,\"tid\":%d,\"ts\":%s,\"args\":{\"text\":%s}}",
				l.CPU, usHalf(2*l.T), jstr(l.Text))})
	}
	for id, f := range a.flows {
		if f.handler < 0 {
			evs = append(evs, jsonEvent{ts: 2 * f.t, tid: f.to, class: 1,
				text: fmt.Sprintf("{\"ph\":\"i\",\"s\":\"t\",\"name\":\"IPI not taken\",\"cat\":\"ipi\",\"pid\":1,\"tid\":%d,\"ts\":%s,\"args\":{\"from\":%d}}",
					f.to, usHalf(2*f.t), f.from)})
			continue
		}
		h := a.spans[f.handler]
		evs = append(evs,
			jsonEvent{ts: 2*f.t + 1, tid: f.from, class: 2,
				text: fmt.Sprintf("{\"ph\":\"s\",\"name\":\"ipi\",\"cat\":\"ipi\",\"id\":%d,\"pid\":1,\"tid\":%d,\"ts\":%s,\"args\":{\"to\":%d}}",
					id+1, f.from, usHalf(2*f.t+1), f.to)},
			jsonEvent{ts: 2*h.start + 1, tid: f.to, class: 3,
				text: fmt.Sprintf("{\"ph\":\"f\",\"bp\":\"e\",\"name\":\"ipi\",\"cat\":\"ipi\",\"id\":%d,\"pid\":1,\"tid\":%d,\"ts\":%s}",
					id+1, f.to, usHalf(2*h.start+1))})
	}
	sort.SliceStable(evs, func(i, j int) bool {
		x, y := &evs[i], &evs[j]
		if x.ts != y.ts {
			return x.ts < y.ts
		}
		if x.tid != y.tid {
			return x.tid < y.tid
		}
		if x.class != y.class {
			return x.class < y.class
		}
		if x.dur != y.dur {
			return x.dur > y.dur
		}
		return x.depth < y.depth
	})
	return evs
}
