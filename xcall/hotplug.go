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
	"github.com/xcallsh/xcallsh/irqchip"
)

// cpuhpState is a step of the walk: include/linux/cpuhotplug.h's enum
// cpuhp_state, reduced to the states the model has. The constants are in
// the kernel's order, so bring-up walks them upwards and teardown downwards;
// their values are the model's own (the kernel's depend on the
// configuration), and a state inserted here renumbers the ones after it
// everywhere at once.
type cpuhpState int8

const (
	cpuhpOffline           cpuhpState = iota // CPUHP_OFFLINE
	cpuhpCreateThreads                       // CPUHP_CREATE_THREADS
	cpuhpMMVmstatDead                        // CPUHP_MM_VMSTAT_DEAD
	cpuhpWorkqueuePrep                       // CPUHP_WORKQUEUE_PREP
	cpuhpHrtimersPrepare                     // CPUHP_HRTIMERS_PREPARE
	cpuhpSMPCFDPrepare                       // CPUHP_SMPCFD_PREPARE
	cpuhpRCUTreePrep                         // CPUHP_RCUTREE_PREP
	cpuhpBPKickAP                            // CPUHP_BP_KICK_AP
	cpuhpBringupCPU                          // CPUHP_BRINGUP_CPU
	cpuhpAPIdleDead                          // CPUHP_AP_IDLE_DEAD
	cpuhpAPOffline                           // CPUHP_AP_OFFLINE
	cpuhpAPSchedStarting                     // CPUHP_AP_SCHED_STARTING
	cpuhpAPRCUTreeDying                      // CPUHP_AP_RCUTREE_DYING
	cpuhpAPSMPCFDDying                       // CPUHP_AP_SMPCFD_DYING
	cpuhpAPHrtimersDying                     // CPUHP_AP_HRTIMERS_DYING
	cpuhpAPTickDying                         // CPUHP_AP_TICK_DYING
	cpuhpAPOnline                            // CPUHP_AP_ONLINE
	cpuhpTeardownCPU                         // CPUHP_TEARDOWN_CPU
	cpuhpAPOnlineIdle                        // CPUHP_AP_ONLINE_IDLE
	cpuhpAPSmpbootThreads                    // CPUHP_AP_SMPBOOT_THREADS
	cpuhpAPWorkqueueOnline                   // CPUHP_AP_WORKQUEUE_ONLINE
	cpuhpAPActive                            // CPUHP_AP_ACTIVE
	cpuhpOnline                              // CPUHP_ONLINE
)

// cpuhpStep is what kernel/cpu.c's cpuhp_hp_states[] holds for a state.
type cpuhpStep struct {
	name string
	// ap: the callback runs on the CPU itself with interrupts off
	// (STARTING/DYING section).
	ap       bool
	startup  func(k *Kernel, c *emu.Context, cpu int) int
	teardown func(k *Kernel, c *emu.Context, cpu int) int
	// The kernel's callbacks for the state, whether or not the model
	// runs one: cpuhp_enter and cpuhp_exit are traced only around a
	// callback the kernel has ("": none in that direction). upFnX86, if
	// set, is x86's startup callback instead (x86_64 selects
	// HOTPLUG_PARALLEL, hence HOTPLUG_SPLIT_STARTUP: kernel/cpu.c then
	// has cpu:kick_ap and a split cpu:bringup; arm64 does not).
	upFn, downFn string
	upFnX86      string
}

