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

// Activity builds what each CPU did over time, for the Perfetto trace and
// the ASCII timeline, from the event record (emu/record.go) and nothing
// else. It is an emu.Recorder: every slice and every arrow comes from a
// typed event, at the event's exact time.
//
//   - task slices from sched_switch (the idle task draws no slice);
//   - irqs-off slices from the task-level interrupt flag changes;
//   - handler and NMI slices from irq_entry to irq_exit;
//   - csd function slices from csd_function_entry to _exit;
//   - CSD-lock wait slices on the waiting CPU, named after the csd;
//   - softirq slices from softirq_entry to softirq_exit, named after the
//     softirq's action (kernel/softirq.c's softirq_to_name[]: "BLOCK");
//   - cpuhp state slices on the CPU that runs the state's callback;
//   - offline periods, from the CPU leaving cpu_online_mask to its return,
//     as the outermost slice on the CPU's track;
//   - IPIs by their ids: an arrow from the send to the handler whose
//     irq_entry lists the same id. A dropped IPI has no arrow: it is an
//     instant on its target; elided and merged IPIs are instants too;
//   - under a native memory model, the stores a CPU's store buffer held,
//     from store_buffered to the time they became visible (its Delay
//     later, or the store_visible of the barrier that drained them).
//
// Slices always nest: when a slice ends under others still open (a CPU
// going offline under a running task, interrupts staying off across a
// task switch), the ones above are split at that instant and continue as
// new slices. Recording never changes the run: the builder only reads
// events.
type Activity struct {
	spec   *machines.Spec
	chip   irqchip.Chip
	seed   uint64
	nr     int
	tracks []cpuTrack
	spans  []span
	flows  []ipiFlow
	flowOf map[uint64]int // IPI id -> flows index, while in flight (lookups only)
	marks  []instant      // instants, oldest dropped past maxEvents
	stores []storeSpan    // stores buffered under a native memory model

	dropped       int // spans not recorded past maxSpans
	flowsDropped  int // IPIs not recorded past maxFlows
	dropMarks     int // instants dropped from the front
	storesDropped int // buffered stores not recorded past maxFlows

	// The ftrace text of the record, for the shell (ftrace.go: Events,
	// WriteFtrace); nothing of the slices, arrows or instants comes from it.
	ftrace *FtraceLog
}

// Limits on what one recording keeps (variables for the tests).
var (
	maxSpans  = 1 << 20
	maxFlows  = 1 << 20
	maxEvents = 1 << 20
)

type spanKind uint8

// The span kinds, outermost first (the order breaks ties when two slices
// start and end together).
const (
	spanOffline spanKind = iota
	spanTask
	spanCpuhp
	spanIRQsOff
	spanWait
	spanHandler
	spanNMI
	spanFunc
	spanSoftirq // last, to keep the other kinds' order: a softirq run in irq_exit() still nests in its handler
)

func (k spanKind) cat() string {
	return [...]string{"offline", "task", "cpuhp", "irqs-off", "csd-wait", "irq", "nmi", "csd", "softirq"}[k]
}

// span is one slice on a CPU's track. end < 0 while it is open.
type span struct {
	cpu        int
	start, end int64
	kind       spanKind
	key        uint64 // the csd (function, wait), the cpuhp state
	name       string
	args       [][2]string
}

// ipiFlow is one IPI, from its send to the handler that took it.
type ipiFlow struct {
	id       uint64
	t        int64 // sent
	from, to int   // from -1: sent by the operator
	vector   int
	delay    int64 // added by fault injection
	merged   bool  // arrived while its vector was already pending
	lost     bool  // dropped (EvIPIDrop)
	reason   emu.DropReason
	end      int64 // taken (handler entry) or lost; -1: neither yet
	handler  int   // the handler span that took it (-1: none recorded)
}

// instant is one event drawn as a point on a CPU's track.
type instant struct {
	t    int64
	cpu  int
	name string
	cat  string
	args [][2]string
}

type cpuTrack struct {
	open []opened // open spans, outermost first
}

// opened is an open span: its index in spans (-1: not kept, past
// maxSpans: it still nests and ends as the record says), kind and key.
type opened struct {
	i    int
	kind spanKind
	key  uint64
}

// New returns an Activity; Attach starts it on a kernel.
func New() *Activity { return &Activity{} }

// Attach starts recording on a freshly booted kernel.
func (a *Activity) Attach(k *xcall.Kernel) {
	a.reset(k.Spec, k.Chip, k.M.Seed(), k.NrCPUIDs())
	k.M.AddRecorder(a)
	a.ftrace = NewFtraceLog(k)
	k.M.AddRecorder(a.ftrace)
}

