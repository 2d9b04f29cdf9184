// This file mirrors the parts of kernel/cpu.c that move a CPU between
// offline and online (docs/kernel.md#cpu-hotplug): the cpuhp state walk with its
// PREPARE section (on the control CPU), its STARTING/DYING section (on the
// CPU itself, interrupts off, inside stop_machine when going down), and
// the smpcfd callbacks of kernel/smp.c.
//
// State numbers are the model's own (the kernel's enum values depend on
// the configuration); names and order follow the kernel's cpuhp_hp_states.

package xcall

import (
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
)

// cpuhpState is one step of the walk.
type cpuhpState struct {
	name string
	// ap: the callback runs on the CPU itself with interrupts off
	// (STARTING/DYING section).
	ap       bool
	startup  func(k *Kernel, c *emu.Context, cpu int) int
	teardown func(k *Kernel, c *emu.Context, cpu int) int
}

// State numbers used by the code.
const (
	cpuhpOffline      = 0
	cpuhpSMPCFDPrep   = 5
	cpuhpBringupCPU   = 7
	cpuhpAPIdleDead   = 8
	cpuhpAPOffline    = 9
	cpuhpAPOnline     = 15
	cpuhpTeardownCPU  = 16
	cpuhpAPOnlineIdle = 17
	cpuhpOnline       = 21
)

// cpuhpStates is the walk, in bring-up order.
var cpuhpStates = []cpuhpState{
	{name: "offline"},
	{name: "threads:prepare"},
	{name: "workqueue:prepare"},
	{name: "hrtimers:prepare"},
	{name: "RCU/tree:prepare"},
	{name: "smpcfd:prepare", startup: smpcfdPrepareCPU, teardown: smpcfdDeadCPU},
	{name: "mm/vmstat:dead"},
	{name: "cpu:bringup"},
	{name: "idle:dead", ap: true},
	{name: "ap:offline", ap: true},
	{name: "sched:starting", ap: true, teardown: schedCPUDying},
	{name: "RCU/tree:dying", ap: true},
	{name: "smpcfd:dying", ap: true, teardown: smpcfdDyingCPU},
	{name: "hrtimers:dying", ap: true},
	{name: "tick:dying", ap: true},
	{name: "ap:online", ap: true},
	{name: "cpu:teardown"},
	{name: "ap:online-idle"},
	{name: "smpboot/threads:online"},
	{name: "workqueue:online"},
	{name: "sched:active", startup: schedCPUActivate, teardown: schedCPUDeactivate},
	{name: "online"},
}

// smpcfdPrepareCPU allocates the CPU's cfd data (lazily in the model: the
// csd array appears on the first many-call); a fault injected here fails
// with -ENOMEM and rolls the bring-up back.
func smpcfdPrepareCPU(k *Kernel, c *emu.Context, cpu int) int { return 0 }

// smpcfdDeadCPU frees the CPU's cfd masks and csd array (mainline).
func smpcfdDeadCPU(k *Kernel, c *emu.Context, cpu int) int {
	p := &k.pc[cpu]
	p.cfdCSD, p.cfdMask, p.cfdIPI = nil, Cpumask{}, Cpumask{}
	return 0
}

// smpcfdDyingCPU runs everything already queued for the dying CPU, without
// the offline warning: late IPIs then find an empty queue. Before
// 8d056c48e486 there was no such flush.
func smpcfdDyingCPU(k *Kernel, c *emu.Context, cpu int) int {
	if !k.Fix(FixDyingFlush) {
		return 0
	}
	Enter(c, "smpcfd_dying_cpu+0x1c/0x30")
	k.flushCallFunctionQueue(c, false)
	Leave(c)
	return 0
}

// schedCPUDying moves the dying CPU's tasks to an online CPU.
func schedCPUDying(k *Kernel, c *emu.Context, cpu int) int {
	to := k.online.Next(0)
	if to < 0 {
		return 0
	}
	k.M.Migrate(cpu, to, func(t *emu.Context) bool { return t == c })
	return 0
}

