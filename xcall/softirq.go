package xcall

// Softirqs. Compare Linux's kernel/softirq.c: __raise_softirq_irqoff(),
// raise_softirq(), open_softirq(), __irq_exit_rcu() and invoke_softirq(),
// handle_softirqs() (__do_softirq), do_softirq(), wakeup_softirqd() and
// the ksoftirqd/N threads; include/linux/interrupt.h: the softirq numbers
// and softirq_to_name[]; include/trace/events/irq.h: softirq_raise,
// softirq_entry, softirq_exit (emu.EvSoftirqRaise, EvSoftirqEntry,
// EvSoftirqExit).
//
// What is modelled: a pending mask per CPU; a handler per softirq number
// (open_softirq, nil: the softirq runs and does nothing); processing at
// the end of an interrupt handler when something is pending and the CPU
// is not already in an interrupt or in softirq processing (irq_exit),
// deferred while ksoftirqd is runnable unless HI or TASKLET is pending
// (ksoftirqd_running), with handle_softirqs()' restart loop (at most 10
// rounds, 2 ms, or until need-resched) handing the rest to ksoftirqd;
// raise_softirq() from task context waking ksoftirqd/N.
//
// The handlers run with interrupts enabled, as in the kernel: an
// interrupt taken there nests on the softirq (ftrace's 'H'), and does not
// process softirqs at its own exit. The flag changes around them are not
// recorded (EvIRQsOff/EvIRQsOn are task-level changes).
//
// What is left out: local_bh_disable()/local_bh_enable(); tasklets; PREEMPT_RT's
// softirq handling; softirqs have no cost of their own (their handlers
// spend what they spend). docs/model.md says more.

import (
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
)

// The softirq numbers (include/linux/interrupt.h).
const (
	HISoftirq = iota
	TimerSoftirq
	NetTxSoftirq
	NetRxSoftirq
	BlockSoftirq
	IRQPollSoftirq
	TaskletSoftirq
	SchedSoftirq
	HrtimerSoftirq
	RCUSoftirq
	NrSoftirqs
)

// SoftirqNames are the softirqs' names as kernel/softirq.c's
// softirq_to_name[] spells them (and the softirq tracepoints print them).
var SoftirqNames = [NrSoftirqs]string{"HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"}

// softirqNowMask: pending softirqs that irq_exit() runs even while
// ksoftirqd is runnable (kernel/softirq.c's SOFTIRQ_NOW_MASK).
const softirqNowMask = 1<<HISoftirq | 1<<TaskletSoftirq

// maxSoftirqRestart and maxSoftirqTime bound one handle_softirqs() run
// (kernel/softirq.c: MAX_SOFTIRQ_RESTART, MAX_SOFTIRQ_TIME, 2 ms).
const (
	maxSoftirqRestart = 10
	maxSoftirqTime    = 2_000_000
)

// softirqs is the kernel's softirq state.
type softirqs struct {
	vec []*Func      // softirq_vec: the handler of each softirq (nil: none)
	cpu []softirqCPU // per CPU
	// nohzReports counts the NOHZ tick-stop error lines printed: the
	// kernel stops at 10 (a static ratelimit in kernel/time/tick-sched.c).
	nohzReports int
}

type softirqCPU struct {
	pending   uint32       // local_softirq_pending()
	ksoftirqd *emu.Context // runnable ksoftirqd/N, nil if none
}

func (k *Kernel) softirqCPU(cpu int) *softirqCPU {
	if k.sirq.cpu == nil {
		k.sirq.cpu = make([]softirqCPU, k.nr)
	}
	return &k.sirq.cpu[cpu]
}

// ValidSoftirq reports whether nr is a softirq number.
func ValidSoftirq(nr int) bool { return nr >= 0 && nr < NrSoftirqs }

// OpenSoftirq is open_softirq(): f handles softirq nr from now on (nil:
// no handler).
func (k *Kernel) OpenSoftirq(nr int, f *Func) {
	if k.sirq.vec == nil {
		k.sirq.vec = make([]*Func, NrSoftirqs)
	}
	k.sirq.vec[nr] = f
}