// cpuhpSteps is cpuhp_hp_states[], indexed by state: the names are the
// kernel's, the callbacks those the model has.
var cpuhpSteps = [...]cpuhpStep{
	cpuhpOffline:           {name: "offline"},
	cpuhpCreateThreads:     {name: "threads:prepare", upFn: "smpboot_create_threads"},
	cpuhpMMVmstatDead:      {name: "mm/vmstat:dead", downFn: "vmstat_cpu_dead"},
	cpuhpWorkqueuePrep:     {name: "workqueue:prepare", upFn: "workqueue_prepare_cpu"},
	cpuhpHrtimersPrepare:   {name: "hrtimers:prepare", upFn: "hrtimers_prepare_cpu"},
	cpuhpSMPCFDPrepare:     {name: "smpcfd:prepare", startup: smpcfdPrepareCPU, teardown: smpcfdDeadCPU, upFn: "smpcfd_prepare_cpu", downFn: "smpcfd_dead_cpu"},
	cpuhpRCUTreePrep:       {name: "RCU/tree:prepare", upFn: "rcutree_prepare_cpu", downFn: "rcutree_dead_cpu"},
	cpuhpBPKickAP:          {name: "cpu:kick_ap", upFnX86: "cpuhp_kick_ap_alive"},
	cpuhpBringupCPU:        {name: "cpu:bringup", upFn: "bringup_cpu", upFnX86: "cpuhp_bringup_ap", downFn: "finish_cpu"},
	cpuhpAPIdleDead:        {name: "idle:dead", ap: true},
	cpuhpAPOffline:         {name: "ap:offline", ap: true},
	cpuhpAPSchedStarting:   {name: "sched:starting", ap: true, teardown: schedCPUDying, upFn: "sched_cpu_starting", downFn: "sched_cpu_dying"},
	cpuhpAPRCUTreeDying:    {name: "RCU/tree:dying", ap: true, downFn: "rcutree_dying_cpu"},
	cpuhpAPSMPCFDDying:     {name: "smpcfd:dying", ap: true, teardown: smpcfdDyingCPU, downFn: "smpcfd_dying_cpu"},
	cpuhpAPHrtimersDying:   {name: "hrtimers:dying", ap: true, upFn: "hrtimers_cpu_starting", downFn: "hrtimers_cpu_dying"},
	cpuhpAPTickDying:       {name: "tick:dying", ap: true, downFn: "tick_cpu_dying"},
	cpuhpAPOnline:          {name: "ap:online", ap: true},
	cpuhpTeardownCPU:       {name: "cpu:teardown", downFn: "takedown_cpu"}, // teardown: takedownCPU (init)
	cpuhpAPOnlineIdle:      {name: "ap:online-idle"},
	cpuhpAPSmpbootThreads:  {name: "smpboot/threads:online", upFn: "smpboot_unpark_threads", downFn: "smpboot_park_threads"},
	cpuhpAPWorkqueueOnline: {name: "workqueue:online", upFn: "workqueue_online_cpu", downFn: "workqueue_offline_cpu"},
	cpuhpAPActive:          {name: "sched:active", startup: schedCPUActivate, teardown: schedCPUDeactivate, upFn: "sched_cpu_activate", downFn: "sched_cpu_deactivate"},
	cpuhpOnline:            {name: "online"},
}

// takedownCPU walks the teardown states itself (take_cpu_down): it is set
// here rather than in the table, which it refers to.
func init() { cpuhpSteps[cpuhpTeardownCPU].teardown = takedownCPU }

// step is the state's entry in cpuhpSteps.
func (s cpuhpState) step() *cpuhpStep { return &cpuhpSteps[s] }

// String is the state's name in cpuhp_hp_states[] ("smpcfd:dying").
func (s cpuhpState) String() string {
	if s < 0 || int(s) >= len(cpuhpSteps) {
		return fmt.Sprintf("cpuhpState(%d)", int(s))
	}
	return cpuhpSteps[s].name
}

// cpuhpStateNamed returns the state called name.
func cpuhpStateNamed(name string) (cpuhpState, bool) {
	for s := range cpuhpSteps {
		if cpuhpSteps[s].name == name {
			return cpuhpState(s), true
		}
	}
	return 0, false
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
	s, ok := cpuhpStateNamed(state)
	if !ok || (s.step().startup == nil && s != cpuhpBringupCPU) { // bringup_cpu fails in do_boot_cpu
		return false
	}
	k.hpFaults = append(k.hpFaults, hpFault{cpu, s, errno})
	return true
}

// PendingCPUHPFails is how many CPUHPFail failures are still to happen.
func (k *Kernel) PendingCPUHPFails() int { return len(k.hpFaults) }

type hpFault struct {
	cpu   int
	state cpuhpState
	errno int
}