func schedCPUActivate(k *Kernel, c *emu.Context, cpu int) int   { k.active.Set(cpu); return 0 }
func schedCPUDeactivate(k *Kernel, c *emu.Context, cpu int) int { k.active.Clear(cpu); return 0 }

// CPUHPFail makes the next bring-up of cpu fail at the named state's
// startup callback with -errno; false if no such state has a callback.
func (k *Kernel) CPUHPFail(cpu int, state string, errno int) bool {
	for _, st := range cpuhpStates {
		if st.name == state && st.startup != nil {
			k.hpFaults = append(k.hpFaults, hpFault{cpu, state, errno})
			return true
		}
	}
	return false
}

// PendingCPUHPFails is how many CPUHPFail failures are still to happen.
func (k *Kernel) PendingCPUHPFails() int { return len(k.hpFaults) }

type hpFault struct {
	cpu   int
	state string
	errno int
}

// takeFault consumes an injected failure for (cpu, state).
func (k *Kernel) takeFault(cpu int, state string) int {
	for i, f := range k.hpFaults {
		if f.cpu == cpu && f.state == state {
			k.hpFaults = append(k.hpFaults[:i], k.hpFaults[i+1:]...)
			return -f.errno
		}
	}
	return 0
}

// invoke runs one state's callback in direction up (startup) or down
// (teardown), at the cost of one hotplug step, after the point.
func (k *Kernel) invoke(c *emu.Context, cpu, state int, up bool) int {
	st := &cpuhpStates[state]
	k.hpState[cpu] = int8(state)
	if c != nil {
		k.pointFor(c, "cpuhp:"+st.name, cpu)
		k.spend(c, k.T.HotplugStep, "cpuhp "+st.name)
	}
	cb := st.teardown
	if up {
		cb = st.startup
	}
	ret := 0
	if up {
		ret = k.takeFault(cpu, st.name)
	}
	if ret == 0 && cb != nil {
		ret = cb(k, c, cpu)
	}
	if ret != 0 {
		dir := "DOWN"
		if up {
			dir = "UP"
		}
		pcpu := 0
		if c != nil {
			pcpu = c.CPU
		}
		k.printk(pcpu, fmt.Sprintf("CPU %d %s state %s (%d) failed (%d)", cpu, dir, st.name, state, ret))
	}
	return ret
}

// CPUDown is cpu_down(cpu) from task c: the whole take-down walk. 0, or
// -EINVAL (no such CPU), -EBUSY (the last online CPU), -EPERM (CPU 0 on
// x86, which cannot be hot-unplugged).
func (k *Kernel) CPUDown(c *emu.Context, cpu int) int {
	switch {
	case cpu < 0 || cpu >= k.nr:
		return -EINVAL
	case cpu == 0 && k.x86():
		return -EPERM
	}
	k.hotplugLock(c)
	defer k.hotplugUnlock()
	if !k.online.Test(cpu) {
		return 0
	}
	if k.nOnline == 1 {
		return -EBUSY
	}
	Enter(c, "_cpu_down+0x10b/0x2a0")
	defer Leave(c)
	for s := cpuhpOnline; s > cpuhpTeardownCPU; s-- {
		k.invoke(c, cpu, s, false)
	}
	k.invoke(c, cpu, cpuhpTeardownCPU, false)
	k.stopMachine(c, cpu, func(x *emu.Context) { k.takeCPUDown(x, cpu) })
	// The control CPU waits for the CPU to report itself dead, then runs
	// the PREPARE-section teardowns.
	for s := cpuhpBringupCPU; s > cpuhpOffline; s-- {
		k.invoke(c, cpu, s, false)
	}
	k.hpState[cpu] = cpuhpOffline
	return 0
}

// takeCPUDown is take_cpu_down() on the dying CPU, in stop_machine's RUN
// state with interrupts off: leave cpu_online_mask, then the DYING
// teardowns down to CPUHP_AP_OFFLINE.
func (k *Kernel) takeCPUDown(c *emu.Context, cpu int) {
	Enter(c, "take_cpu_down+0x37/0xa0")
	defer Leave(c)
	k.online.Clear(cpu)
	k.nOnline--
	k.point(c, "take_cpu_down:offline")
	for s := cpuhpAPOnline; s >= cpuhpAPOffline; s-- {
		k.invoke(c, cpu, s, false)
	}
	k.hpState[cpu] = cpuhpAPOffline
}