func (a *Activity) reset(spec *machines.Spec, chip irqchip.Chip, seed uint64, nr int) {
	*a = Activity{spec: spec, chip: chip, seed: seed, nr: nr,
		tracks: make([]cpuTrack, nr), flowOf: map[uint64]int{}}
}

// Record is the emu.Recorder side: one event of the record.
func (a *Activity) Record(e *emu.Event) {
	cpu := e.CPU
	if cpu < 0 || cpu >= a.nr {
		if e.Kind == emu.EvIPISend {
			a.send(e) // the operator's IPIs: no arrow, but drawn as sent
		}
		return
	}
	switch e.Kind {
	case emu.EvSchedSwitch:
		a.sched(cpu, e)
	case emu.EvIRQsOff:
		if a.find(cpu, func(k spanKind, key uint64) bool { return k == spanIRQsOff }) < 0 {
			a.push(cpu, spanIRQsOff, 0, "irqs off", e.T)
		}
	case emu.EvIRQsOn:
		a.end(cpu, a.find(cpu, func(k spanKind, key uint64) bool { return k == spanIRQsOff }), e.T, true)
	case emu.EvIRQEntry:
		a.irqEntry(cpu, e)
	case emu.EvIRQExit:
		nmi := e.Vector < 0
		a.end(cpu, a.find(cpu, func(k spanKind, key uint64) bool {
			return nmi && k == spanNMI || !nmi && k == spanHandler
		}), e.T, false)
	case emu.EvSoftirqEntry:
		a.push(cpu, spanSoftirq, uint64(e.Vector), softirqName(int64(e.Vector)), e.T,
			[2]string{"vec", strconv.Itoa(e.Vector)})
	case emu.EvSoftirqExit:
		a.end(cpu, a.find(cpu, func(k spanKind, key uint64) bool { return k == spanSoftirq && key == uint64(e.Vector) }), e.T, true)
	case emu.EvSoftirqRaise:
		a.mark(e, "softirq_raise", "softirq", [2]string{"vec", strconv.Itoa(e.Vector)},
			[2]string{"action", softirqName(int64(e.Vector))})
	case emu.EvCSDFuncEntry:
		args := [][2]string{{"csd", csdPtr(e.CSD)}}
		if e.CSD != 0 { // 0: a local call, no csd
			args = append(args, [2]string{"type", csdType(e.CSDType)})
		}
		a.push(cpu, spanFunc, e.CSD, e.Func, e.T, args...)
	case emu.EvCSDFuncExit:
		a.end(cpu, a.find(cpu, func(k spanKind, key uint64) bool { return k == spanFunc && key == e.CSD }), e.T, true)
	case emu.EvCSDWaitBegin:
		a.push(cpu, spanWait, e.CSD, "csd_lock_wait "+csdPtr(e.CSD), e.T,
			[2]string{"csd", csdPtr(e.CSD)}, [2]string{"func", e.Func}, [2]string{"cpu", strconv.Itoa(e.Target)})
	case emu.EvCSDWaitEnd:
		a.end(cpu, a.find(cpu, func(k spanKind, key uint64) bool { return k == spanWait && key == e.CSD }), e.T, true)
	case emu.EvCpuhpEnter, emu.EvCpuhpMultiEnter:
		name := e.StateName
		if name == "" {
			name = "cpuhp state " + strconv.Itoa(e.State)
		}
		a.push(cpu, spanCpuhp, uint64(e.State), name, e.T,
			[2]string{"cpu", strconv.Itoa(e.Target)}, [2]string{"state", strconv.Itoa(e.State)},
			[2]string{"fn", e.Fn}, [2]string{"target", strconv.Itoa(e.Dest)})
	case emu.EvCpuhpExit:
		i := a.find(cpu, func(k spanKind, key uint64) bool { return k == spanCpuhp && key == uint64(e.State) })
		if i >= 0 {
			if j := a.tracks[cpu].open[i].i; j >= 0 {
				a.spans[j].args = append(a.spans[j].args, [2]string{"ret", strconv.Itoa(e.Ret)})
			}
		}
		a.end(cpu, i, e.T, true)
	case emu.EvCPUOffline:
		if t := e.Target; t >= 0 && t < a.nr && a.find(t, func(k spanKind, key uint64) bool { return k == spanOffline }) < 0 {
			a.pushUnder(t, spanOffline, "offline", e.T)
		}
	case emu.EvCPUOnline:
		if t := e.Target; t >= 0 && t < a.nr {
			a.end(t, a.find(t, func(k spanKind, key uint64) bool { return k == spanOffline }), e.T, true)
		}
	case emu.EvIPISend:
		a.send(e)
		a.mark(e, "ipi_send", "ipi", [2]string{"targets", cpuList(e.Targets)},
			[2]string{"vector", a.vectorName(e.Vector)}, [2]string{"ids", idList(e.IDs)}, [2]string{"site", e.Site})
	case emu.EvIPIDeliver, emu.EvIPIEntry, emu.EvIPIExit:
		// The arrow and the handler's slice cover them.
	case emu.EvIPIDrop:
		reason := "fault"
		if e.Reason == emu.DropOffline {
			reason = "offline"
		}
		if f := a.flow(e.ID); f != nil {
			f.lost, f.reason, f.end = true, e.Reason, e.T
			delete(a.flowOf, e.ID)
		}
		a.mark(e, "IPI dropped", "ipi", [2]string{"id", strconv.FormatUint(e.ID, 10)},
			[2]string{"from", strconv.Itoa(e.Source)}, [2]string{"vector", a.vectorName(e.Vector)}, [2]string{"reason", reason})
	case emu.EvIPIDelay:
		if f := a.flow(e.ID); f != nil {
			f.delay += e.Delay
		}
		a.mark(e, "IPI delayed", "ipi", [2]string{"id", strconv.FormatUint(e.ID, 10)},
			[2]string{"to", strconv.Itoa(e.Target)}, [2]string{"delay_ns", strconv.FormatInt(e.Delay, 10)})
	case emu.EvIPIElide:
		a.mark(e, "IPI elided", "ipi", [2]string{"to", strconv.Itoa(e.Target)})
	case emu.EvIPIMerge:
		if f := a.flow(e.ID); f != nil {
			f.merged = true
		}
		a.mark(e, "IPI merged", "ipi", [2]string{"id", strconv.FormatUint(e.ID, 10)},
			[2]string{"from", strconv.Itoa(e.Source)}, [2]string{"vector", a.vectorName(e.Vector)})
	case emu.EvCSDQueue:
		a.mark(e, "csd_queue_cpu", "csd", [2]string{"cpu", strconv.Itoa(e.Target)},
			[2]string{"callsite", e.Site}, [2]string{"func", e.Func}, [2]string{"csd", csdPtr(e.CSD)})
	case emu.EvSchedWakeup:
		a.mark(e, "sched_wakeup", "sched", [2]string{"comm", e.TaskComm},
			[2]string{"pid", strconv.Itoa(e.TaskPID)}, [2]string{"target_cpu", strconv.Itoa(e.Target)})
	case emu.EvSchedMigrate:
		a.mark(e, "sched_migrate_task", "sched", [2]string{"comm", e.TaskComm},
			[2]string{"pid", strconv.Itoa(e.TaskPID)}, [2]string{"orig_cpu", strconv.Itoa(e.Source)},
			[2]string{"dest_cpu", strconv.Itoa(e.Target)})
	case emu.EvStopMachine:
		a.mark(e, "stop_machine", "hotplug", [2]string{"state", e.StateName})
	case emu.EvPrintk:
		a.mark(e, "printk", "log", [2]string{"text", e.Text})
	case emu.EvPoint:
		a.mark(e, "point", "point", [2]string{"name", e.Name})
	case emu.EvStoreBuffered:
		if len(a.stores) >= maxFlows {
			a.storesDropped++
			break
		}
		a.stores = append(a.stores, storeSpan{cpu: cpu, to: e.Target, start: e.T, end: e.T + e.Delay,
			csd: e.CSD, name: e.Name, fn: e.Func})
	case emu.EvStoreVisible:
		for i := len(a.stores) - 1; i >= 0; i-- {
			if st := &a.stores[i]; st.cpu == cpu && st.csd == e.CSD && st.end > e.T {
				st.end, st.barrier = e.T, e.Site
				break
			}
		}
	}
}