// takeFault consumes an injected failure for (cpu, state).
func (k *Kernel) takeFault(cpu int, state cpuhpState) int {
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
func (k *Kernel) invoke(c *emu.Context, cpu int, state cpuhpState, up bool) int {
	st := state.step()
	k.hpState[cpu] = state
	if c != nil {
		k.pointFor(c, "cpuhp:"+st.name, cpu)
		k.spend(c, k.T.HotplugStep, "cpuhp "+st.name)
	}
	cb := st.teardown
	if up {
		cb = st.startup
	}
	fn := st.downFn
	dest := cpuhpOffline
	if up {
		fn, dest = st.upFn, cpuhpOnline
		if st.upFnX86 != "" && k.Spec.IsX86() {
			fn = st.upFnX86
		}
	}
	on := 0 // the CPU the callback runs on: the CPU itself for the AP states, else the control CPU
	if st.ap {
		on = cpu
	} else if c != nil {
		on = c.CPU
	}
	rec := fn != "" && k.M.Recording()
	if rec {
		k.M.Emit(on, &emu.Event{Kind: emu.EvCpuhpEnter, Target: cpu, State: int(state), StateName: st.name, Fn: fn, Dest: int(dest)})
	}
	ret := 0
	if up {
		ret = k.takeFault(cpu, state)
		if ret != 0 && state == cpuhpBringupCPU {
			k.doBootCPUFailed(c, cpu, ret) // x2apic_cluster.go
		}
	}
	if ret == 0 && cb != nil {
		ret = cb(k, c, cpu)
	}
	if rec {
		k.M.Emit(on, &emu.Event{Kind: emu.EvCpuhpExit, Target: cpu, State: int(state), StateName: st.name, Idx: int(state), Ret: ret})
	}
	if ret != 0 && st.ap {
		// Only the STARTING/DYING walks (notify_cpu_starting,
		// take_cpu_down: cpuhp_invoke_callback_range_nofail) warn; a
		// failed PREPARE or ONLINE state is only pr_debug'd by
		// cpuhp_up_callbacks() and rolled back, silently by default.
		dir := "DOWN"
		if up {
			dir = "UP"
		}
		k.printk(on, fmt.Sprintf("CPU %d %s state %s (%d) failed (%d)", cpu, dir, state, int(state), ret))
	}
	if ret == 0 && c != nil {
		k.hotplugMessage(c, on, cpu, state, up)
	}
	return ret
}

// midrNeoverseN1 is the MIDR_EL1 the arm64 machines report (read_cpuid_id):
// Arm (0x41), variant 3, architecture 0xf, part 0xd0c (Neoverse N1),
// revision 1: Neoverse N1 r3p1, as in AWS Graviton2.
const midrNeoverseN1 = 0x413fd0c1

// hotplugMessage prints what the kernel logs when state's callback has run
// at run time (boot prints none of these in the model: its log is the
// summary of docs/kernel.md#log-formats).
//   - x86, cpu:kick_ap: cpuhp_kick_ap_alive → do_boot_cpu → announce_cpu()
//     on the control CPU, "smpboot: Booting Node %d Processor %d APIC 0x%x".
//   - arm64, ap:online (the end of the STARTING walk): secondary_start_kernel()
//     on the CPU itself, before it marks itself online,
//     "CPU%u: Booted secondary processor 0x%010lx [0x%08x]" (MPIDR, MIDR).
//   - cpu:teardown, going down: arch_cpuhp_cleanup_dead_cpu() on the control
//     CPU once the CPU is dead: x86 "smpboot: CPU %u is now offline"; arm64
//     op_cpu_kill() → cpu_psci_cpu_kill(), "psci: CPU%d killed (polled %d ms)"
//     (its "CPU%u: shutdown" is pr_debug, not printed by default).
func (k *Kernel) hotplugMessage(c *emu.Context, on, cpu int, state cpuhpState, up bool) {
	x86 := k.Spec.IsX86()
	switch {
	case up && x86 && state == cpuhpBPKickAP:
		apicid := uint32(cpu)
		if a, ok := k.Chip.(interface{ APICID(int) uint32 }); ok {
			apicid = a.APICID(cpu)
		}
		k.printk(on, fmt.Sprintf("smpboot: Booting Node %d Processor %d APIC 0x%x", k.Node(cpu), cpu, apicid))
	case up && !x86 && state == cpuhpAPOnline:
		mpidr := uint64(cpu)
		if g, ok := k.Chip.(interface{ MPIDR(int) uint64 }); ok {
			mpidr = g.MPIDR(cpu)
		}
		k.printk(cpu, fmt.Sprintf("CPU%d: Booted secondary processor 0x%010x [0x%08x]", cpu, mpidr, midrNeoverseN1))
	case !up && state == cpuhpTeardownCPU:
		if x86 {
			k.printk(on, fmt.Sprintf("smpboot: CPU %d is now offline", cpu))
		} else {
			k.printk(on, fmt.Sprintf("psci: CPU%d killed (polled 0 ms)", cpu))
		}
	}
}

// CPUDown is cpu_down(cpu) from task c: the whole take-down walk. 0, or
// -EINVAL (no such CPU), -EBUSY (the last online CPU), -EPERM (CPU 0 on
// x86, which cannot be hot-unplugged).
func (k *Kernel) CPUDown(c *emu.Context, cpu int) int {
	switch {
	case cpu < 0 || cpu >= k.nr:
		return -EINVAL
	case cpu == 0 && k.Spec.IsX86():
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
	// The CPU is dead: the PREPARE-section teardowns.
	for s := cpuhpBringupCPU; s > cpuhpOffline; s-- {
		if s == cpuhpHrtimersPrepare {
			k.x2apicDeadCPU(c, cpu) // CPUHP_X2APIC_PREPARE (x2apic_cluster.go)
		}
		k.invoke(c, cpu, s, false)
	}
	k.hpState[cpu] = cpuhpOffline
	return 0
}

// takedownCPU is takedown_cpu(), the teardown of CPUHP_TEARDOWN_CPU on
// the control CPU: take_cpu_down() under stop_machine, then wait until the
// dying CPU's idle task has reported it dead (wait_for_ap_thread: the
// completion cpuhp_complete_idle_dead() signals), then __cpu_die() and the
// arch's clean-up of the dead CPU.
func takedownCPU(k *Kernel, c *emu.Context, cpu int) int {
	k.apDead = false
	k.stopMachine(c, cpu, func(x *emu.Context) { k.takeCPUDown(x, cpu) })
	for !k.apDead {
		c.Block(&k.apDeadQ, emu.WaitInfo{What: fmt.Sprintf("waits for CPU %d to report itself dead", cpu), Owner: cpu})
	}
	return 0
}

// reportIdleDead is what the outgoing CPU's idle task does once its stopper
// is done: do_idle() finds the CPU offline, with interrupts disabled, and
// calls cpuhp_report_idle_dead(): the state becomes CPUHP_AP_IDLE_DEAD and,
// since the CPU may not complete anything itself any more, it asks the
// first online CPU to do it with an asynchronous cross call
// (smp_call_function_single(cpumask_first(cpu_online_mask),
// cpuhp_complete_idle_dead, st, 0): its own csd_data, an IPI). Then
// arch_cpu_idle_dead(): the CPU never runs or takes an interrupt again.
// The idle task runs as swapper/N (pid 0), ahead of anything else.
func (k *Kernel) reportIdleDead(cpu int) {
	t := k.M.SpawnKind(emu.KindTask, cpu, fmt.Sprintf("swapper/%d", cpu), func(c *emu.Context) {
		k.LocalIRQSave(c)
		k.hpState[cpu] = cpuhpAPIdleDead
		Enter(c, "do_idle+0x1d4/0x290")
		Enter(c, "cpuhp_report_idle_dead+0x3c/0x70")
		k.SmpCallFunctionSingle(c, k.online.Next(0), k.completeIdleDead, nil, false)
		Leave(c)
		Leave(c)
		h := k.M.CPU(cpu)
		h.Parked = true
		h.SetIRQsOff(true) // the dead CPU idles with interrupts off
	}, true)
	t.PID = 0
}

// newCompleteIdleDead is kernel/cpu.c's cpuhp_complete_idle_dead(), run
// on the first online CPU for the dead one: it completes the control
// CPU's wait in takedown_cpu().
func (k *Kernel) newCompleteIdleDead() *Func {
	return &Func{Name: "cpuhp_complete_idle_dead", Size: 0x20, NoWait: NeverWaits,
		Fn: func(c *emu.Context, info any) error {
			k.apDead = true
			k.apDeadQ.Wake(k.M, k.T.WakeLatency)
			return nil
		}}
}

// takeCPUDown is take_cpu_down() on the dying CPU, in stop_machine's RUN
// state with interrupts off: leave cpu_online_mask, then the DYING
// teardowns down to CPUHP_AP_OFFLINE.
func (k *Kernel) takeCPUDown(c *emu.Context, cpu int) {
	Enter(c, "take_cpu_down+0x37/0xa0")
	defer Leave(c)
	k.online.Clear(cpu)
	k.nOnline--
	if k.M.Recording() {
		k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvCPUOffline, Target: cpu})
	}
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
			cpuh.SetIRQsOff(false) // start_secondary enables interrupts once online
			if ret := k.invoke(c, cpu, s, true); ret != 0 {
				// do_boot_cpu failed: the AP never ran.
				cpuh.SetIRQsOff(true)
				return k.rollBack(c, cpu, s, ret)
			}
			for a := cpuhpAPIdleDead; a <= cpuhpAPOnline; a++ {
				k.invoke(c, cpu, a, true)
			}
			k.x2apicInitLDR(cpu) // smp_callin (x2apic_cluster.go)
			k.online.Set(cpu)
			k.nOnline++
			if k.M.Recording() {
				k.M.Emit(cpu, &emu.Event{Kind: emu.EvCPUOnline, Target: cpu})
			}
			if !k.booted.Test(cpu) {
				k.booted.Set(cpu)
				if c != nil {
					k.updateShorthand()
				}
			}
			cpuh.NeedResched = false
			if c == nil {
				cpuh.Parked = false // at boot: nothing to look at yet
			} else {
				if cpuh.Parked {
					k.M.Unpark(cpu)
				}
				k.kickAPThread(c, cpu)
			}
			s = cpuhpAPOnline // the AP ran its states itself
			continue
		}
		if ret := k.invoke(c, cpu, s, true); ret != 0 {
			return k.rollBack(c, cpu, s, ret)
		}
	}
	k.hpState[cpu] = cpuhpOnline
	return 0
}

