package xcall

import (
	"fmt"
	"strings"
)

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
		if !dead && (!c.Idle() || k.callPending(cpu) || resend) {
			continue
		}
		// Who waits on a csd queued here?
		var waiters []string
		for w := 0; w < k.nr; w++ {
			t := k.M.CPU(w).Top()
			if t == nil || !t.Waiting() || t.Wait.Owner != cpu || t.Wait.What != "spins on csd" {
				continue
			}
			waiters = append(waiters, fmt.Sprintf("CPU%d spins on csd #%d queued on CPU%d", w, t.Wait.Num, cpu))
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
		if k.x86() && (v == vecCallFunctionSingle || v == vecCallFunction) || !k.x86() && v == ipiCallFunc {
			return true
		}
	}
	return false
}
