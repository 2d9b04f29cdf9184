package shell

// Looking inside the machine, read-only: info cpus and cpu (each CPU's
// state in the kernel's terms), queue (a CPU's call_single_queue), csd
// (one csd: its lock, its waiters), ipis (the IPIs in flight) and where
// (the kernel stack of a CPU). None of them runs anything or is a step.
//
// What the live state does not keep (when a csd was locked, when an IPI was
// sent) comes from watching the run: the kernel's own csd events
// (xcall.EventSink: lock, queue, run, unlock) and the event record
// (emu.Recorder: IPIs by id, csd waits).

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/units"
	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/xcall"
)

// watcher follows one kernel's run for the looking commands.
type watcher struct {
	sh *Shell
	k  *xcall.Kernel
	// The time of every recorded event since the watcher came, by number
	// (goto TIME), up to maxTimes.
	times    []int64
	firstSeq uint64
	noTimes  bool              // a checkpoint's: it takes the times from the shell's watcher when used (inheritTimes)
	csds     map[int]*csdTrack // by csd id; looked up, never ranged
	ipis     map[uint64]*ipiTrack
	live     []uint64 // the ids of the IPIs in flight, ascending
}

// csdTrack is what happened to a csd last, from the record.
type csdTrack struct {
	fn                string // its function, from its last csd_lock, csd_queue or entry
	typ               uint32 // its CSD_TYPE_*
	lockT             int64
	lockCPU           int
	queueT, runT      int64
	queueCPU, runCPU  int
	unlockT           int64
	waitT             [][2]int64 // per waiter: CPU, since
	locked, lockSeen  bool
	queued, executing bool
}

// ipiTrack is one IPI from its send to its handling.
type ipiTrack struct {
	id        uint64
	from, to  int
	vector    int
	sent      int64
	delivered int64 // -1: on its way
	delay     int64
	state     string
}

// maxTimes bounds the event times kept for goto TIME (32 MiB).
const maxTimes = 1 << 22

func newWatcher(sh *Shell, k *xcall.Kernel) *watcher {
	w := &watcher{sh: sh, k: k, csds: map[int]*csdTrack{}, ipis: map[uint64]*ipiTrack{}}
	k.M.AddRecorder(w)
	return w
}

// csd is the track of csd id, made on first sight.
func (w *watcher) csd(id uint64) *csdTrack {
	t := w.csds[int(id)]
	if t == nil {
		t = &csdTrack{lockCPU: -1, queueCPU: -1, runCPU: -1}
		w.csds[int(id)] = t
	}
	return t
}

// Record is emu.Recorder: IPIs by id, and what happened to each csd.
func (w *watcher) Record(e *emu.Event) {
	if w.firstSeq == 0 {
		w.firstSeq = e.Seq
	}
	if len(w.times) < maxTimes && !w.noTimes {
		w.times = append(w.times, e.T)
	}
	if w.sh != nil { // a checkpoint being built has no debugger
		defer w.sh.record(e) // last: a breakpoint blocks there, and sees the rest up to date
	}
	switch e.Kind {
	case emu.EvIPISend:
		for i, id := range e.IDs {
			to := -1
			if i < len(e.Targets) {
				to = e.Targets[i]
			}
			w.ipis[id] = &ipiTrack{id: id, from: e.CPU, to: to, vector: e.Vector, sent: e.T, delivered: -1, state: "on its way"}
			w.live = append(w.live, id)
		}
	case emu.EvIPIDelay:
		if t := w.ipis[e.ID]; t != nil {
			t.delay = e.Delay
		}
	case emu.EvIPIDeliver:
		if t := w.ipis[e.ID]; t != nil {
			t.delivered, t.state = e.T, "pending"
		}
	case emu.EvIPIDrop, emu.EvIPIMerge:
		w.done(e.ID)
	case emu.EvIRQEntry:
		for _, id := range e.IDs {
			w.done(id)
		}
	case emu.EvCSDLock:
		t := w.csd(e.CSD)
		t.lockT, t.lockCPU, t.locked, t.lockSeen, t.typ = e.T, e.CPU, true, true, e.CSDType
		t.queued, t.executing, t.queueCPU, t.runCPU = false, false, -1, -1
		if e.Func != "0x0" {
			t.fn = e.Func
		}
	case emu.EvCSDQueue:
		t := w.csd(e.CSD)
		t.queueT, t.queueCPU, t.queued, t.fn, t.typ = e.T, e.Target, true, e.Func, e.CSDType
	case emu.EvCSDFuncEntry:
		t := w.csd(e.CSD)
		t.runT, t.runCPU, t.executing, t.queued, t.fn, t.typ = e.T, e.CPU, true, false, e.Func, e.CSDType
	case emu.EvCSDFuncExit:
		w.csd(e.CSD).executing = false
	case emu.EvCSDUnlock:
		t := w.csd(e.CSD)
		t.unlockT, t.locked = e.T, false
	case emu.EvCSDWaitBegin:
		t := w.csd(e.CSD)
		t.waitT = append(t.waitT, [2]int64{int64(e.CPU), e.T})
	case emu.EvCSDWaitEnd:
		if t := w.csds[int(e.CSD)]; t != nil {
			for i, wt := range t.waitT {
				if wt[0] == int64(e.CPU) {
					t.waitT = append(t.waitT[:i], t.waitT[i+1:]...)
					break
				}
			}
		}
	}
}

