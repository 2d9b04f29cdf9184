package traces

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/units"
)

// The Chrome Trace Event / Perfetto JSON writer (docs/traces.md#perfetto-json):
// one process per machine (pid 1, named after the machine), one thread track
// "CPU n" per CPU (tid n), complete ("X") slices for tasks, irqs-off spans,
// interrupt handlers, csd functions, CSD-lock waits, cpuhp states and
// offline periods, thread-scoped instants for the record's other events
// (IPIs sent, dropped, delayed, elided, merged; csd queueing; wake-ups;
// kernel log lines; ...), and a v1 flow arrow per IPI taken by a handler.
//
// Flow arrows: the "s" event sits half a nanosecond after the send, on the
// sender's track, so it falls strictly inside the slice that sent it (a
// task or a handler) and never on the same timestamp as an instant; the
// "f" event ("bp":"e", binding to its enclosing slice) sits half a
// nanosecond after the start of the handler slice whose irq_entry lists
// the IPI's id. The flow's id is the IPI's id in the record. Timestamps are
// printed in microseconds with exact decimals, so the file is the same
// byte for byte on every platform.

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

// jstr is s as a JSON string (without HTML escapes: "<idle>" stays so).
func jstr(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// WriteJSON writes the whole recording, up to virtual time now; hash is
// the run's trace hash, for otherData.
func (a *Activity) WriteJSON(w io.Writer, now int64, hash uint64) error {
	bw := bufio.NewWriter(w)
	name := ""
	if a.spec != nil {
		name = a.spec.Name
	}
	fmt.Fprintf(bw, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"machine\":%s,\"seed\":%d,\"trace_hash\":\"%016x\",\"end\":%s,\"spans_dropped\":%d,\"ipis_dropped\":%d,\"instants_dropped\":%d},\n\"traceEvents\":[\n",
		jstr(name), a.seed, hash, jstr(units.Virtual(now)), a.dropped, a.flowsDropped, a.dropMarks)
	fmt.Fprintf(bw, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,\"args\":{\"name\":%s}}", jstr(name))
	for cpu := 0; cpu < a.nr; cpu++ {
		fmt.Fprintf(bw, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":%d,\"args\":{\"name\":\"CPU %d\"}}", cpu, cpu)
		fmt.Fprintf(bw, ",\n{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":1,\"tid\":%d,\"args\":{\"sort_index\":%d}}", cpu, cpu)
	}
	if len(a.stores) > 0 {
		_, lanes := a.storeLanes()
		for cpu := 0; cpu < a.nr; cpu++ {
			for l := 0; l < lanes[cpu]; l++ {
				name := fmt.Sprintf("CPU %d store buffer", cpu)
				if l > 0 {
					name += fmt.Sprintf(" (%d)", l+1)
				}
				fmt.Fprintf(bw, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":%d,\"args\":{\"name\":%s}}", a.storeTid(cpu, l), jstr(name))
				fmt.Fprintf(bw, ",\n{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":1,\"tid\":%d,\"args\":{\"sort_index\":%d}}", a.storeTid(cpu, l), cpu)
			}
		}
	}
	for _, e := range a.jsonEvents(now) {
		bw.WriteString(",\n")
		bw.WriteString(e.text)
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}

// jargs renders key-value pairs as a JSON "args" member ("" if none).
func jargs(kv [][2]string) string {
	if len(kv) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(",\"args\":{")
	for i, p := range kv {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jstr(p[0]))
		b.WriteByte(':')
		b.WriteString(jstr(p[1]))
	}
	b.WriteByte('}')
	return b.String()
}

// nested returns the spans as they are drawn: open ones end at now, each
// is at least 1 ns long (which may push a zero-length slice past its
// parent's end, so ends are clamped to the parent: Perfetto needs proper
// nesting), sorted per CPU by start, longest first.
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

func (a *Activity) jsonEvents(now int64) []jsonEvent {
	var evs []jsonEvent
	spans := a.nested(now)
	for _, s := range spans {
		evs = append(evs, jsonEvent{ts: 2 * s.start, tid: s.cpu, class: 0, dur: s.end - s.start, depth: int(s.kind),
			text: fmt.Sprintf("{\"ph\":\"X\",\"name\":%s,\"cat\":%q,\"pid\":1,\"tid\":%d,\"ts\":%s,\"dur\":%s%s}",
				jstr(s.name), s.kind.cat(), s.cpu, usHalf(2*s.start), usHalf(2*(s.end-s.start)), jargs(s.args))})
	}
	for _, m := range a.marks {
		evs = append(evs, jsonEvent{ts: 2 * m.t, tid: m.cpu, class: 1,
			text: fmt.Sprintf("{\"ph\":\"i\",\"s\":\"t\",\"name\":%s,\"cat\":%s,\"pid\":1,\"tid\":%d,\"ts\":%s%s}",
				jstr(m.name), jstr(m.cat), m.cpu, usHalf(2*m.t), jargs(m.args))})
	}
	for _, f := range a.flows {
		switch {
		case f.end < 0:
			// Sent, not taken (yet): no arrow.
			evs = append(evs, jsonEvent{ts: 2 * f.t, tid: f.to, class: 1,
				text: fmt.Sprintf("{\"ph\":\"i\",\"s\":\"t\",\"name\":\"IPI not taken\",\"cat\":\"ipi\",\"pid\":1,\"tid\":%d,\"ts\":%s,\"args\":{\"id\":%d,\"from\":%d}}",
					f.to, usHalf(2*f.t), f.id, f.from)})
			continue
		case f.lost, f.handler < 0, f.from < 0:
			// Lost (its "IPI dropped" instant shows it), or its handler
			// slice or sender is not on a track: no arrow.
			continue
		}
		h := a.spans[f.handler]
		evs = append(evs,
			jsonEvent{ts: 2*f.t + 1, tid: f.from, class: 2,
				text: fmt.Sprintf("{\"ph\":\"s\",\"name\":\"ipi\",\"cat\":\"ipi\",\"id\":%d,\"pid\":1,\"tid\":%d,\"ts\":%s,\"args\":{\"to\":%d,\"vector\":%s}}",
					f.id, f.from, usHalf(2*f.t+1), f.to, jstr(a.vectorName(f.vector)))},
			jsonEvent{ts: 2*h.start + 1, tid: f.to, class: 3,
				text: fmt.Sprintf("{\"ph\":\"f\",\"bp\":\"e\",\"name\":\"ipi\",\"cat\":\"ipi\",\"id\":%d,\"pid\":1,\"tid\":%d,\"ts\":%s}",
					f.id, f.to, usHalf(2*h.start+1))})
	}
	evs = a.storeEvents(evs)
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

// storeTid is the track of lane l of cpu's store buffer: after every CPU's
// own track, sorted with its CPU.
func (a *Activity) storeTid(cpu, l int) int { return a.nr*(l+1) + cpu }

// storeEvents adds the buffered stores: a "store buffered" slice on the
// storing CPU's store-buffer track, from the store to the time the other
// CPUs see it, and a "store visible" instant on the reading CPU's track
// then. A store visible only after an IPI its CPU sent to the same target
// was taken names that IPI (overtaken_by): the handler could not see it.
func (a *Activity) storeEvents(evs []jsonEvent) []jsonEvent {
	lanes, _ := a.storeLanes()
	for i := range a.stores {
		st := &a.stores[i]
		by := st.barrier
		if by == "" {
			by = "its delay ran out"
		}
		args := [][2]string{{"stores", st.name}, {"csd", csdPtr(st.csd)}, {"func", st.fn}, {"to", strconv.Itoa(st.to)},
			{"visible", units.Virtual(st.end)}, {"by", by}}
		if ids := a.overtaken(st); len(ids) > 0 {
			args = append(args, [2]string{"overtaken_by_ipi", idList(ids)})
		}
		tid, dur := a.storeTid(st.cpu, lanes[i]), max(st.end-st.start, 1)
		evs = append(evs, jsonEvent{ts: 2 * st.start, tid: tid, class: 0, dur: dur,
			text: fmt.Sprintf("{\"ph\":\"X\",\"name\":\"store buffered\",\"cat\":\"memory\",\"pid\":1,\"tid\":%d,\"ts\":%s,\"dur\":%s%s}",
				tid, usHalf(2*st.start), usHalf(2*dur), jargs(args))})
		if st.to >= 0 && st.to < a.nr {
			evs = append(evs, jsonEvent{ts: 2 * st.end, tid: st.to, class: 1,
				text: fmt.Sprintf("{\"ph\":\"i\",\"s\":\"t\",\"name\":\"store visible\",\"cat\":\"memory\",\"pid\":1,\"tid\":%d,\"ts\":%s%s}",
					st.to, usHalf(2*st.end), jargs([][2]string{{"from", strconv.Itoa(st.cpu)}, {"stores", st.name}, {"csd", csdPtr(st.csd)}, {"by", by}}))})
		}
	}
	return evs
}
