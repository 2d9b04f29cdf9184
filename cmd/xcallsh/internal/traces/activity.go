// Package traces is what xcallsh draws a run as, for people and for tools:
// the ftrace text stream (ftrace.go), and the Activity recorder behind the
// Perfetto JSON trace (perfetto.go) and the ASCII timeline (timeline.go).
package traces

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/irqchip"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/xcall"
)

// Activity reconstructs what each CPU did over time from what a run lets
// an observer see, for the Perfetto trace and the ASCII timeline:
//
//   - interrupt handlers, exactly: it wraps the machine's OnInterrupt and
//     OnNMI and watches the handler context end, so a handler slice runs
//     from the interrupt's entry to its exit;
//   - csd functions, exactly: csd_function_entry to csd_function_exit;
//   - IPIs: the send tracepoints (ipi_send_cpu, ipi_send_cpumask, and
//     arm64's ipi_raise) give sender, targets and time; each IPI is matched
//     to the first function-call handler that starts on its target at least
//     one IPI latency after the send (approximate when several IPIs to one
//     CPU are in flight, or when one was dropped: it is then credited to the
//     next handler on that CPU);
//   - tasks and irqs-off spans, by sighting: at every tracepoint and log
//     line (and, on machines of up to scanLimit CPUs, on every CPU whenever
//     virtual time has moved on) it looks at what the CPU runs and whether
//     interrupts are off at task level. A slice starts at its first sighting
//     and ends at the first sighting that contradicts it, so it can start and
//     end late by the time between sightings. Task ends are exact (the
//     context's OnDone), and so are a handler's start (interrupts were on)
//     and the tasks the shell spawns itself (Expect).
//
// It never schedules events or draws random numbers: recording does not
// change the run.
type Activity struct {
	m        *emu.Machine
	spec     *machines.Spec
	nr       int
	latency  int64
	tracks   []cpuTrack
	spans    []span
	flows    []ipiFlow
	events   []emu.TraceEvent // tracepoint hits, oldest dropped past maxEvents
	chained  map[ctxKey]bool  // contexts whose OnDone reports to us (lookups only)
	lastScan int64
	scanAll  bool
	dropped  int // spans not recorded past maxSpans
	dropEvs  int // tracepoint hits dropped from the front
}

// Limits on what one recording keeps.
const (
	maxSpans  = 1 << 20
	maxEvents = 1 << 20
	scanLimit = 512
)

type spanKind uint8

const (
	spanTask spanKind = iota
	spanIRQsOff
	spanHandler
	spanNMI
	spanFunc
)

func (k spanKind) cat() string {
	return [...]string{"task", "irqs-off", "irq", "nmi", "csd"}[k]
}

// span is one slice on a CPU's track. end < 0 while it is open.
type span struct {
	cpu        int
	start, end int64
	kind       spanKind
	name       string
	args       [][2]string
}

// ipiFlow is one IPI: sent by from at t, taken by the handler span
// handler on to (-1: not yet, or never).
type ipiFlow struct {
	t        int64
	from, to int
	handler  int
}

type cpuTrack struct {
	task     *emu.Context // the thread last seen running (nil: idle)
	taskSpan int
	offSpan  int
	stack    []int // open handler and function spans, innermost last
	pending  []int // flows to this CPU not yet taken
	sendT    int64 // time of the last ipi_send_* from this CPU (arm64 dedupe)
	expectT  int64 // a task the shell spawned starts at this instant
}

func New() *Activity { return &Activity{} }

