package traces

// The kernel tracepoints the record is shown as, in the ftrace text
// (ftrace.go) and in trace-cmd's trace.dat (tracedat.go): each one's
// system, name, fields (as /sys/kernel/tracing/events/SYSTEM/NAME/format
// lists them) and print format, from the 6.x kernel headers named beside
// them. An event of the record becomes zero, one or two tracepoint hits
// (hitsOf); both writers render the same hits.

import (
	"strconv"
	"strings"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/irqchip"
)

// fieldKind is how a field is stored and printed.
type fieldKind uint8

const (
	kU32    fieldKind = iota // unsigned int
	kS32                     // int, pid_t
	kSym                     // void *, printed %pS or %ps: a kernel symbol
	kPtr                     // void *, printed %p: a data pointer
	kStr                     // const char *, printed %s: a string of the kernel image
	kMask                    // __data_loc bitmap (cpumask), printed %s via __get_bitmask/__get_cpumask
	kComm                    // char[16]
	kLong                    // long
	kDynStr                  // __data_loc char[], printed %s via __get_str: a string copied into the event
)

// tpField is one field after the common ones.
type tpField struct {
	typ  string // the C type as the format file spells it ("void *", "__data_loc cpumask_t[]")
	name string
	kind fieldKind
}

func (f tpField) size() int {
	switch f.kind {
	case kSym, kPtr, kStr, kLong:
		return 8
	case kComm:
		return 16
	}
	return 4
}

func (f tpField) signed() bool { return f.kind == kS32 || f.kind == kLong }

// tracepoint is one kernel trace event.
type tracepoint struct {
	id     int // common_type: the event's ID in the trace (kernels number them at boot)
	system string
	name   string
	fields []tpField
	print  string // the format file's "print fmt:" value
}

