package emu

// The event record: every event of a run, typed and exact, as the model
// produces it. Every view of a run (ftrace text, trace.dat, Perfetto, the
// timeline, the shell's displays, a report's checksums and hash, explore's
// failure signatures) reads this record and nothing else.
//
// Recording costs one nil check per event when nobody reads the record:
// an Event is built only when a Recorder is attached (Recording).

// EventKind is what an Event records.
type EventKind uint8

// The kinds of events. The fields each one fills are listed beside it;
// every event also has Seq, T, CPU, Ctx, Comm, PID and Flags.
//
// An IPI has one ID from its send to its handling: EvIPISend carries the
// IDs of the IPIs it sends, one per target (in Targets' order), and every
// later event about one of them (delivered, dropped, delayed, merged,
// taken by a handler) carries that IPI's ID.
const (
	EvNone EventKind = iota

	// IPIs. Vector is the x86 vector or the arm64 IPI number (-1: NMI).
	EvIPISend    // on the sender: Targets, IDs (one per target), Vector, Writes, Site
	EvIPIDeliver // on the target: ID, Vector, Source (the sender). The vector is now pending
	EvIPIDrop    // on the target: ID, Vector, Source. Lost (Reason: DropFault, at the write; DropOffline, when the CPU's pending vectors are cleared)
	EvIPIDelay   // on the sender, at the write: ID, Vector, Target, Delay (ns added by fault injection)
	EvIPIElide   // on the sender: Target. No IPI sent: the target polls need-resched in idle
	EvIPIMerge   // on the target: ID, Vector, Source. Arrived while Vector was already pending

	// Interrupt handlers.
	EvIRQEntry // Vector (-1: NMI), IDs: the IPIs this handler takes. When the handler goes on the CPU, before the entry cost
	EvIRQExit  // Vector. When the handler leaves the CPU, after the exit cost

	// Cross calls (include/trace/events/csd.h).
	EvCSDQueue     // CSD, Func, Site, Target (the CPU whose queue), CSDType
	EvCSDFuncEntry // CSD, Func, CSDType
	EvCSDFuncExit  // CSD, Func, CSDType
	EvCSDWaitBegin // CSD, Target (the CPU it waits for; -1: unknown), Func
	EvCSDWaitEnd   // CSD, Target, Func

	// Scheduling (include/trace/events/sched.h).
	EvSchedSwitch  // PrevComm, PrevPID, PrevState ("X" ended, "S" Sleep, "D" Block, "R" otherwise), NextComm, NextPID; idle is "swapper/N", pid 0
	EvSchedWakeup  // TaskComm, TaskPID: the wakee (Comm and PID are the waker's CPU's), Target (its CPU)
	EvSchedMigrate // TaskComm, TaskPID; Source, Target (from, to); recorded on the CPU left
	EvIdleEnter    // the CPU has nothing to run
	EvIdleExit     // the CPU leaves idle

	// Interrupt flag changes at task level (preemptirq:irq_disable/enable).
	EvIRQsOff
	EvIRQsOn

	// CPU hotplug (include/trace/events/cpuhp.h).
	EvCpuhpEnter      // Target (the CPU), State, StateName, Fn, Dest (the target state)
	EvCpuhpMultiEnter // as EvCpuhpEnter, for one instance of a multi-instance state
	EvCpuhpExit       // Target, State, StateName, Idx (= State: the model's walk is at the state it invokes), Ret
	EvCPUOnline       // Target came online
	EvCPUOffline      // Target went offline

	// stop_machine: State, StateName (kernel/stop_machine.c's multi_stop_state),
	// when the shared state is set: PREPARE by the caller, each later one by
	// the stopper that acknowledged last.
	EvStopMachine

	// The rest.
	EvPrintk   // Text: one line of the kernel log
	EvPoint    // Name: a hook point reached
	EvDecision // N (the decision's number), V (the value drawn), Max (0: a tie). Canonical ties are not drawn, not recorded

	// The body of an IPI's handler, between EvIRQEntry (plus the entry
	// cost) and EvIRQExit (minus the exit cost): where the kernel traces
	// ipi:ipi_entry and ipi_exit (arm64: do_handle_IPI) and the vector's
	// irq_vectors entry and exit (x86: sysvec_call_function_single and
	// the others). Vector. With the device interrupt's vector
	// (irqchip.DeviceVector), the body of its handler, around the actions
	// and before irq_exit() runs softirqs: where kernel/irq/handle.c's
	// __handle_irq_event_percpu() traces irq:irq_handler_entry and _exit.
	EvIPIEntry
	EvIPIExit

	// Softirqs (include/trace/events/irq.h: softirq_raise, softirq_entry,
	// softirq_exit). Vector is the softirq number, the tracepoints' vec
	// (include/linux/interrupt.h: HI_SOFTIRQ = 0 ... RCU_SOFTIRQ = 9;
	// xcall.SoftirqNames names them), not an interrupt vector.
	// EvSoftirqRaise: the bit is set in the CPU's pending mask
	// (__raise_softirq_irqoff); EvSoftirqEntry and EvSoftirqExit bracket
	// one handler's run, in softirq context.
	EvSoftirqRaise
	EvSoftirqEntry
	EvSoftirqExit
	// The CSD lock (kernel/smp.c: csd_lock(), csd_unlock(); and the
	// callers that set CSD_FLAG_LOCK themselves: the on-stack csd of a
	// synchronous smp_call_function_single(), the _async and smp_xcall
	// paths). No tracepoint in the kernel: the views of a kernel's traces
	// (ftrace text, trace.dat, Perfetto) leave them out. CSD, Func (what
	// the csd holds then, as %ps prints it: 0x0 for a csd whose caller
	// fills it after locking it, as smp_call_function_single() does),
	// CSDType (csd_unlock: before the flag word is cleared).
	EvCSDLock
	EvCSDUnlock
	// Store visibility under a native memory model (docs/memory.md): no
	// tracepoint in the kernel, so the ftrace text and trace.dat leave
	// them out. Recorded only when a store is really delayed: a seed-0 or
	// sequentially consistent run has none.
	//
	// EvStoreBuffered: on the storing CPU, when stores another CPU reads
	// go into its store buffer. Name (what they are: "llist_add", the
	// queueing of a csd; "csd_unlock", the release of its flag word), CSD,
	// Func, Target (the CPU that reads them: the one whose
	// call_single_queue, or for an unlock the csd's sender; -1: any),
	// Delay (ns: every other CPU sees them at T+Delay, unless a barrier
	// drains them first).
	//
	// EvStoreVisible: on the storing CPU, when a barrier makes stores
	// still buffered visible before their time: Name, CSD, Func, Target as
	// at EvStoreBuffered, Site (the barrier: "weak_wrmsr_fence", ...),
	// Delay (ns they had left). Stores no barrier drains become visible at
	// their EvStoreBuffered's T+Delay with no event of their own.
	EvStoreBuffered
	EvStoreVisible

	numEventKinds
)