// Attach starts recording on a freshly booted kernel.
func (a *Activity) Attach(k *xcall.Kernel) {
	*a = Activity{
		m: k.M, spec: k.Spec, nr: k.NrCPUIDs(), latency: k.T.IPILatency,
		tracks: make([]cpuTrack, k.NrCPUIDs()), chained: map[ctxKey]bool{},
		lastScan: -1, scanAll: k.NrCPUIDs() <= scanLimit,
	}
	for i := range a.tracks {
		a.tracks[i] = cpuTrack{taskSpan: -1, offSpan: -1, sendT: -1, expectT: -1}
	}
	k.M.AddSink(a)
	k.Events = append(k.Events, a)
	// The body of a maskable handler runs after the entry cost (emu spends
	// it), so the slice starts that much earlier; it ends when the handler
	// context is done, after its exit cost.
	entry := k.T.IRQEntry
	if irq := k.M.OnInterrupt; irq != nil {
		k.M.OnInterrupt = func(c *emu.Context, vector int) {
			a.handlerStart(c.CPU, vector, false, a.m.Now()-entry)
			c.OnDone = a.handlerDone
			irq(c, vector)
		}
	}
	if nmi := k.M.OnNMI; nmi != nil {
		k.M.OnNMI = func(c *emu.Context) {
			a.handlerStart(c.CPU, -1, true, a.m.Now())
			c.OnDone = a.handlerDone
			nmi(c)
		}
	}
}

// handlerDone is the OnDone of handler contexts: the handler has returned.
func (a *Activity) handlerDone(c *emu.Context) { a.handlerEnd(c.CPU, a.m.Now()) }

func (a *Activity) open(cpu int, kind spanKind, name string, t int64, args ...[2]string) int {
	if len(a.spans) >= maxSpans {
		a.dropped++
		return -1
	}
	a.spans = append(a.spans, span{cpu: cpu, start: t, end: -1, kind: kind, name: name, args: args})
	return len(a.spans) - 1
}

func (a *Activity) close(i int, t int64) {
	if i >= 0 && a.spans[i].end < 0 {
		a.spans[i].end = t
	}
}

// Trace is the TraceSink side: sightings, IPIs and csd functions.
func (a *Activity) Trace(e *emu.TraceEvent) {
	a.sight(e.CPU, e.T)
	tr := &a.tracks[e.CPU]
	switch e.Name {
	case "ipi_send_cpu":
		if cpu, err := strconv.Atoi(Field(e.Args, "cpu=")); err == nil {
			a.send(e.CPU, e.T, []int{cpu})
		}
	case "ipi_send_cpumask":
		a.send(e.CPU, e.T, BitmapCPUs(Field(e.Args, "cpumask="), a.nr))
	case "ipi_raise":
		// arm64 traces ipi_raise right after ipi_send_* for the same IPI.
		if tr.sendT != e.T && strings.HasSuffix(e.Args, "("+irqchip.ARM64IPIReason(irqchip.IPICallFunc)+")") {
			a.flowsTo(e.CPU, e.T, BitmapCPUs(Field(e.Args, "target_mask="), a.nr))
		}
	case "csd_function_entry":
		name, _, _ := strings.Cut(Field(e.Args, "func="), ",")
		i := a.open(e.CPU, spanFunc, name, e.T, [2]string{"csd", Field(e.Args, "csd=")})
		tr.stack = append(tr.stack, i)
	case "csd_function_exit":
		if n := len(tr.stack); n > 0 && a.isFunc(tr.stack[n-1]) {
			a.close(tr.stack[n-1], e.T)
			tr.stack = tr.stack[:n-1]
		}
	}
	if len(a.events) >= maxEvents {
		a.dropEvs += maxEvents / 2
		a.events = append(a.events[:0], a.events[maxEvents/2:]...)
	}
	a.events = append(a.events, *e)
}

func (a *Activity) isFunc(i int) bool { return i < 0 || a.spans[i].kind == spanFunc }

// KernelEvent is the xcall.EventSink side (csd lock, queue, run, unlock):
// a sighting.
func (a *Activity) KernelEvent(e xcall.Event) {
	if e.CPU >= 0 && e.CPU < a.nr {
		a.sight(e.CPU, e.T)
	}
}

