package xcall

import (
	"fmt"
	"strings"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/irqchip"
)

// csdSpin is a csd_lock_wait() spin in progress: context c spins on csd
// number id, which was queued on CPU on when the spin began.
type csdSpin struct {
	c      *emu.Context
	id, on int
}

// spinOnCSD is one spin of csd_lock_wait(): c keeps its CPU until the
// csd's lock holder wakes it or deadline passes (-1: none). The spin is
// recorded on c's CPU for the whole wait, innermost last (a handler that
// interrupted a spinning task may spin too), so that Stuck can tell who
// waits on which queue.
func (k *Kernel) spinOnCSD(c *emu.Context, csd *CSD, deadline int64) {
	if k.csdSpins == nil {
		k.csdSpins = make([][]csdSpin, k.nr)
	}
	k.csdSpins[c.CPU] = append(k.csdSpins[c.CPU], csdSpin{c, csd.ID, csd.on})
	c.Spin(&csd.waiters, deadline, emu.WaitInfo{What: "spins on csd", Num: csd.ID, Owner: csd.on})
	s := k.csdSpins[c.CPU]
	k.csdSpins[c.CPU] = s[:len(s)-1]
}

// spinningOn returns the csd spin that CPU cpu's running context is
// waiting in, if that is what it waits for.
func (k *Kernel) spinningOn(cpu int) (csdSpin, bool) {
	if k.csdSpins == nil || len(k.csdSpins[cpu]) == 0 {
		return csdSpin{}, false
	}
	s := k.csdSpins[cpu]
	sp := s[len(s)-1]
	if t := k.M.CPU(cpu).Top(); t != sp.c || !t.Waiting() {
		return csdSpin{}, false
	}
	return sp, true
}

// Stuck is emu's stuck detection (no event left while contexts wait, or a
// cycle of busy waiters with interrupts off) plus what only the kernel
// layer can see: work queued on a CPU that nothing will ever drain. That
// happens when a CPU's call_single_queue is not empty, yet the CPU
//
//   - is idle (or dead) with no call-function IPI pending, and
//   - will get no new IPI: later senders find the queue non-empty and send
//     none, and no CSD-lock report will re-send one (csdlock_debug off, no
//     timeout, or the re-send fix switched off),
//
// while a CPU waits on one of those csds. CSD-lock reports keep firing
// then, so emu alone sees a machine that is still "running".
func (k *Kernel) Stuck() string {
	if st := k.M.Stuck(); st != "" {
		return st
	}
	if stopped, _ := k.M.Stopped(); stopped {
		return ""
	}
	resend := k.CSDLockDebug && k.CSDLockTimeout > 0 && k.Fix(FixCSDResendIPI)
	var parts []string
	for cpu := 0; cpu < k.nr; cpu++ {
		p := &k.pc[cpu]
		if p.qlen == 0 {
			continue
		}
		c := k.M.CPU(cpu)
		dead := c.Parked
		if !dead && (!c.Idle() || k.callPending(cpu) || c.InFlight() > 0 || resend) {
			continue
		}
		// Who waits on a csd queued here?
		var waiters []string
		for w := 0; w < k.nr; w++ {
			sp, ok := k.spinningOn(w)
			if !ok || sp.on != cpu {
				continue
			}
			waiters = append(waiters, fmt.Sprintf("CPU%d spins on csd #%d queued on CPU%d", w, sp.id, cpu))
		}
		if len(waiters) == 0 {
			continue
		}
		why := "is idle with no IPI pending, and no one will send one"
		if dead {
			why = "is offline and will not run its queue"
		}
		parts = append(parts, strings.Join(waiters, "; ")+fmt.Sprintf("; CPU%d %s (%d csd queued)", cpu, why, p.qlen))
	}
	return strings.Join(parts, "; ")
}

// callPending reports whether cpu has a call-function IPI pending.
func (k *Kernel) callPending(cpu int) bool {
	for _, v := range k.M.CPU(cpu).PendingVectors() {
		if k.Spec.IsX86() && (v == irqchip.CallFunctionSingleVector || v == irqchip.CallFunctionVector) || !k.Spec.IsX86() && v == irqchip.IPICallFunc {
			return true
		}
	}
	return false
}