// CPUUp is cpu_up(cpu) from task c: the bring-up walk. 0, -EINVAL, or the
// error of a failed state (the walk is rolled back).
func (k *Kernel) CPUUp(c *emu.Context, cpu int) int {
	if cpu < 0 || cpu >= k.nr {
		return -EINVAL
	}
	k.hotplugLock(c)
	defer k.hotplugUnlock()
	if k.online.Test(cpu) {
		return 0
	}
	Enter(c, "_cpu_up+0xf7/0x250")
	defer Leave(c)
	return k.bringUp(c, cpu)
}

// bringUp walks cpu from offline to online; c is nil at boot (no time, no
// points).
func (k *Kernel) bringUp(c *emu.Context, cpu int) int {
	for s := cpuhpOffline + 1; s <= cpuhpOnline; s++ {
		if s == cpuhpTeardownCPU {
			continue // no startup callback
		}
		if s == cpuhpBringupCPU {
			// bringup_cpu: kick the AP; it runs its STARTING states with
			// interrupts off, marks itself online and goes idle.
			cpuh := k.M.CPU(cpu)
			cpuh.ClearPending()
			cpuh.IRQsOff = false // start_secondary enables interrupts once online
			k.invoke(c, cpu, s, true)
			for a := cpuhpAPIdleDead; a <= cpuhpAPOnline; a++ {
				k.invoke(c, cpu, a, true)
			}
			k.online.Set(cpu)
			k.nOnline++
			if !k.booted.Test(cpu) {
				k.booted.Set(cpu)
				if c != nil {
					k.updateShorthand()
				}
			}
			if c == nil {
				cpuh.Parked = false // at boot: nothing to look at yet
			} else if cpuh.Parked {
				k.M.Unpark(cpu)
			}
			s = cpuhpAPOnline // the AP ran its states itself
			continue
		}
		if ret := k.invoke(c, cpu, s, true); ret != 0 {
			// Roll back what was brought up, in teardown order.
			for r := s - 1; r > cpuhpOffline; r-- {
				k.invoke(c, cpu, r, false)
			}
			k.hpState[cpu] = cpuhpOffline
			return ret
		}
	}
	k.hpState[cpu] = cpuhpOnline
	return 0
}

// hotplugLock serializes hotplug operations (cpu_maps_update_begin).
func (k *Kernel) hotplugLock(c *emu.Context) {
	for k.hpBusy {
		c.Block(&k.hpWait, emu.WaitInfo{What: "waits for cpu_hotplug_lock", Owner: -1})
	}
	k.hpBusy = true
}

func (k *Kernel) hotplugUnlock() {
	k.hpBusy = false
	k.hpWait.Wake(k.M, 0)
}

// InjectCSD queues an ASYNC csd running f(info) on cpu's call_single_queue
// from "some other path" (fault injection, like a direct
// __smp_call_single_queue user that does not check cpu_online), and, if the
// queue was empty, makes the call-function IPI pending on cpu an IPI latency
// later. It works on any CPU, online or not.
func (k *Kernel) InjectCSD(cpu int, f *Func, info any) *CSD {
	csd := k.NewCSD(f, info)
	csd.flags = CSDFlagLock
	csd.dst, csd.on = cpu, cpu
	p := &k.pc[cpu]
	first := p.queue == nil
	csd.next = p.queue
	p.queue = csd
	p.qlen++
	k.emit(EvLock, csd, -1, -1)
	k.emit(EvQueue, csd, -1, cpu)
	if first {
		vec := vecCallFunctionSingle
		if !k.x86() {
			vec = ipiCallFunc
		}
		k.Stats.IPIs++
		k.M.RaiseIRQ(cpu, vec, k.M.Now()+k.T.IPILatency)
	}
	return csd
}