var eventKindNames = [numEventKinds]string{
	"none",
	"ipi_send", "ipi_deliver", "ipi_drop", "ipi_delay", "ipi_elide", "ipi_merge",
	"irq_entry", "irq_exit",
	"csd_queue", "csd_function_entry", "csd_function_exit", "csd_wait_begin", "csd_wait_end",
	"sched_switch", "sched_wakeup", "sched_migrate", "idle_enter", "idle_exit",
	"irqs_off", "irqs_on",
	"cpuhp_enter", "cpuhp_multi_enter", "cpuhp_exit", "cpu_online", "cpu_offline",
	"stop_machine",
	"printk", "point", "decision",
	"ipi_entry", "ipi_exit",
	"softirq_raise", "softirq_entry", "softirq_exit",
	"csd_lock", "csd_unlock",
	"store_buffered", "store_visible",
}

// String is the kind's name, as breakpoints and the shell spell it.
func (k EventKind) String() string {
	if k < numEventKinds {
		return eventKindNames[k]
	}
	return "unknown"
}

// EventKinds lists every kind but EvNone, in order.
func EventKinds() []EventKind {
	out := make([]EventKind, 0, numEventKinds-1)
	for k := EvNone + 1; k < numEventKinds; k++ {
		out = append(out, k)
	}
	return out
}