// storeSpan is a store held in cpu's store buffer: invisible to the other
// CPUs from start to end.
type storeSpan struct {
	cpu, to    int // the storing CPU; the CPU that reads the store (its queue)
	start, end int64
	csd        uint64
	name, fn   string // what the stores are (llist_add); the csd's function
	barrier    string // what drained them at end ("": their time ran out)
}

// overtaken lists the IPIs sent by st's CPU to its target while st was
// buffered and taken by a handler before st became visible: the IPI
// overtook the store, and the handler could not see it.
func (a *Activity) overtaken(st *storeSpan) []uint64 {
	var ids []uint64
	for i := range a.flows {
		f := &a.flows[i]
		if f.from == st.cpu && f.to == st.to && f.t >= st.start && f.t < st.end && !f.lost && f.end >= 0 && f.end < st.end {
			ids = append(ids, f.id)
		}
	}
	return ids
}

// storeLanes places the stores on lanes per CPU, so that a lane's stores
// never overlap (the first lane free when one begins): lane[i] is store
// i's, n[cpu] the number of lanes cpu needs.
func (a *Activity) storeLanes() (lane []int, n []int) {
	lane, n = make([]int, len(a.stores)), make([]int, a.nr)
	free := make([][]int64, a.nr) // per CPU, per lane: when it is free
	for i, st := range a.stores {
		l := 0
		for l < len(free[st.cpu]) && free[st.cpu][l] > st.start {
			l++
		}
		if l == len(free[st.cpu]) {
			free[st.cpu] = append(free[st.cpu], 0)
		}
		free[st.cpu][l] = max(st.end, st.start+1)
		lane[i] = l
		n[st.cpu] = max(n[st.cpu], l+1)
	}
	return lane, n
}