// The tracepoints. IDs are fixed so that a trace.dat is the same for
// every run.
var (
	// include/trace/events/ipi.h
	tpIPIRaise = &tracepoint{id: 500, system: "ipi", name: "ipi_raise",
		fields: []tpField{{"__data_loc unsigned long[]", "target_cpus", kMask}, {"const char *", "reason", kStr}},
		print:  `"target_mask=%s (%s)", __get_bitmask(target_cpus), REC->reason`}
	tpIPISendCPU = &tracepoint{id: 501, system: "ipi", name: "ipi_send_cpu",
		fields: []tpField{{"unsigned int", "cpu", kU32}, {"void *", "callsite", kSym}, {"void *", "callback", kSym}},
		print:  `"cpu=%u callsite=%pS callback=%pS", REC->cpu, REC->callsite, REC->callback`}
	tpIPISendCPUMask = &tracepoint{id: 502, system: "ipi", name: "ipi_send_cpumask",
		fields: []tpField{{"__data_loc cpumask_t[]", "cpumask", kMask}, {"void *", "callsite", kSym}, {"void *", "callback", kSym}},
		print:  `"cpumask=%s callsite=%pS callback=%pS", __get_cpumask(cpumask), REC->callsite, REC->callback`}
	tpIPIEntry = &tracepoint{id: 503, system: "ipi", name: "ipi_entry",
		fields: []tpField{{"const char *", "reason", kStr}}, print: `"(%s)", REC->reason`}
	tpIPIExit = &tracepoint{id: 504, system: "ipi", name: "ipi_exit",
		fields: []tpField{{"const char *", "reason", kStr}}, print: `"(%s)", REC->reason`}

	// include/trace/events/csd.h
	tpCSDQueue = &tracepoint{id: 510, system: "csd", name: "csd_queue_cpu",
		fields: []tpField{{"unsigned int", "cpu", kU32}, {"void *", "callsite", kSym}, {"void *", "func", kSym}, {"void *", "csd", kPtr}},
		print:  `"cpu=%u callsite=%pS func=%ps csd=%p", REC->cpu, REC->callsite, REC->func, REC->csd`}
	tpCSDFuncEntry = &tracepoint{id: 511, system: "csd", name: "csd_function_entry",
		fields: []tpField{{"void *", "func", kSym}, {"void *", "csd", kPtr}},
		print:  `"func=%ps, csd=%p", REC->func, REC->csd`}
	tpCSDFuncExit = &tracepoint{id: 512, system: "csd", name: "csd_function_exit",
		fields: []tpField{{"void *", "func", kSym}, {"void *", "csd", kPtr}},
		print:  `"func=%ps, csd=%p", REC->func, REC->csd`}

	// include/trace/events/sched.h
	tpSchedSwitch = &tracepoint{id: 520, system: "sched", name: "sched_switch",
		fields: []tpField{{"char", "prev_comm[16]", kComm}, {"pid_t", "prev_pid", kS32}, {"int", "prev_prio", kS32},
			{"long", "prev_state", kLong}, {"char", "next_comm[16]", kComm}, {"pid_t", "next_pid", kS32}, {"int", "next_prio", kS32}},
		print: `"prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d next_prio=%d", ` +
			`REC->prev_comm, REC->prev_pid, REC->prev_prio, (REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1)) ? ` +
			`__print_flags(REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1), "|", ` +
			`{ 0x00000001, "S" }, { 0x00000002, "D" }, { 0x00000004, "T" }, { 0x00000008, "t" }, { 0x00000010, "X" }, { 0x00000020, "Z" }, { 0x00000040, "P" }, { 0x00000080, "I" }) : "R", ` +
			`REC->prev_state & (((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) ? "+" : "", ` +
			`REC->next_comm, REC->next_pid, REC->next_prio`}
	tpSchedWakeup = &tracepoint{id: 521, system: "sched", name: "sched_wakeup",
		fields: []tpField{{"char", "comm[16]", kComm}, {"pid_t", "pid", kS32}, {"int", "prio", kS32}, {"int", "target_cpu", kS32}},
		print:  `"comm=%s pid=%d prio=%d target_cpu=%03d", REC->comm, REC->pid, REC->prio, REC->target_cpu`}
	tpSchedMigrate = &tracepoint{id: 522, system: "sched", name: "sched_migrate_task",
		fields: []tpField{{"char", "comm[16]", kComm}, {"pid_t", "pid", kS32}, {"int", "prio", kS32}, {"int", "orig_cpu", kS32}, {"int", "dest_cpu", kS32}},
		print:  `"comm=%s pid=%d prio=%d orig_cpu=%d dest_cpu=%d", REC->comm, REC->pid, REC->prio, REC->orig_cpu, REC->dest_cpu`}
	tpWakeIdle = &tracepoint{id: 523, system: "sched", name: "sched_wake_idle_without_ipi",
		fields: []tpField{{"int", "cpu", kS32}}, print: `"cpu=%d", REC->cpu`}

	// include/trace/events/cpuhp.h
	tpCpuhpEnter = &tracepoint{id: 530, system: "cpuhp", name: "cpuhp_enter",
		fields: []tpField{{"unsigned int", "cpu", kU32}, {"int", "target", kS32}, {"int", "idx", kS32}, {"void *", "fun", kSym}},
		print:  `"cpu: %04u target: %3d step: %3d (%ps)", REC->cpu, REC->target, REC->idx, REC->fun`}
	tpCpuhpMultiEnter = &tracepoint{id: 531, system: "cpuhp", name: "cpuhp_multi_enter",
		fields: []tpField{{"unsigned int", "cpu", kU32}, {"int", "target", kS32}, {"int", "idx", kS32}, {"void *", "fun", kSym}},
		print:  `"cpu: %04u target: %3d step: %3d (%ps)", REC->cpu, REC->target, REC->idx, REC->fun`}
	tpCpuhpExit = &tracepoint{id: 532, system: "cpuhp", name: "cpuhp_exit",
		fields: []tpField{{"unsigned int", "cpu", kU32}, {"int", "state", kS32}, {"int", "idx", kS32}, {"int", "ret", kS32}},
		print:  `" cpu: %04u  state: %3d step: %3d ret: %d", REC->cpu, REC->state, REC->idx, REC->ret`}

	// include/trace/events/irq.h: the softirq event class (vec, printed
	// with show_softirq_name(), kernel/softirq.c's softirq_to_name[]).
	// In a trace.dat's formats only when the run raised a softirq, so
	// that the traces of every other run stay as they were.
	tpSoftirqEntry = softirqTP(570, "softirq_entry")
	tpSoftirqExit  = softirqTP(571, "softirq_exit")
	tpSoftirqRaise = softirqTP(572, "softirq_raise")

	// include/trace/events/irq.h: a device interrupt's action, traced by
	// kernel/irq/handle.c: __handle_irq_event_percpu() around the action's
	// handler. The model has no irq descriptors: irq is the device
	// interrupt's vector (x86) or INTID (arm64), the name irqchip's name
	// of it. In a trace.dat's formats only when the run took one.
	tpIRQHandlerEntry = &tracepoint{id: 573, system: "irq", name: "irq_handler_entry",
		fields: []tpField{{"int", "irq", kS32}, {"__data_loc char[]", "name", kDynStr}},
		print:  `"irq=%d name=%s", REC->irq, __get_str(name)`}
	tpIRQHandlerExit = &tracepoint{id: 574, system: "irq", name: "irq_handler_exit",
		fields: []tpField{{"int", "irq", kS32}, {"int", "ret", kS32}},
		print:  `"irq=%d ret=%s", REC->irq, REC->ret ? "handled" : "unhandled"`}
)