// ParseEventKind is the inverse of String.
func ParseEventKind(s string) (EventKind, bool) {
	for k := EvNone + 1; k < numEventKinds; k++ {
		if eventKindNames[k] == s {
			return k, true
		}
	}
	return EvNone, false
}

// CtxKind is the kind of context an event happened in.
type CtxKind uint8

const (
	CtxIdle    CtxKind = iota // the idle task
	CtxTask                   // a thread
	CtxHardirq                // an interrupt handler
	CtxSoftirq                // softirq processing
	CtxNMI                    // an NMI handler
)

func (c CtxKind) String() string {
	return [...]string{"idle", "task", "hardirq", "softirq", "nmi"}[c]
}

// DropReason says why an IPI was lost.
type DropReason uint8

const (
	DropFault   DropReason = iota // fault injection (ipi_drop)
	DropOffline                   // pending on a CPU that went down and came back (cleared)
)

// RegWrite is one register write of an IPI send (irqchip's encoding).
type RegWrite struct {
	Reg   string
	Value uint64
}

// Event is one event of the record. Fields not used by its kind are zero.
type Event struct {
	Seq   uint64 // 1 + the number of events recorded before it in this run
	T     int64  // virtual time, ns
	CPU   int    // where it happened
	Kind  EventKind
	Ctx   CtxKind
	Flags [5]byte // ftrace's latency flags: irqs-off, need-resched, hardirq/softirq, preempt depth, migrate-disable
	Comm  string  // the task the CPU runs ("<idle>" when idle), as ftrace's TASK column
	PID   int

	// IPIs and interrupts.
	ID      uint64     // the IPI's id
	IDs     []uint64   // EvIPISend: one id per target; EvIRQEntry: the IPIs taken
	Vector  int        // x86 vector, arm64 IPI number, -1 for the NMI; EvSoftirq*: the softirq number
	Targets []int      // EvIPISend
	Writes  []RegWrite // EvIPISend: the register writes, in order
	Source  int        // the sender (deliver, drop, merge) or the CPU left (migrate)
	Target  int        // the other CPU of the event (see the kinds)
	Delay   int64      // EvIPIDelay
	Reason  DropReason // EvIPIDrop

	// Cross calls.
	CSD     uint64 // the csd's id (its pointer in traces is derived from it)
	Func    string // the function, as %ps prints it
	Site    string // the callsite, as %pS prints it
	CSDType uint32 // CSD_TYPE_* of the csd's flags

	// Scheduling.
	TaskComm  string // EvSchedWakeup, EvSchedMigrate: the task the event is about (Comm and PID are the CPU's)
	TaskPID   int
	PrevComm  string
	PrevPID   int
	PrevState string // "R", "S", "D", "X", ... as sched_switch prints prev_state
	NextComm  string
	NextPID   int

	// Hotplug and stop_machine.
	State     int // cpuhp state number, or multi_stop_state
	StateName string
	Fn        string // the callback
	Dest      int    // cpuhp_enter's target state
	Idx       int    // cpuhp_exit's idx
	Ret       int    // cpuhp_exit's return value

	// The rest.
	Text string // EvPrintk
	Name string // EvPoint: the hook point
	N    int    // EvDecision
	V    uint64
	Max  uint64
}

// Recorder receives every event of the record, in order. The Event is
// valid only during the call: a recorder that keeps it copies it (the
// slices in it are not reused and may be kept).
type Recorder interface {
	Record(e *Event)
}

// AddRecorder attaches r to the record.
func (m *Machine) AddRecorder(r Recorder) {
	m.recs = append(m.recs, r)
	m.initRec()
}

// Recording reports whether anything reads the record. Code that builds
// an event (and anything costly for it: a slice, a name) checks it first.
func (m *Machine) Recording() bool { return len(m.recs) != 0 }

// Recorded is the number of events recorded so far.
func (m *Machine) Recorded() uint64 { return m.recSeq }