// SightAll looks at every CPU at the end of an instant (the shell steps
// the machine one instant at a time), which makes task and irqs-off slices
// exact to the instant.
func (a *Activity) SightAll(t int64) {
	if !a.scanAll {
		return
	}
	a.lastScan = t
	for i := range a.tracks {
		a.look(i, t)
	}
}

// Log is the TraceSink side for the kernel log: a sighting.
func (a *Activity) Log(l *emu.LogLine) {
	if l.CPU >= 0 && l.CPU < a.nr {
		a.sight(l.CPU, l.T)
	}
}

func (a *Activity) send(cpu int, t int64, targets []int) {
	a.tracks[cpu].sendT = t
	a.flowsTo(cpu, t, targets)
}

func (a *Activity) flowsTo(cpu int, t int64, targets []int) {
	for _, to := range targets {
		if to < 0 || to >= a.nr {
			continue
		}
		a.flows = append(a.flows, ipiFlow{t: t, from: cpu, to: to, handler: -1})
		a.tracks[to].pending = append(a.tracks[to].pending, len(a.flows)-1)
	}
}

// sight looks at cpu at time t, and at every CPU when time has moved on.
func (a *Activity) sight(cpu int, t int64) {
	if a.scanAll && t > a.lastScan {
		a.lastScan = t
		for i := range a.tracks {
			a.look(i, t)
		}
		return
	}
	a.look(cpu, t)
}

// look updates cpu's task and irqs-off spans from what it runs now.
func (a *Activity) look(cpu int, t int64) {
	tr := &a.tracks[cpu]
	c := a.m.CPU(cpu)
	task := c.Task()
	if task != tr.task {
		if tr.expectT == t && task == nil {
			return // the shell's task starts later in this instant
		}
		a.closeTask(tr, t)
		if task != nil {
			a.openTask(tr, cpu, task, t)
		}
	}
	tr.expectT = -1
	if task == nil || c.Hardirq != 0 {
		return
	}
	switch {
	case c.IRQsOff && tr.offSpan < 0:
		tr.offSpan = a.open(cpu, spanIRQsOff, "irqs off", t)
	case !c.IRQsOff && tr.offSpan >= 0:
		a.close(tr.offSpan, t)
		tr.offSpan = -1
	}
}

func (a *Activity) closeTask(tr *cpuTrack, t int64) {
	a.close(tr.offSpan, t)
	a.close(tr.taskSpan, t)
	tr.offSpan, tr.taskSpan, tr.task = -1, -1, nil
}

func (a *Activity) openTask(tr *cpuTrack, cpu int, task *emu.Context, t int64) {
	tr.task = task
	tr.taskSpan = a.open(cpu, spanTask, task.Name, t,
		[2]string{"pid", strconv.Itoa(task.PID)}, [2]string{"kind", task.Kind.String()})
	a.chain(task)
}

// ctxKey identifies a context across reuse of its memory.
type ctxKey struct {
	c   *emu.Context
	pid int
}

// chain makes c's OnDone tell the recorder when c's job returns.
func (a *Activity) chain(c *emu.Context) {
	key := ctxKey{c, c.PID}
	if a.chained[key] {
		return
	}
	a.chained[key] = true
	prev := c.OnDone
	c.OnDone = func(c *emu.Context) {
		if prev != nil {
			prev(c)
		}
		a.taskDone(c)
	}
}

// taskDone ends c's slice exactly when its job returns.
func (a *Activity) taskDone(c *emu.Context) {
	if c.CPU < 0 || c.CPU >= a.nr {
		return
	}
	if tr := &a.tracks[c.CPU]; tr.task == c {
		a.closeTask(tr, a.m.Now())
	}
}