// kickAPThread is cpuhp_kick_ap_work()'s wake-up of the AP's hotplug
// thread (cpuhp/N) once the AP is online and idle: the AP is not active
// yet, so try_to_wake_up() activates the thread on the AP's run queue from
// here and resched_curr() reschedules the AP's idle task: the reschedule
// IPI, or need-resched alone if it polls. The AP's idle loop then exits and
// flushes its call queue (do_idle), which runs anything queued while it was
// offline. The model runs the AP's online states on the control CPU, so no
// cpuhp/N thread runs there: only the wake-up's effect on the AP is kept.
func (k *Kernel) kickAPThread(c *emu.Context, cpu int) {
	k.smpSendReschedule(c, cpu, siteReschedCurr)
}

var siteReschedCurr = site{"resched_curr", 0x6b, 0xd0}

// rollBack undoes a bring-up that failed in state s with ret: the states
// below s are torn down, in teardown order.
func (k *Kernel) rollBack(c *emu.Context, cpu int, s cpuhpState, ret int) int {
	for r := s - 1; r > cpuhpOffline; r-- {
		if r == cpuhpHrtimersPrepare {
			k.x2apicDeadCPU(c, cpu) // CPUHP_X2APIC_PREPARE (x2apic_cluster.go)
		}
		k.invoke(c, cpu, r, false)
	}
	k.hpState[cpu] = cpuhpOffline
	return ret
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
	from := -1 // the operator, or the CPU whose context injects
	if cur := k.M.Current(); cur != nil {
		from = cur.CPU
	}
	if k.M.Recording() {
		k.M.Emit(from, &emu.Event{Kind: emu.EvCSDQueue, CSD: uint64(csd.ID), Func: csd.Func.PS(), Target: cpu, CSDType: csd.Type()})
	}
	if first {
		vec := irqchip.CallFunctionSingleVector
		if !k.Spec.IsX86() {
			vec = irqchip.IPICallFunc
		}
		k.Stats.IPIs++
		id := k.M.NewIPIID()
		if k.M.Recording() {
			// No register write: the IPI comes from outside the model's
			// send path.
			k.M.Emit(from, &emu.Event{Kind: emu.EvIPISend, Targets: []int{cpu}, IDs: []uint64{id}, Vector: vec})
		}
		k.M.RaiseIPI(cpu, vec, k.M.Now()+k.T.IPILatency, id)
	}
	return csd
}