// Emit records e as happening now on cpu, in the context running there:
// it fills Seq, T, CPU, Ctx, Comm, PID and Flags, and hands e to every
// recorder. Callers check Recording first.
func (m *Machine) Emit(cpu int, e *Event) {
	if len(m.recs) == 0 {
		return
	}
	m.fill(cpu, e)
	m.deliverRecord(e)
}

func (m *Machine) fill(cpu int, e *Event) {
	m.recSeq++
	e.Seq, e.T, e.CPU = m.recSeq, m.now, cpu
	if cpu >= 0 && cpu < len(m.cpus) {
		m.fillContext(&m.cpus[cpu], e)
	} else {
		e.Comm, e.PID, e.Flags = "<operator>", -1, [5]byte{'.', '.', '.', '.', '.'}
	}
}

func (m *Machine) deliverRecord(e *Event) {
	for _, r := range m.recs {
		r.Record(e)
	}
}

// emitSched records a scheduler event as the kernel traces it: inside
// __schedule() or try_to_wake_up(), with interrupts off and held more
// levels of preemption disabled than the context had (the runqueue lock,
// and for a wake-up the wakee's pi_lock too), so a switch reads "d..2."
// as on a real kernel. A switch is traced before the CPU changes task: its
// TASK column is the task switched out.
func (m *Machine) emitSched(cpu int, e *Event, held int) {
	if len(m.recs) == 0 {
		return
	}
	m.fill(cpu, e)
	e.Flags[0] = 'd'
	depth := held
	if d := e.Flags[3]; d != '.' {
		depth += int(hexDigit(d))
	}
	e.Flags[3] = "0123456789abcdef"[min(depth, 15)]
	if e.Kind == EvSchedSwitch {
		e.Comm, e.PID = e.PrevComm, e.PrevPID
		if e.PrevPID == 0 {
			e.Comm = "<idle>"
		}
		if e.Ctx == CtxTask || e.Ctx == CtxIdle {
			e.Ctx = CtxTask
			if e.PrevPID == 0 {
				e.Ctx = CtxIdle
			}
		}
	}
	m.deliverRecord(e)
}

func hexDigit(b byte) byte {
	if b >= 'a' {
		return b - 'a' + 10
	}
	return b - '0'
}

// fillContext sets e's context fields from what c runs now, as ftrace's
// trace_print_lat_fmt() would print them.
func (m *Machine) fillContext(c *CPU, e *Event) {
	e.Comm, e.PID = "<idle>", 0
	e.Ctx = CtxIdle
	// A thread of pid 0 is the idle task's own work (the kernel side runs
	// it as swapper/N): ftrace shows pid 0 as <idle>.
	if t := c.Task(); t != nil && t.PID != 0 {
		e.Comm, e.PID = t.Name, t.PID
		e.Ctx = CtxTask
	}
	e.Flags = [5]byte{'.', '.', '.', '.', '.'}
	if c.IRQsOff {
		e.Flags[0] = 'd'
	}
	switch {
	case c.inNMI: // nmi_enter() adds to the hardirq count as well
		e.Flags[2], e.Ctx = 'Z', CtxNMI
	case c.Hardirq > 0 && c.Softirq > 0: // a hard interrupt taken during softirq processing
		e.Flags[2], e.Ctx = 'H', CtxHardirq
	case c.Hardirq > 0:
		e.Flags[2], e.Ctx = 'h', CtxHardirq
	case c.Softirq > 0:
		e.Flags[2], e.Ctx = 's', CtxSoftirq
	}
	if p := c.Preempt; p > 0 {
		if p > 15 {
			p = 15
		}
		e.Flags[3] = "0123456789abcdef"[p]
	}
}

// NewIPIID returns the next IPI id (1, 2, ...). IPI ids are counted per
// run whether or not anything records, so they do not depend on who
// watches.
func (m *Machine) NewIPIID() uint64 {
	m.ipiSeq++
	return m.ipiSeq
}

// NewIPIIDs hands out n consecutive IPI ids, as n calls of NewIPIID
// would, and returns the first (the others follow it by one each).
func (m *Machine) NewIPIIDs(n int) uint64 {
	first := m.ipiSeq + 1
	m.ipiSeq += uint64(n)
	return first
}