// sched is sched_switch: the task slice ends, the next task's begins.
// Interrupts left off at the switch stay off on the CPU: that slice
// continues inside the next task's.
func (a *Activity) sched(cpu int, e *emu.Event) {
	tr := &a.tracks[cpu]
	off, carry := opened{}, false // the irqs-off slice open above the task, if any
	if i := a.find(cpu, func(k spanKind, key uint64) bool { return k == spanTask }); i >= 0 {
		var ending []opened
		for _, o := range tr.open[i+1:] {
			if o.kind == spanIRQsOff {
				off, carry = o, true
			} else {
				ending = append(ending, o)
			}
		}
		tr.open = append(tr.open[:i+1], ending...)
		a.end(cpu, i, e.T, false)
	}
	if e.NextPID != 0 { // pid 0: the idle task
		a.push(cpu, spanTask, 0, e.NextComm, e.T, [2]string{"pid", strconv.Itoa(e.NextPID)})
	}
	if carry {
		a.carry(cpu, off, e.T)
	}
}

// carry puts open slice o back on cpu's open ones at t: as it is if it
// began at t (nothing of it is drawn yet), else ended at t and continued
// as a new slice.
func (a *Activity) carry(cpu int, o opened, t int64) {
	if o.i < 0 {
		a.push(cpu, o.kind, o.key, "", t)
		return
	}
	if s := &a.spans[o.i]; s.start == t {
		s.end = -1
		a.tracks[cpu].open = append(a.tracks[cpu].open, o)
		return
	}
	a.closeSpan(o.i, t)
	s := a.spans[o.i]
	a.push(cpu, s.kind, s.key, s.name, t, s.args...)
}

// irqEntry opens a handler slice and ends the arrows of the IPIs it takes.
func (a *Activity) irqEntry(cpu int, e *emu.Event) {
	kind := spanHandler
	if e.Vector < 0 {
		kind = spanNMI
	}
	name, args := a.handlerName(e.Vector)
	h := a.push(cpu, kind, 0, name, e.T, args...)
	for _, id := range e.IDs {
		if f := a.flow(id); f != nil {
			f.end, f.handler = e.T, h
			delete(a.flowOf, id)
		}
	}
}

func (a *Activity) send(e *emu.Event) {
	for i, to := range e.Targets {
		if i >= len(e.IDs) || to < 0 || to >= a.nr {
			continue
		}
		if len(a.flows) >= maxFlows {
			a.flowsDropped++
			continue
		}
		a.flows = append(a.flows, ipiFlow{id: e.IDs[i], t: e.T, from: e.CPU, to: to, vector: e.Vector, end: -1, handler: -1})
		a.flowOf[e.IDs[i]] = len(a.flows) - 1
	}
}

// flow returns the IPI of id while it is in flight (nil: not recorded).
func (a *Activity) flow(id uint64) *ipiFlow {
	if i, ok := a.flowOf[id]; ok {
		return &a.flows[i]
	}
	return nil
}

// push opens a slice on top of cpu's open ones; it returns its index, -1
// past maxSpans.
func (a *Activity) push(cpu int, kind spanKind, key uint64, name string, t int64, args ...[2]string) int {
	i := -1
	if len(a.spans) < maxSpans {
		a.spans = append(a.spans, span{cpu: cpu, start: t, end: -1, kind: kind, key: key, name: name, args: args})
		i = len(a.spans) - 1
	} else {
		a.dropped++
	}
	a.tracks[cpu].open = append(a.tracks[cpu].open, opened{i, kind, key})
	return i
}