// done forgets an IPI that was taken, dropped or merged.
func (w *watcher) done(id uint64) {
	if _, ok := w.ipis[id]; !ok {
		return
	}
	delete(w.ipis, id)
	for i, l := range w.live {
		if l == id {
			w.live = append(w.live[:i], w.live[i+1:]...)
			break
		}
	}
}

// watch makes sure the watcher follows the session's current kernel (a
// script's machine() call boots another one).
func (sh *Shell) watch() *watcher {
	if sh.w == nil || sh.w.k != sh.sess.K {
		sh.w = newWatcher(sh, sh.sess.K)
	}
	return sh.w
}

// vectorName names a vector as the interrupt controller's headers do.
func (sh *Shell) vectorName(v int) string {
	if v < 0 {
		return "NMI"
	}
	return sh.sess.K.Chip.VectorName(v)
}

// pendingNames lists a CPU's pending vectors by name ("-": none).
func (sh *Shell) pendingNames(cpu *emu.CPU) string {
	var out []string
	for _, v := range cpu.PendingVectors() {
		out = append(out, sh.vectorName(v))
	}
	if cpu.NMIPending() {
		out = append(out, "NMI")
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}

// cpuList reads an optional CPU list argument (default: every CPU).
func (sh *Shell) cpuList(cmd, args string) ([]int, error) {
	nr := sh.sess.K.NrCPUIDs()
	if args == "" {
		out := make([]int, nr)
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	var out []int
	for _, f := range strings.FieldsFunc(args, func(r rune) bool { return r == ',' || r == ' ' }) {
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := sh.cpuArg(cmd, lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = sh.cpuArg(cmd, hi); err != nil {
				return nil, err
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out, nil
}

// idleState is what an idle CPU does: polls need-resched, or sleeps in
// its idle loop; "-" for a busy CPU.
func (sh *Shell) idleState(cpu int) string {
	k := sh.sess.K
	c := k.M.CPU(cpu)
	switch {
	case c.Parked:
		return "dead"
	case !c.Idle():
		return "-"
	case k.Polling(cpu):
		return "polling"
	}
	return "idle"
}

// current names what a CPU runs: its task, or the idle task.
func current(cpu int, c *emu.CPU) string {
	if t := c.Task(); t != nil {
		return fmt.Sprintf("%s-%d", t.Name, t.PID)
	}
	return fmt.Sprintf("swapper/%d", cpu)
}

// innermost is the innermost context of a CPU, as the kernel's in_nmi(),
// in_hardirq() and in_task() would classify it.
func (sh *Shell) innermost(c *emu.CPU) string {
	top := c.Top()
	switch {
	case top == nil:
		return "idle"
	case top.Kind == emu.KindNMI:
		return "nmi"
	case top.Kind == emu.KindIRQ:
		return "hardirq " + sh.vectorName(top.Vector())
	}
	return "task"
}

func cmdInfo(sh *Shell, args, line string) error {
	what, rest, _ := strings.Cut(args, " ")
	switch what {
	case "cpus":
		return infoCPUs(sh, strings.TrimSpace(rest))
	case "breakpoints", "break", "b":
		return cmdBreakpoints(sh, "", line)
	}
	return errors.New("usage: info cpus [CPULIST] | info breakpoints")
}

// infoCPUs is the one-line-per-CPU view of info cpus.
func infoCPUs(sh *Shell, args string) error {
	cpus, err := sh.cpuList("info cpus", args)
	if err != nil {
		return err
	}
	k := sh.sess.K
	fmt.Fprintf(sh.out, "%4s  %-16s  %-16s  %-28s  %-4s  %7s  %7s  %-7s  %5s  %s\n",
		"CPU", "CPUHP", "CURRENT", "CONTEXT", "IRQS", "PREEMPT", "HARDIRQ", "IDLE", "QUEUE", "PENDING")
	for _, c := range cpus {
		cpu := k.M.CPU(c)
		_, hp := k.CPUHPState(c)
		irqs := "on"
		if cpu.IRQsOff {
			irqs = "off"
		}
		fmt.Fprintf(sh.out, "%4d  %-16s  %-16s  %-28s  %-4s  %7d  %7d  %-7s  %5d  %s\n", c, hp,
			clip(current(c, cpu), 16), clip(sh.innermost(cpu), 28), irqs, cpu.Preempt, cpu.Hardirq,
			sh.idleState(c), k.QueueDepth(c), sh.pendingNames(cpu))
	}
	return nil
}

func cmdCPU(sh *Shell, args, line string) error {
	if args == "" || strings.ContainsAny(args, " \t") {
		return errors.New("usage: cpu CPU (info cpus shows them all)")
	}
	n, err := sh.cpuArg("cpu", args)
	if err != nil {
		return err
	}
	k := sh.sess.K
	c := k.M.CPU(n)
	_, hp := k.CPUHPState(n)
	online := "offline"
	if k.Online(n) {
		online = "online"
	}
	active := ""
	if k.Active(n) {
		active = ", active"
	}
	fmt.Fprintf(sh.out, "CPU%d: %s%s, cpuhp state %s\n", n, online, active, hp)
	row := func(name, format string, a ...any) {
		fmt.Fprintf(sh.out, "  %-18s "+format+"\n", append([]any{name + ":"}, a...)...)
	}
	cur := current(n, c)
	switch idle := sh.idleState(n); idle {
	case "polling":
		cur += " (idle, polling need-resched)"
	case "idle":
		cur += " (idle)"
	case "dead":
		cur += " (dead: parked, takes no interrupts)"
	}
	row("current", "%s", cur)
	row("context", "%s", sh.innermost(c))
	row("irqs_disabled", "%v", c.IRQsOff)
	row("preempt_count", "%d", c.Preempt)
	row("hardirq depth", "%d", c.Hardirq)
	row("in_nmi", "%v", c.InNMI())
	row("pending", "%s", sh.pendingNames(c))
	if d := k.QueueDepth(n); d > 0 {
		row("call_single_queue", "%d csd(s) (queue %d lists them)", d, n)
	} else {
		row("call_single_queue", "empty")
	}
	if v, ok := k.Executing(n); ok {
		row("executing", "csd #%d %s(%s)", v.ID, v.Func, v.Info)
	}
	if id, ok := k.SpinningOn(n); ok {
		row("csd_lock_wait", "spins on csd #%d (csd %d shows it)", id, id)
	}
	for t := c.Top(); t != nil; t = t.Parent() {
		if t.Waiting() && t.Wait.What != "" {
			row("waits", "%s", waitText(t))
			break
		}
	}
	if q := c.RunQueue(); q > 0 {
		row("runnable", "%d task(s) waiting for the CPU", q)
	}
	return nil
}

// waitText says what a waiting context waits for.
func waitText(t *emu.Context) string {
	what := t.Wait.What
	if t.Wait.Num > 0 {
		what += fmt.Sprintf(" #%d", t.Wait.Num)
	}
	if t.Wait.Owner >= 0 {
		what += fmt.Sprintf(" (CPU%d must act)", t.Wait.Owner)
	}
	return what
}

func cmdQueue(sh *Shell, args, line string) error {
	if args == "" || strings.ContainsAny(args, " \t") {
		return errors.New("usage: queue CPU")
	}
	n, err := sh.cpuArg("queue", args)
	if err != nil {
		return err
	}
	q := sh.sess.K.CallSingleQueue(n)
	if len(q) == 0 {
		fmt.Fprintf(sh.out, "call_single_queue of CPU%d is empty\n", n)
		return nil
	}
	fmt.Fprintf(sh.out, "call_single_queue of CPU%d: %d csd(s), head (newest) first; the flush runs them oldest first\n", n, len(q))
	fmt.Fprintf(sh.out, "  %-5s  %-16s  %-5s  %-17s  %-32s  %-18s  %4s  %4s\n", "CSD", "ADDRESS", "FLAGS", "TYPE", "FUNC", "INFO", "SRC", "DST")
	for _, v := range q {
		fmt.Fprintf(sh.out, "  %-5s  %-16s  0x%02x   %-17s  %-32s  %-18s  %4s  %4s\n", "#"+strconv.Itoa(v.ID), v.Ptr, v.Flags,
			v.TypeName(), clip(v.Func, 32), v.Info, cpuOrDash(v.Src), cpuOrDash(v.Dst))
	}
	return nil
}

// onQueue reports whether csd id is on a queue (a flush may have taken
// it off already, before its function runs).
func onQueue(q []xcall.CSDView, id int) bool {
	for _, v := range q {
		if v.ID == id {
			return true
		}
	}
	return false
}

func cpuOrDash(c int) string {
	if c < 0 {
		return "-"
	}
	return strconv.Itoa(c)
}

func cmdCSD(sh *Shell, args, line string) error {
	id, err := strconv.Atoi(strings.TrimPrefix(args, "#"))
	if err != nil || id <= 0 {
		return errors.New("usage: csd ID (the number queue, cpu and the traces show)")
	}
	k := sh.sess.K
	w := sh.watch()
	t := w.csds[id]
	v, ok := k.FindCSD(id)
	switch {
	case ok:
		flags := []string{v.TypeName()}
		if v.Locked() {
			flags = append([]string{"CSD_FLAG_LOCK"}, flags...)
		}
		fmt.Fprintf(sh.out, "csd #%d at %s: flags 0x%02x (%s), func %s, info %s\n", id, v.Ptr, v.Flags, strings.Join(flags, " | "), v.Func, v.Info)
		if v.Src >= 0 || v.Dst >= 0 {
			fmt.Fprintf(sh.out, "  node.src %s, node.dst %s\n", cpuOrDash(v.Src), cpuOrDash(v.Dst))
		}
	case t != nil:
		// Not where the kernel keeps csds any more (a caller's own csd):
		// what the record says of it.
		fn := t.fn
		if fn == "" {
			fn = "0x0"
		}
		v = xcall.CSDView{ID: id, Flags: t.typ, Func: fn, Src: -1, Dst: -1, On: t.queueCPU}
		if t.locked {
			v.Flags |= xcall.CSDFlagLock
		}
		fmt.Fprintf(sh.out, "csd #%d: %s, func %s (the record's; the kernel keeps it no longer)\n", id, v.TypeName(), fn)
	default:
		return fmt.Errorf("csd: no csd #%d", id)
	}
	at := func(ts int64) string { return units.Virtual(ts) }
	if t != nil && t.lockSeen {
		verb := "locked"
		if !v.Locked() {
			verb = "last locked"
		}
		by := "the operator"
		if t.lockCPU >= 0 {
			by = "CPU" + strconv.Itoa(t.lockCPU)
		}
		fmt.Fprintf(sh.out, "  %s by %s at %s\n", verb, by, at(t.lockT))
		if t.queueCPU >= 0 {
			state := "was queued"
			if t.queued && onQueue(k.CallSingleQueue(t.queueCPU), id) {
				state = "queued"
			}
			fmt.Fprintf(sh.out, "  %s on CPU%d's call_single_queue at %s\n", state, t.queueCPU, at(t.queueT))
		}
		if t.runCPU >= 0 {
			fmt.Fprintf(sh.out, "  its function started on CPU%d at %s\n", t.runCPU, at(t.runT))
		}
		if !v.Locked() && t.unlockT >= t.lockT {
			fmt.Fprintf(sh.out, "  unlocked at %s\n", at(t.unlockT))
		}
	} else if v.Locked() {
		fmt.Fprintln(sh.out, "  locked (before the shell watched this machine)")
	}
	waiters := k.CSDWaiters(id)
	if len(waiters) == 0 {
		fmt.Fprintln(sh.out, "  nobody waits on it")
	}
	for _, wt := range waiters {
		since := ""
		if t != nil {
			for _, x := range t.waitT {
				if int(x[0]) == wt.CPU {
					since = " since " + at(x[1])
				}
			}
		}
		fmt.Fprintf(sh.out, "  CPU%d %s-%d waits in csd_lock_wait()%s\n", wt.CPU, wt.Comm, wt.PID, since)
	}
	return nil
}

func cmdIPIs(sh *Shell, args, line string) error {
	if args != "" {
		return errors.New("usage: ipis")
	}
	w := sh.watch()
	if len(w.live) == 0 {
		fmt.Fprintln(sh.out, "no IPIs in flight")
		return nil
	}
	fmt.Fprintf(sh.out, "%6s  %4s  %4s  %-32s  %-18s  %s\n", "ID", "FROM", "TO", "VECTOR", "SENT", "STATE")
	for _, id := range w.live {
		t := w.ipis[id]
		state := t.state
		if t.delivered >= 0 {
			state = "pending since " + units.Virtual(t.delivered)
		} else if t.delay > 0 {
			state += fmt.Sprintf(" (delayed by %s)", units.Dur(t.delay))
		}
		fmt.Fprintf(sh.out, "%6d  %4d  %4d  %-32s  %-18s  %s\n", id, t.from, t.to, sh.vectorName(t.vector), units.Virtual(t.sent), state)
	}
	return nil
}

func cmdWhere(sh *Shell, args, line string) error {
	var cpus []int
	if args != "" {
		n, err := sh.cpuArg("where", args)
		if err != nil {
			return err
		}
		cpus = []int{n}
	} else if sh.stopCPU >= 0 && sh.stopCPU < sh.sess.K.NrCPUIDs() {
		cpus = []int{sh.stopCPU}
	} else {
		for c := 0; c < sh.sess.K.NrCPUIDs(); c++ {
			if sh.sess.K.M.CPU(c).Top() != nil {
				cpus = append(cpus, c)
			}
		}
		if len(cpus) == 0 {
			fmt.Fprintln(sh.out, "every CPU is idle (where CPU shows one)")
			return nil
		}
	}
	for i, c := range cpus {
		if i > 0 {
			fmt.Fprintln(sh.out)
		}
		sh.backtrace(c)
	}
	return nil
}

// backtrace prints a CPU's stack as the kernel's Call Trace does:
// innermost context first, each between <IRQ>/<NMI>/<TASK> markers, its
// frames innermost first; a waiting context says what it waits for.
func (sh *Shell) backtrace(cpu int) {
	c := sh.sess.K.M.CPU(cpu)
	fmt.Fprintf(sh.out, "CPU%d (%s):\n", cpu, current(cpu, c))
	if c.Top() == nil {
		frame := "default_idle+0x9/0x20"
		if !sh.sess.Spec().IsX86() {
			frame = "cpu_do_idle+0x10/0x18"
		}
		if c.Parked {
			fmt.Fprintln(sh.out, "  (dead: parked)")
			return
		}
		fmt.Fprintf(sh.out, "  idling at %s\n", frame)
		return
	}
	fmt.Fprintln(sh.out, "Call Trace:")
	for t := c.Top(); t != nil; t = t.Parent() {
		tag := "TASK"
		switch t.Kind {
		case emu.KindIRQ:
			tag = "IRQ"
		case emu.KindNMI:
			tag = "NMI"
		}
		head := " <" + tag + ">"
		if tag == "TASK" {
			head += fmt.Sprintf(" %s-%d", t.Name, t.PID)
		} else if t.Kind == emu.KindIRQ {
			head += " " + sh.vectorName(t.Vector())
		}
		fmt.Fprintln(sh.out, head)
		for _, f := range xcall.Frames(t) {
			fmt.Fprintln(sh.out, "  "+f)
		}
		if t.Waiting() && t.Wait.What != "" {
			fmt.Fprintf(sh.out, "  (%s)\n", waitText(t))
		}
		fmt.Fprintln(sh.out, " </"+tag+">")
	}
}
