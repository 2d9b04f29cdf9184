// This file mirrors kernel/stop_machine.c's multi_cpu_stop(): every online
// CPU's stopper thread steps through PREPARE, DISABLE_IRQ, RUN and EXIT
// together; a state advances only when every stopper has acknowledged it.
// A CPU whose current task has preemption or interrupts disabled cannot
// run its stopper, so it holds everyone in the previous state.

package xcall

import (
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
)

// multiStopState is kernel/stop_machine.c's enum multi_stop_state; the
// stoppers go through the states in this order.
type multiStopState int

const (
	msNone       multiStopState = iota // MULTI_STOP_NONE
	msPrepare                          // MULTI_STOP_PREPARE
	msDisableIRQ                       // MULTI_STOP_DISABLE_IRQ
	msRun                              // MULTI_STOP_RUN
	msExit                             // MULTI_STOP_EXIT
)

var multiStopNames = [...]string{
	msNone:       "NONE",
	msPrepare:    "PREPARE",
	msDisableIRQ: "DISABLE_IRQ",
	msRun:        "RUN",
	msExit:       "EXIT",
}

// String is the state's name without MULTI_STOP_ ("DISABLE_IRQ"), as
// the stop_machine points and wait descriptions spell it.
func (s multiStopState) String() string {
	if s < 0 || int(s) >= len(multiStopNames) {
		return fmt.Sprintf("multiStopState(%d)", int(s))
	}
	return multiStopNames[s]
}

// multiStop is struct multi_stop_data: shared by the stoppers of one
// stop_machine call. Written by the stoppers (ack, state) under the
// model's one-context-at-a-time rule.
type multiStop struct {
	state    multiStopState
	threads  int // stoppers taking part
	ack      int // stoppers yet to acknowledge state
	target   int // the CPU that runs fn in RUN
	fn       func(c *emu.Context)
	changed  emu.WaitQueue // stoppers spinning for the next state
	finished int
	done     emu.WaitQueue // the caller of stop_machine
}

// stopMachine is stop_machine_cpuslocked(fn, cpumask_of(target)): fn runs on
// target with every online CPU stopped and interrupts off everywhere. The
// caller sleeps until all stoppers have left.
func (k *Kernel) stopMachine(c *emu.Context, target int, fn func(c *emu.Context)) {
	cpus := k.online.CPUs()
	ms := &multiStop{state: msPrepare, threads: len(cpus), ack: len(cpus), target: target, fn: fn}
	k.recStopState(c, ms)
	for _, cpu := range cpus {
		k.M.SpawnKind(emu.KindStopper, cpu, fmt.Sprintf("migration/%d", cpu), func(s *emu.Context) {
			k.multiCPUStop(s, ms)
		}, true)
	}
	for ms.finished < ms.threads {
		c.Block(&ms.done, emu.WaitInfo{What: "waits for stop_machine", Owner: -1})
	}
}

// multiCPUStop is one stopper's walk through the states.
func (k *Kernel) multiCPUStop(c *emu.Context, ms *multiStop) {
	Enter(c, "multi_cpu_stop+0x9e/0x130")
	defer Leave(c)
	saved := k.IRQsDisabled(c)
	cur := msNone
	for cur != msExit {
		if ms.state == cur {
			c.Spin(&ms.changed, -1, emu.WaitInfo{What: "waits in multi_cpu_stop " + cur.String() + " for other CPUs", Owner: -1})
			continue
		}
		cur = ms.state
		k.point(c, "stop_machine:"+cur.String())
		switch cur {
		case msDisableIRQ:
			k.LocalIRQSave(c)
		case msRun:
			if c.CPU == ms.target {
				ms.fn(c)
			}
		}
		// ack_state: the last stopper to acknowledge moves everyone on.
		ms.ack--
		if ms.ack == 0 {
			ms.ack = ms.threads
			ms.state++
			k.recStopState(c, ms)
			ms.changed.Wake(k.M, k.T.WakeLatency)
		}
	}
	k.LocalIRQRestore(c, saved)
	ms.finished++
	ms.done.Wake(k.M, k.T.WakeLatency)
	if c.CPU == ms.target && !k.online.Test(c.CPU) {
		// The outgoing CPU goes idle and its idle loop, finding the CPU
		// offline, reports it dead (do_idle).
		k.reportIdleDead(c.CPU)
	}
}

// recStopState records the shared state's change to ms.state
// (set_state(): PREPARE on the caller, each later one on the stopper that
// acknowledged last), as EvStopMachine.
func (k *Kernel) recStopState(c *emu.Context, ms *multiStop) {
	if ms.state <= msExit && k.M.Recording() { // past EXIT: the stoppers are leaving, no state is set
		k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvStopMachine, State: int(ms.state), StateName: ms.state.String()})
	}
}