// pushUnder opens a slice under every open one: those are split at t and
// continue inside it.
func (a *Activity) pushUnder(cpu int, kind spanKind, name string, t int64) {
	tr := &a.tracks[cpu]
	above := append([]opened(nil), tr.open...)
	tr.open = tr.open[:0]
	a.push(cpu, kind, 0, name, t)
	for _, o := range above {
		a.carry(cpu, o, t)
	}
}

// find returns the position in cpu's open slices of the innermost one
// that ok accepts, -1 if none.
func (a *Activity) find(cpu int, ok func(k spanKind, key uint64) bool) int {
	open := a.tracks[cpu].open
	for i := len(open) - 1; i >= 0; i-- {
		if ok(open[i].kind, open[i].key) {
			return i
		}
	}
	return -1
}

// end closes the open slice at position i (-1: none) at t, and every slice
// above it; with split, those above continue from t (carry).
func (a *Activity) end(cpu, i int, t int64, split bool) {
	if i < 0 {
		return
	}
	tr := &a.tracks[cpu]
	above := append([]opened(nil), tr.open[i+1:]...)
	a.closeSpan(tr.open[i].i, t)
	tr.open = tr.open[:i]
	for _, o := range above {
		if split {
			a.carry(cpu, o, t)
		} else {
			a.closeSpan(o.i, t)
		}
	}
}

func (a *Activity) closeSpan(i int, t int64) {
	if i >= 0 && a.spans[i].end < 0 {
		a.spans[i].end = t
	}
}

// mark keeps e as an instant on its CPU's track.
func (a *Activity) mark(e *emu.Event, name, cat string, args ...[2]string) {
	if len(a.marks) >= maxEvents {
		a.dropMarks += maxEvents / 2
		a.marks = append(a.marks[:0], a.marks[maxEvents/2:]...)
	}
	args = append([][2]string{{"task", e.Comm + "-" + strconv.Itoa(e.PID)}, {"flags", string(e.Flags[:])}}, args...)
	a.marks = append(a.marks, instant{t: e.T, cpu: e.CPU, name: name, cat: cat, args: args})
}

// handlerEntries names the kernel entry point of each IPI's handler.
var handlerEntries = map[irqchip.IPI][2]string{ // x86, arm64
	irqchip.CallFunctionSingle: {"sysvec_call_function_single", "do_handle_IPI"},
	irqchip.CallFunction:       {"sysvec_call_function", "do_handle_IPI"},
	irqchip.Reschedule:         {"sysvec_reschedule_ipi", "do_handle_IPI"},
}

// handlerName names a handler slice as the kernel's entry point is named
// (vector -1: the NMI), with the vector's name as irqchip gives it.
func (a *Activity) handlerName(vector int) (string, [][2]string) {
	x86 := a.spec == nil || a.spec.IsX86()
	if vector < 0 {
		if x86 {
			return "exc_nmi", nil
		}
		return "ipi_cpu_backtrace", nil
	}
	args := [][2]string{{"vector", a.vectorName(vector)}}
	if !x86 {
		args = append(args, [2]string{"reason", irqchip.ARM64IPIReason(vector)})
	}
	if ipi, ok := irqchip.IPIOf(a.chip, vector); ok {
		if n, ok := handlerEntries[ipi]; ok {
			if x86 {
				return n[0], args
			}
			return n[1], args
		}
	}
	if x86 {
		return "irq " + a.vectorName(vector), args
	}
	return "do_handle_IPI", args
}

// vectorName is irqchip's name of vector ("NMI" for -1).
func (a *Activity) vectorName(vector int) string {
	switch {
	case vector < 0:
		return "NMI"
	case a.chip == nil:
		return strconv.Itoa(vector)
	}
	return a.chip.VectorName(vector)
}

// csdPtr is the csd's address as the kernel's %p prints it (xcall derives
// it from the csd's id; 0 is no csd).
func csdPtr(id uint64) string {
	var c *xcall.CSD
	if id != 0 {
		c = &xcall.CSD{ID: int(id)}
	}
	return c.Ptr()
}

// csdType names a CSD_TYPE_* value (include/linux/smp_types.h).
func csdType(t uint32) string {
	switch t {
	case xcall.CSDTypeAsync:
		return "ASYNC"
	case xcall.CSDTypeSync:
		return "SYNC"
	case xcall.CSDTypeIRQWork:
		return "IRQ_WORK"
	case xcall.CSDTypeTTWU:
		return "TTWU"
	}
	return fmt.Sprintf("0x%x", t)
}

func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

func idList(ids []uint64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatUint(id, 10)
	}
	return strings.Join(s, ",")
}

// endAt returns span s's end, or now while it is open.
func (s *span) endAt(now int64) int64 {
	if s.end < 0 {
		return now
	}
	return s.end
}