// x86IRQVectors are arch/x86/include/asm/trace/irq_vectors.h's events,
// by the irq_vectors.h name of their vector (irqchip's VectorName): the
// event is NAME_entry / NAME_exit, printing "vector=%d". The NMI has none.
var x86IRQVectors = []struct{ vector, event string }{
	{"LOCAL_TIMER_VECTOR", "local_timer"},
	{"SPURIOUS_APIC_VECTOR", "spurious_apic"},
	{"ERROR_APIC_VECTOR", "error_apic"},
	{"X86_PLATFORM_IPI_VECTOR", "x86_platform_ipi"},
	{"IRQ_WORK_VECTOR", "irq_work"},
	{"REBOOT_VECTOR", "reboot"},
	{"CALL_FUNCTION_VECTOR", "call_function"},
	{"CALL_FUNCTION_SINGLE_VECTOR", "call_function_single"},
	{"RESCHEDULE_VECTOR", "reschedule"},
	{"THRESHOLD_APIC_VECTOR", "threshold_apic"},
	{"DEFERRED_ERROR_VECTOR", "deferred_error_apic"},
	{"THERMAL_APIC_VECTOR", "thermal_apic"},
}

// vectorTPs are the irq_vectors tracepoints, entry and exit for each of
// x86IRQVectors, in order, IDs from 540.
var vectorTPs = func() []*tracepoint {
	var out []*tracepoint
	for i, v := range x86IRQVectors {
		for j, sfx := range []string{"_entry", "_exit"} {
			out = append(out, &tracepoint{id: 540 + 2*i + j, system: "irq_vectors", name: v.event + sfx,
				fields: []tpField{{"int", "vector", kS32}}, print: `"vector=%d", REC->vector`})
		}
	}
	return out
}()

// allTracepoints lists every tracepoint, by ID.
var allTracepoints = append([]*tracepoint{tpIPIRaise, tpIPISendCPU, tpIPISendCPUMask, tpIPIEntry, tpIPIExit,
	tpCSDQueue, tpCSDFuncEntry, tpCSDFuncExit,
	tpSchedSwitch, tpSchedWakeup, tpSchedMigrate, tpWakeIdle,
	tpCpuhpEnter, tpCpuhpMultiEnter, tpCpuhpExit}, append(vectorTPs, tpSoftirqEntry, tpSoftirqExit, tpSoftirqRaise, tpIRQHandlerEntry, tpIRQHandlerExit)...)

// softirqNames are kernel/softirq.c's softirq_to_name[], by number.
var softirqNames = [...]string{"HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"}