// Expect tells the recorder about a task the shell just spawned: if its
// CPU is free it starts now, and its end is recorded exactly. A stall task
// turns interrupts off first thing.
func (a *Activity) Expect(c *emu.Context, stall bool) {
	if c == nil || c.CPU < 0 || c.CPU >= a.nr {
		return
	}
	cpu := a.m.CPU(c.CPU)
	tr := &a.tracks[c.CPU]
	t := a.m.Now()
	if cpu.Top() == nil && cpu.RunQueue() == 1 && !cpu.Parked && tr.task == nil {
		a.openTask(tr, c.CPU, c, t)
		tr.expectT = t
		if stall {
			tr.offSpan = a.open(c.CPU, spanIRQsOff, "irqs off", t)
		}
	} else {
		a.chain(c)
	}
}

func (a *Activity) handlerStart(cpu, vector int, nmi bool, t int64) {
	a.sight(cpu, t)
	tr := &a.tracks[cpu]
	kind := spanHandler
	if nmi {
		kind = spanNMI
	} else if tr.offSpan >= 0 {
		// A maskable interrupt is taken only with interrupts on.
		a.close(tr.offSpan, t)
		tr.offSpan = -1
	}
	name, args := a.handlerName(vector, nmi)
	i := a.open(cpu, kind, name, t, args...)
	tr.stack = append(tr.stack, i)
	if nmi || !a.callVector(vector) {
		return
	}
	keep := tr.pending[:0]
	for _, f := range tr.pending {
		if a.flows[f].t+a.latency <= t {
			a.flows[f].handler = i
		} else {
			keep = append(keep, f)
		}
	}
	tr.pending = keep
}

func (a *Activity) handlerEnd(cpu int, t int64) {
	tr := &a.tracks[cpu]
	for n := len(tr.stack); n > 0; n-- {
		i := tr.stack[n-1]
		tr.stack = tr.stack[:n-1]
		a.close(i, t)
		if i < 0 || a.spans[i].kind != spanFunc {
			break
		}
	}
}

// callVector reports whether vector is the function-call IPI.
func (a *Activity) callVector(vector int) bool {
	if a.spec.IsX86() {
		return vector == irqchip.CallFunctionSingleVector || vector == irqchip.CallFunctionVector
	}
	return vector == irqchip.IPICallFunc
}

// handlerName names a handler slice as the kernel's entry point would be.
func (a *Activity) handlerName(vector int, nmi bool) (string, [][2]string) {
	if nmi {
		if a.spec.IsX86() {
			return "exc_nmi", nil
		}
		return "ipi_cpu_backtrace", nil
	}
	if a.spec.IsX86() {
		v := [][2]string{{"vector", fmt.Sprintf("0x%x", vector)}}
		switch vector {
		case irqchip.CallFunctionSingleVector:
			return "sysvec_call_function_single", v
		case irqchip.CallFunctionVector:
			return "sysvec_call_function", v
		case irqchip.RescheduleVector:
			return "sysvec_reschedule_ipi", v
		}
		return fmt.Sprintf("irq vector 0x%x", vector), v
	}
	return "do_handle_IPI", [][2]string{{"ipi", strconv.Itoa(vector)}, {"reason", irqchip.ARM64IPIReason(vector)}}
}

// Field returns the value of "key" in a tracepoint's arguments: the text
// after key up to the next space.
func Field(args, key string) string {
	i := strings.Index(args, key)
	if i < 0 {
		return ""
	}
	v := args[i+len(key):]
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return v
}

// BitmapCPUs decodes a %*pb cpumask ("0000000e" or "ff,ffffffff").
func BitmapCPUs(s string, nr int) []int {
	var out []int
	bit := 0
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c == ',' {
			continue
		}
		v, err := strconv.ParseUint(string(c), 16, 8)
		if err != nil {
			return out
		}
		for b := 0; b < 4; b++ {
			if v&(1<<b) != 0 && bit+b < nr {
				out = append(out, bit+b)
			}
		}
		bit += 4
	}
	// The digits were read from the least significant end; keep CPUs ascending.
	return out
}

// end returns span i's end, or now while it is open.
func (s *span) endAt(now int64) int64 {
	if s.end < 0 {
		return now
	}
	return s.end
}