// SoftirqPending is local_softirq_pending() of cpu: a mask of softirq
// numbers.
func (k *Kernel) SoftirqPending(cpu int) uint32 {
	if k.sirq.cpu == nil {
		return 0
	}
	return k.sirq.cpu[cpu].pending
}

// inInterrupt is in_interrupt(): in a hard interrupt, an NMI, or softirq
// processing.
func (k *Kernel) inInterrupt(c *emu.Context) bool {
	h := k.cpu(c)
	return c.Kind == emu.KindIRQ || c.Kind == emu.KindNMI || h.Hardirq > 0 || h.Softirq > 0
}

// RaiseSoftirqIrqoff is __raise_softirq_irqoff(): trace softirq_raise
// and set nr's bit in this CPU's pending mask, nothing more. Pending
// softirqs run at the next irq_exit() (or local_bh_enable(), not
// modelled), or in ksoftirqd once woken.
func (k *Kernel) RaiseSoftirqIrqoff(c *emu.Context, nr int) {
	if k.M.Recording() {
		k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvSoftirqRaise, Vector: nr})
	}
	k.softirqCPU(c.CPU).pending |= 1 << nr
}

// RaiseSoftirq is raise_softirq(): with interrupts off,
// __raise_softirq_irqoff(), and from
// task context (not in an interrupt nor in softirq processing) a wake-up
// of ksoftirqd/N so that the softirq runs soon.
func (k *Kernel) RaiseSoftirq(c *emu.Context, nr int) {
	flags := k.LocalIRQSave(c)
	k.RaiseSoftirqIrqoff(c, nr)
	if !k.inInterrupt(c) {
		k.wakeupSoftirqd(c.CPU)
	}
	k.LocalIRQRestore(c, flags)
}

// irqExit ends an interrupt handler (the handler's body is done): as
// __irq_exit_rcu(), with the hard-irq count dropped, pending softirqs run
// now unless the CPU is still in an interrupt (a nested handler) or in
// softirq processing, or ksoftirqd is runnable (invoke_softirq); then the
// exit cost (timing.irq_exit) is spent.
func (k *Kernel) irqExit(c *emu.Context) {
	if k.sirq.cpu != nil && c.Kind == emu.KindIRQ && k.sirq.cpu[c.CPU].pending != 0 && k.softirqOnExit(c) {
		return
	}
	c.ExitAfter(k.T.IRQExit)
}

// softirqOnExit is irqExit with softirqs pending on c's CPU: it runs them
// (and then exits) if invoke_softirq would, and reports whether it did.
func (k *Kernel) softirqOnExit(c *emu.Context) bool {
	h, s := k.cpu(c), &k.sirq.cpu[c.CPU]
	if h.Hardirq != 1 || h.Softirq != 0 || (s.ksoftirqd != nil && s.pending&softirqNowMask == 0) {
		return false
	}
	c.Continue(func(c *emu.Context) {
		h.Hardirq--
		k.handleSoftirqs(c, false)
		h.Hardirq++
		c.ExitAfter(k.T.IRQExit)
	})
	return true
}

// handleSoftirqs is handle_softirqs(): in softirq context, run the
// handler of every pending softirq, lowest number first, each between
// softirq_entry and softirq_exit; start over while more were raised,
// at most maxSoftirqRestart rounds, for maxSoftirqTime, and while
// need-resched is clear; what is still pending then goes to ksoftirqd.
func (k *Kernel) handleSoftirqs(c *emu.Context, ksirqd bool) {
	h, s := k.cpu(c), k.softirqCPU(c.CPU)
	end := k.M.Now() + maxSoftirqTime
	h.Softirq++
	irqsOff := h.IRQsOff
	for restart := maxSoftirqRestart; ; {
		pending := s.pending
		s.pending = 0
		h.IRQsOff = false // the handlers run with interrupts enabled
		for nr := 0; pending != 0; nr++ {
			if pending&(1<<nr) == 0 {
				continue
			}
			pending &^= 1 << nr
			if k.M.Recording() {
				k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvSoftirqEntry, Vector: nr})
			}
			if k.sirq.vec != nil {
				k.call(c, k.sirq.vec[nr], nil)
			}
			if k.M.Recording() {
				k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvSoftirqExit, Vector: nr})
			}
		}
		h.IRQsOff = true
		if s.pending == 0 {
			break
		}
		restart--
		if k.M.Now() >= end || h.NeedResched || restart == 0 {
			if !ksirqd {
				k.wakeupSoftirqd(c.CPU)
			}
			break
		}
	}
	h.IRQsOff = irqsOff
	h.Softirq--
}