func softirqTP(id int, name string) *tracepoint {
	var sym strings.Builder
	for i, n := range softirqNames {
		sym.WriteString(", { " + strconv.Itoa(i) + `, "` + n + `" }`)
	}
	return &tracepoint{id: id, system: "irq", name: name,
		fields: []tpField{{"unsigned int", "vec", kU32}},
		print:  `"vec=%u [action=%s]", REC->vec, __print_symbolic(REC->vec` + sym.String() + ")"}
}

// softirqName is show_softirq_name() of vec.
func softirqName(vec int64) string {
	if vec >= 0 && vec < int64(len(softirqNames)) {
		return softirqNames[vec]
	}
	return "0x" + strconv.FormatInt(vec, 16)
}

// genericIPICallback is what kernel/smp.c passes as the callback of the
// call-function IPIs' ipi_send_cpu / ipi_send_cpumask, as %pS prints it
// (the size is the one xcall gives the symbol).
const genericIPICallback = "generic_smp_call_function_single_interrupt+0x0/0x20"

// prioNormal is the priority of a SCHED_NORMAL task of nice 0, which the
// sched events print as prio (the record has no priorities: every task of
// the model is one).
const prioNormal = 120

// maxFields bounds a tracepoint's fields.
const maxFields = 7

// tpHit is one tracepoint hit: the values of its fields, by index
// (numbers in n, symbols, strings and comms in s; a symbol "" is NULL),
// and the CPUs of its bitmap field.
type tpHit struct {
	tp   *tracepoint
	n    [maxFields]int64
	s    [maxFields]string
	mask []int
}

// tpArch is what turning events into tracepoints needs of the machine.
type tpArch struct {
	x86   bool
	chip  irqchip.Chip
	nr    int // nr_cpu_ids
	ipiOf func(vector int) (irqchip.IPI, bool)
}

func newTPArch(x86 bool, chip irqchip.Chip, nr int) tpArch {
	a := tpArch{x86: x86, chip: chip, nr: nr}
	if c, ok := chip.(interface {
		IPIOf(int) (irqchip.IPI, bool)
	}); ok {
		a.ipiOf = c.IPIOf
	}
	return a
}

// vectorTP returns the irq_vectors event pair of an x86 vector.
func (a *tpArch) vectorTP(vector int) (entry, exit *tracepoint) {
	if vector < 0 || a.chip == nil {
		return nil, nil
	}
	name := a.chip.VectorName(vector)
	for i, v := range x86IRQVectors {
		if v.vector == name {
			return vectorTPs[2*i], vectorTPs[2*i+1]
		}
	}
	return nil, nil
}

// hitsOf appends the tracepoint hits event e is shown as. Kinds with no
// kernel tracepoint give none.
func (a *tpArch) hitsOf(dst []tpHit, e *emu.Event) []tpHit {
	switch e.Kind {
	case emu.EvIPISend:
		return a.sendHits(dst, e)
	case emu.EvIPIElide:
		h := tpHit{tp: tpWakeIdle}
		h.n[0] = int64(e.Target)
		return append(dst, h)
	case emu.EvIPIEntry, emu.EvIPIExit:
		// the handler's body, where x86's sysvec handlers and arm64's
		// do_handle_IPI() trace (EvIRQEntry/EvIRQExit, the interrupt's
		// entry and exit, have no tracepoint enabled)
		var tp *tracepoint
		h := tpHit{}
		if e.Vector == irqchip.DeviceVector(a.x86) {
			// the device interrupt's handler body (xcall/devirq.go): its
			// action, which always handles it (IRQ_HANDLED)
			h.tp, h.n[0] = tpIRQHandlerEntry, int64(e.Vector)
			if a.chip != nil {
				h.s[1] = a.chip.VectorName(e.Vector)
			}
			if e.Kind == emu.EvIPIExit {
				h.tp, h.n[1] = tpIRQHandlerExit, 1
			}
			return append(dst, h)
		}
		if a.x86 {
			entry, exit := a.vectorTP(e.Vector)
			tp = entry
			if e.Kind == emu.EvIPIExit {
				tp = exit
			}
			h.n[0] = int64(e.Vector)
		} else if e.Vector >= 0 && e.Vector < irqchip.NrIPI {
			// arm64's do_handle_IPI traces IPIs below NR_IPI only.
			tp = tpIPIEntry
			if e.Kind == emu.EvIPIExit {
				tp = tpIPIExit
			}
			h.s[0] = irqchip.ARM64IPIReason(e.Vector)
		}
		if tp == nil {
			return dst
		}
		h.tp = tp
		return append(dst, h)
	case emu.EvCSDQueue:
		h := tpHit{tp: tpCSDQueue}
		h.n[0] = int64(e.Target)
		h.s[1], h.s[2] = e.Site, e.Func
		h.n[3] = int64(csdAddr(e.CSD))
		return append(dst, h)
	case emu.EvCSDFuncEntry, emu.EvCSDFuncExit:
		h := tpHit{tp: tpCSDFuncEntry}
		if e.Kind == emu.EvCSDFuncExit {
			h.tp = tpCSDFuncExit
		}
		h.s[0] = e.Func
		h.n[1] = int64(csdAddr(e.CSD))
		return append(dst, h)
	case emu.EvSchedSwitch:
		h := tpHit{tp: tpSchedSwitch}
		h.s[0], h.n[1], h.n[2] = switchComm(e.PrevComm, e.PrevPID, e.CPU), int64(e.PrevPID), prioNormal
		h.n[3] = prevState(e.PrevState)
		h.s[4], h.n[5], h.n[6] = switchComm(e.NextComm, e.NextPID, e.CPU), int64(e.NextPID), prioNormal
		return append(dst, h)
	case emu.EvSchedWakeup:
		h := tpHit{tp: tpSchedWakeup}
		comm, pid := taskOf(e)
		h.s[0], h.n[1], h.n[2], h.n[3] = comm, int64(pid), prioNormal, int64(e.Target)
		return append(dst, h)
	case emu.EvSchedMigrate:
		h := tpHit{tp: tpSchedMigrate}
		comm, pid := taskOf(e)
		h.s[0], h.n[1], h.n[2] = comm, int64(pid), prioNormal
		h.n[3], h.n[4] = int64(e.Source), int64(e.Target)
		return append(dst, h)
	case emu.EvCpuhpEnter, emu.EvCpuhpMultiEnter:
		h := tpHit{tp: tpCpuhpEnter}
		if e.Kind == emu.EvCpuhpMultiEnter {
			h.tp = tpCpuhpMultiEnter
		}
		h.n[0], h.n[1], h.n[2], h.s[3] = int64(e.Target), int64(e.Dest), int64(e.State), e.Fn
		return append(dst, h)
	case emu.EvSoftirqRaise, emu.EvSoftirqEntry, emu.EvSoftirqExit:
		h := tpHit{tp: tpSoftirqRaise}
		switch e.Kind {
		case emu.EvSoftirqEntry:
			h.tp = tpSoftirqEntry
		case emu.EvSoftirqExit:
			h.tp = tpSoftirqExit
		}
		h.n[0] = int64(e.Vector)
		return append(dst, h)
	case emu.EvCpuhpExit:
		h := tpHit{tp: tpCpuhpExit}
		h.n[0], h.n[1], h.n[2], h.n[3] = int64(e.Target), int64(e.State), int64(e.Idx), int64(e.Ret)
		return append(dst, h)
	}
	return dst
}