// wakeupSoftirqd is wakeup_softirqd(): make ksoftirqd/cpu runnable. The
// model starts a thread for each wake-up (a new pid each time) where the
// kernel wakes one long-lived kthread.
func (k *Kernel) wakeupSoftirqd(cpu int) {
	s := k.softirqCPU(cpu)
	if s.ksoftirqd != nil {
		return
	}
	s.ksoftirqd = k.M.SpawnKind(emu.KindTask, cpu, fmt.Sprintf("ksoftirqd/%d", cpu), k.runKsoftirqd, false)
}

// runKsoftirqd is ksoftirqd/N's work (smpboot's thread loop around
// run_ksoftirqd()): with interrupts off, handle what is pending, until
// nothing is.
func (k *Kernel) runKsoftirqd(c *emu.Context) {
	s := k.softirqCPU(c.CPU)
	for s.pending != 0 {
		flags := k.LocalIRQSave(c)
		k.handleSoftirqs(c, true)
		k.LocalIRQRestore(c, flags)
	}
	s.ksoftirqd = nil
}

// doSoftirq is do_softirq() from task context: run what is pending now,
// unless in an interrupt or ksoftirqd is runnable.
func (k *Kernel) doSoftirq(c *emu.Context) {
	s := k.softirqCPU(c.CPU)
	if k.inInterrupt(c) || s.pending == 0 || (s.ksoftirqd != nil && s.pending&softirqNowMask == 0) {
		return
	}
	flags := k.LocalIRQSave(c)
	k.handleSoftirqs(c, false)
	k.LocalIRQRestore(c, flags)
}

// InSoftirq is in_serving_softirq(): c runs in softirq processing.
func (k *Kernel) InSoftirq(c *emu.Context) bool { return k.cpu(c).Softirq > 0 && k.cpu(c).Hardirq == 0 }

// InHardirq is in_hardirq(): c runs in a hard interrupt handler (softirq
// processing at its exit is not).
func (k *Kernel) InHardirq(c *emu.Context) bool { return k.cpu(c).Hardirq > 0 }

// softirqAfterIdleFlush ends the idle loop's flush of the call queue
// (kernel/smp.c: flush_smp_call_function_from_idle(), later
// flush_smp_call_function_queue() with do_softirq_post_smp_call_flush()).
// The flush runs in the idle task, not in an interrupt, so no irq_exit()
// follows it: a callback that raised a softirq with
// __raise_softirq_irqoff() (as blk-mq's remote completion does) left it
// pending. f9d34595ae4f runs it here (do_softirq()). Without that fix,
// if nothing else is runnable, the CPU goes back to idle with the softirq
// pending, and the NOHZ code, trying to stop the tick on the way in
// (kernel/time/tick-sched.c: can_stop_idle_tick(), report_idle_softirq()
// since 0345691b24c0), reports it, at most 10 times per boot; the
// softirq then waits for the CPU's next interrupt.
func (k *Kernel) softirqAfterIdleFlush(c *emu.Context) {
	pending := k.SoftirqPending(c.CPU)
	if pending == 0 {
		return
	}
	if k.Fix(FixSoftirqAfterIdleFlush) {
		k.doSoftirq(c)
		return
	}
	if k.M.CPU(c.CPU).RunQueue() != 0 || k.sirq.nohzReports >= 10 {
		return
	}
	k.sirq.nohzReports++
	k.printk(c.CPU, fmt.Sprintf("NOHZ tick-stop error: local softirq work is pending, handler #%02x!!!", pending))
}