// sendHits: the generic ipi_send_cpu (one target) or ipi_send_cpumask,
// which kernel/smp.c and smp_send_reschedule() trace before the arch sends
// (callback generic_smp_call_function_single_interrupt, or NULL for a
// reschedule) with their callsite, then on arm64 smp_cross_call()'s
// ipi_raise. A send with no callsite is the arch's own, without the
// generic tracepoint; the NMI is sent without either.
func (a *tpArch) sendHits(dst []tpHit, e *emu.Event) []tpHit {
	if e.Vector < 0 || len(e.Targets) == 0 {
		return dst
	}
	ipi, known := irqchip.IPI(0), false
	if a.ipiOf != nil {
		ipi, known = a.ipiOf(e.Vector)
	}
	if !known || ipi == irqchip.Backtrace {
		return dst
	}
	if e.Site == "" {
		// Sent by the arch code directly (csd_lock_wait_toolong()'s resend
		// calls arch_send_call_function_single_ipi()): no generic
		// tracepoint, only arm64's ipi_raise.
		if !a.x86 {
			h := tpHit{tp: tpIPIRaise, mask: e.Targets}
			h.s[1] = irqchip.ARM64IPIReason(e.Vector)
			dst = append(dst, h)
		}
		return dst
	}
	callback := genericIPICallback
	if ipi == irqchip.Reschedule {
		callback = ""
	}
	if e.Func != "" {
		callback = e.Func
	}
	if len(e.Targets) == 1 {
		h := tpHit{tp: tpIPISendCPU}
		h.n[0] = int64(e.Targets[0])
		h.s[1], h.s[2] = e.Site, callback
		dst = append(dst, h)
	} else {
		h := tpHit{tp: tpIPISendCPUMask, mask: e.Targets}
		h.s[1], h.s[2] = e.Site, callback
		dst = append(dst, h)
	}
	if !a.x86 {
		h := tpHit{tp: tpIPIRaise, mask: e.Targets}
		h.s[1] = irqchip.ARM64IPIReason(e.Vector)
		dst = append(dst, h)
	}
	return dst
}

// contextOf is the task the TASK-PID column and common_pid show: the
// CPU's, except for sched_switch, which the kernel traces before the
// switch, in the task switched out.
func contextOf(e *emu.Event) (string, int) {
	if e.Kind == emu.EvSchedSwitch {
		if e.PrevPID == 0 {
			return "<idle>", 0
		}
		return e.PrevComm, e.PrevPID
	}
	return e.Comm, e.PID
}

// switchComm is a comm as sched_switch stores it: the idle task's is
// "swapper/CPU" (the TASK column's "<idle>" is trace_find_cmdline()'s name
// for pid 0).
func switchComm(comm string, pid, cpu int) string {
	if pid == 0 {
		return "swapper/" + strconv.Itoa(cpu)
	}
	return comm
}

// taskOf is the task a wake-up or migration is about.
func taskOf(e *emu.Event) (string, int) { return e.TaskComm, e.TaskPID }

// prevState is sched_switch's prev_state as the kernel stores it
// (TASK_REPORT bits; TASK_REPORT_MAX for a preempted task, "R+").
func prevState(s string) int64 {
	const reportMax = 0x100
	var v int64
	for _, c := range s {
		switch c {
		case 'S':
			v |= 0x01
		case 'D':
			v |= 0x02
		case 'T':
			v |= 0x04
		case 't':
			v |= 0x08
		case 'X':
			v |= 0x10
		case 'Z':
			v |= 0x20
		case 'P':
			v |= 0x40
		case 'I':
			v |= 0x80
		case '+':
			v |= reportMax
		}
	}
	return v
}

// prevStateString is the inverse, as sched_switch's print fmt prints it.
func prevStateString(v int64) string {
	const letters = "SDTtXZPI"
	var b strings.Builder
	for i := 0; i < len(letters); i++ {
		if v&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteByte(letters[i])
		}
	}
	if b.Len() == 0 {
		b.WriteByte('R')
	}
	if v&0x100 != 0 {
		b.WriteByte('+')
	}
	return b.String()
}

// csdAddr is the csd's pointer as a number: the value xcall's
// (*CSD).Ptr prints for the csd of that id (0: no csd, NULL).
func csdAddr(id uint64) uint64 {
	v, _ := strconv.ParseUint(csdPtr(id), 16, 64)
	return v
}

// maskBits is the number of bits a cpumask field holds: the kernel
// stores nr_cpumask_bits (nr_cpu_ids) rounded up to whole longs, and
// prints all of them.
func maskBits(nr int) int {
	if nr < 1 {
		nr = 1
	}
	return (nr + 63) / 64 * 64
}
