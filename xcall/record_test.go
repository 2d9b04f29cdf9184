package xcall

// The event record as the model emits it (emu/record.go): the exact
// sequence of typed events for small runs, with the kernel as the oracle
// for the order (kernel/smp.c: generic_exec_single() queues, sends and
// waits; the target's interrupt runs the function).

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
)

// evRecorder keeps every event recorded.
type evRecorder struct{ evs []emu.Event }

func (r *evRecorder) Record(e *emu.Event) { r.evs = append(r.evs, *e) }

// show renders the events of the given kinds (all if none), one a line, with
// the fields their kind fills.
func (r *evRecorder) show(kinds ...emu.EventKind) string {
	var b strings.Builder
	for _, e := range r.evs {
		if len(kinds) > 0 && !has(kinds, e.Kind) {
			continue
		}
		fmt.Fprintf(&b, "%d cpu%d %s", e.T, e.CPU, e.Kind)
		switch e.Kind {
		case emu.EvIPISend:
			fmt.Fprintf(&b, " targets=%v ids=%v vec=%d site=%s", e.Targets, e.IDs, e.Vector, e.Site)
		case emu.EvIPIDeliver, emu.EvIPIMerge:
			fmt.Fprintf(&b, " id=%d vec=%d from=%d", e.ID, e.Vector, e.Source)
		case emu.EvIPIDrop:
			fmt.Fprintf(&b, " id=%d vec=%d from=%d reason=%d", e.ID, e.Vector, e.Source, e.Reason)
		case emu.EvIPIDelay:
			fmt.Fprintf(&b, " id=%d to=%d delay=%d", e.ID, e.Target, e.Delay)
		case emu.EvIPIElide:
			fmt.Fprintf(&b, " to=%d", e.Target)
		case emu.EvIRQEntry:
			fmt.Fprintf(&b, " vec=%d ids=%v", e.Vector, e.IDs)
		case emu.EvIRQExit:
			fmt.Fprintf(&b, " vec=%d", e.Vector)
		case emu.EvCSDQueue:
			fmt.Fprintf(&b, " csd=%d func=%s to=%d type=%#x", e.CSD, e.Func, e.Target, e.CSDType)
		case emu.EvCSDFuncEntry, emu.EvCSDFuncExit:
			fmt.Fprintf(&b, " csd=%d func=%s", e.CSD, e.Func)
		case emu.EvCSDWaitBegin, emu.EvCSDWaitEnd:
			fmt.Fprintf(&b, " csd=%d to=%d", e.CSD, e.Target)
		case emu.EvCpuhpEnter:
			fmt.Fprintf(&b, " cpu=%d state=%d %s fn=%s dest=%d", e.Target, e.State, e.StateName, e.Fn, e.Dest)
		case emu.EvCpuhpExit:
			fmt.Fprintf(&b, " cpu=%d state=%d %s ret=%d", e.Target, e.State, e.StateName, e.Ret)
		case emu.EvCPUOnline, emu.EvCPUOffline:
			fmt.Fprintf(&b, " cpu=%d", e.Target)
		case emu.EvStopMachine:
			fmt.Fprintf(&b, " %s", e.StateName)
		case emu.EvSchedSwitch:
			fmt.Fprintf(&b, " %s:%d [%s] => %s:%d", e.PrevComm, e.PrevPID, e.PrevState, e.NextComm, e.NextPID)
		case emu.EvSchedWakeup, emu.EvSchedMigrate:
			fmt.Fprintf(&b, " %s:%d %d->%d", e.TaskComm, e.TaskPID, e.Source, e.Target)
		case emu.EvPrintk:
			fmt.Fprintf(&b, " %q", e.Text)
		case emu.EvPoint:
			fmt.Fprintf(&b, " %s", e.Name)
		case emu.EvDecision:
			fmt.Fprintf(&b, " n=%d v=%d max=%d", e.N, e.V, e.Max)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func has(ks []emu.EventKind, k emu.EventKind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// ipiKinds are the kinds of an IPI's life and of the calls it carries.
var ipiKinds = []emu.EventKind{emu.EvIPISend, emu.EvIPIDeliver, emu.EvIPIDrop, emu.EvIPIDelay,
	emu.EvIPIElide, emu.EvIPIMerge, emu.EvIRQEntry, emu.EvIRQExit, emu.EvCSDQueue,
	emu.EvCSDFuncEntry, emu.EvCSDFuncExit, emu.EvCSDWaitBegin, emu.EvCSDWaitEnd}

func recordOn(t *testing.T, machine string) (*Kernel, *evRecorder) {
	t.Helper()
	k := boot(t, machine)
	r := &evRecorder{}
	k.M.AddRecorder(r)
	return k, r
}

func checkRecord(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("record:\n%s\nwant:\n%s", got, want)
	}
}

// vecs replaces {V} in want with the machine's call-function vector (the
// single one on x86), {R} with the reschedule one, and {N} with the NMI
// sent as an IPI (-1); a line starting "x86| " or "arm64| " is kept, without
// that prefix, on that architecture only.
func vecs(k *Kernel, want string) string {
	v := "251" // CALL_FUNCTION_SINGLE_VECTOR
	if !k.Spec.IsX86() {
		v = "1" // IPI_CALL_FUNC
	}
	r := "253" // RESCHEDULE_VECTOR
	if !k.Spec.IsX86() {
		r = "0" // IPI_RESCHEDULE
	}
	var b strings.Builder
	for _, l := range strings.SplitAfter(strings.TrimLeft(want, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "x86| "):
			if k.Spec.IsX86() {
				b.WriteString(l[5:])
			}
		case strings.HasPrefix(l, "arm64| "):
			if !k.Spec.IsX86() {
				b.WriteString(l[7:])
			}
		default:
			b.WriteString(l)
		}
	}
	return strings.NewReplacer("{V}", v, "{R}", r).Replace(b.String())
}

var recordMachines = []string{"x86-4", "arm64-8"}

// A sync call: queued, sent, delivered and taken with one id, the function
// run in the handler, the waiter released before the handler returns.
// recordSyncCall runs, on each machine, a synchronous call from CPU 0 to
// CPU 2 after setup (nil: none), up to until ns, and checks the IPI
// events the record shows against want (vecs' {V} is the call vector).
func recordSyncCall(t *testing.T, setup func(k *Kernel), until int64, want string) {
	t.Helper()
	for _, m := range recordMachines {
		t.Run(m, func(t *testing.T) {
			k, r := recordOn(t, m)
			if setup != nil {
				setup(k)
			}
			var log []string
			k.M.Spawn(0, "t", func(c *emu.Context) { k.SmpCallFunctionSingle(c, 2, fn("f", &log), nil, true) })
			k.M.RunUntil(until)
			checkRecord(t, r.show(ipiKinds...), vecs(k, want))
		})
	}
}

func TestRecordSyncCall(t *testing.T) {
	recordSyncCall(t, nil, 1e6, `
0 cpu0 csd_queue csd=1 func=f to=2 type=0x10
20 cpu0 ipi_send targets=[2] ids=[1] vec={V} site=smp_call_function_single+0x118/0x1a0
60 cpu0 csd_wait_begin csd=1 to=2
1060 cpu2 ipi_deliver id=1 vec={V} from=0
1060 cpu2 irq_entry vec={V} ids=[1]
1410 cpu2 csd_function_entry csd=1 func=f
1410 cpu2 csd_function_exit csd=1 func=f
1510 cpu0 csd_wait_end csd=1 to=2
1610 cpu2 irq_exit vec={V}
`)
}

// A dropped IPI is never delivered; CSD-lock debugging's report sends an
// NMI backtrace and re-sends the IPI, each with a new id.
func TestRecordDroppedIPI(t *testing.T) {
	recordSyncCall(t, func(k *Kernel) {
		k.CSDLockDebug, k.CSDLockTimeout = true, 5
		k.Faults.Drop(2, 1)
	}, 20e6, `
0 cpu0 csd_queue csd=1 func=f to=2 type=0x10
20 cpu0 ipi_send targets=[2] ids=[1] vec={V} site=smp_call_function_single+0x118/0x1a0
60 cpu2 ipi_drop id=1 vec={V} from=0 reason=0
60 cpu0 csd_wait_begin csd=1 to=2
5000061 cpu0 ipi_send targets=[2] ids=[2] vec=-1 site=
5001101 cpu2 ipi_deliver id=2 vec=-1 from=0
5001101 cpu2 irq_entry vec=-1 ids=[2]
5001101 cpu2 irq_exit vec=-1
5001201 cpu0 ipi_send targets=[2] ids=[3] vec={V} site=
5002241 cpu2 ipi_deliver id=3 vec={V} from=0
5002241 cpu2 irq_entry vec={V} ids=[3]
5002591 cpu2 csd_function_entry csd=1 func=f
5002591 cpu2 csd_function_exit csd=1 func=f
5002691 cpu0 csd_wait_end csd=1 to=2
5002791 cpu2 irq_exit vec={V}
`)
}

// A delayed IPI arrives at send + latency + delay (the last write at 60,
// the latency 1000, the delay 5000).
func TestRecordDelayedIPI(t *testing.T) {
	recordSyncCall(t, func(k *Kernel) {
		k.Faults.Delay(2, 5000)
	}, 1e6, `
0 cpu0 csd_queue csd=1 func=f to=2 type=0x10
20 cpu0 ipi_send targets=[2] ids=[1] vec={V} site=smp_call_function_single+0x118/0x1a0
60 cpu0 ipi_delay id=1 to=2 delay=5000
60 cpu0 csd_wait_begin csd=1 to=2
6060 cpu2 ipi_deliver id=1 vec={V} from=0
6060 cpu2 irq_entry vec={V} ids=[1]
6410 cpu2 csd_function_entry csd=1 func=f
6410 cpu2 csd_function_exit csd=1 func=f
6510 cpu0 csd_wait_end csd=1 to=2
6610 cpu2 irq_exit vec={V}
`)
}

// With idle = "poll" an idle target gets need-resched instead of an IPI
// (call_function_single_prep_ipi): no id is taken, nothing is delivered,
// and the idle loop runs the function.
func TestRecordElidedIPI(t *testing.T) {
	recordSyncCall(t, func(k *Kernel) {
		k.idlePoll = true
	}, 1e6, `
0 cpu0 csd_queue csd=1 func=f to=2 type=0x10
20 cpu0 ipi_elide to=2
20 cpu0 csd_wait_begin csd=1 to=2
170 cpu2 csd_function_entry csd=1 func=f
170 cpu2 csd_function_exit csd=1 func=f
270 cpu0 csd_wait_end csd=1 to=2
`)
}

// Two IPIs of one vector to a CPU with interrupts off: the second merges
// into the pending vector, and the one handler takes both ids. (The NMI
// backtrace of the debug report is taken at once.)
func TestRecordMergedIPI(t *testing.T) {
	for _, m := range recordMachines {
		t.Run(m, func(t *testing.T) {
			k, r := recordOn(t, m)
			k.CSDLockDebug, k.CSDLockTimeout = true, 5
			k.M.Spawn(2, "off", func(c *emu.Context) {
				f := k.LocalIRQSave(c)
				c.Delay(12e6, "irqs off")
				k.LocalIRQRestore(c, f)
			})
			var log []string
			k.M.Spawn(0, "t", func(c *emu.Context) {
				c.Delay(1000, "later")
				k.SmpCallFunctionSingle(c, 2, fn("f", &log), nil, true)
			})
			k.M.RunUntil(20e6)
			checkRecord(t, r.show(append(ipiKinds, emu.EvIRQsOff, emu.EvIRQsOn)...), vecs(k, `
0 cpu2 irqs_off
1000 cpu0 csd_queue csd=1 func=f to=2 type=0x10
1020 cpu0 irqs_off
1020 cpu0 ipi_send targets=[2] ids=[1] vec={V} site=smp_call_function_single+0x118/0x1a0
1060 cpu0 irqs_on
1060 cpu0 csd_wait_begin csd=1 to=2
2060 cpu2 ipi_deliver id=1 vec={V} from=0
5001061 cpu0 irqs_off
5001061 cpu0 ipi_send targets=[2] ids=[2] vec=-1 site=
5001101 cpu0 irqs_on
5002101 cpu2 ipi_deliver id=2 vec=-1 from=0
5002101 cpu2 irq_entry vec=-1 ids=[2]
5002101 cpu2 irq_exit vec=-1
5002201 cpu0 irqs_off
5002201 cpu0 ipi_send targets=[2] ids=[3] vec={V} site=
5002241 cpu0 irqs_on
5003241 cpu2 ipi_merge id=3 vec={V} from=0
12000000 cpu2 irqs_on
12000000 cpu2 irq_entry vec={V} ids=[1 3]
12000350 cpu2 csd_function_entry csd=1 func=f
12000350 cpu2 csd_function_exit csd=1 func=f
12000450 cpu0 csd_wait_end csd=1 to=2
12000550 cpu2 irq_exit vec={V}
`))
		})
	}
}

// cpu_down racing a call, then a csd injected on the offline CPU, whose IPI
// stays pending there until the bring-up clears it (dropped, offline); the
// wake-up of the AP's hotplug thread (a reschedule IPI) makes its idle loop
// run the csd.
func TestRecordHotplugRace(t *testing.T) {
	for _, m := range recordMachines {
		t.Run(m, func(t *testing.T) {
			k, r := recordOn(t, m)
			var log []string
			k.M.Spawn(0, "down", func(c *emu.Context) {
				k.CPUDown(c, 3)
				k.InjectCSD(3, fn("g", &log), nil)
				c.Delay(10000, "later")
				k.CPUUp(c, 3)
			})
			k.M.Spawn(1, "t", func(c *emu.Context) { k.SmpCallFunctionSingle(c, 3, fn("f", &log), nil, true) })
			k.M.RunUntil(1e9)
			checkRecord(t, r.show(emu.EvIPISend, emu.EvIPIDeliver, emu.EvIPIDrop, emu.EvIRQEntry,
				emu.EvCSDFuncEntry, emu.EvCpuhpEnter, emu.EvCpuhpExit, emu.EvCPUOffline, emu.EvCPUOnline), vecs(k, `
20 cpu1 ipi_send targets=[3] ids=[1] vec={V} site=smp_call_function_single+0x118/0x1a0
1060 cpu3 ipi_deliver id=1 vec={V} from=1
1060 cpu3 irq_entry vec={V} ids=[1]
1410 cpu3 csd_function_entry csd=1 func=f
20000 cpu0 cpuhp_enter cpu=3 state=21 sched:active fn=sched_cpu_deactivate dest=0
20000 cpu0 cpuhp_exit cpu=3 state=21 sched:active ret=0
30000 cpu0 cpuhp_enter cpu=3 state=20 workqueue:online fn=workqueue_offline_cpu dest=0
30000 cpu0 cpuhp_exit cpu=3 state=20 workqueue:online ret=0
40000 cpu0 cpuhp_enter cpu=3 state=19 smpboot/threads:online fn=smpboot_park_threads dest=0
40000 cpu0 cpuhp_exit cpu=3 state=19 smpboot/threads:online ret=0
60000 cpu0 cpuhp_enter cpu=3 state=17 cpu:teardown fn=takedown_cpu dest=0
60200 cpu3 cpu_offline cpu=3
80200 cpu3 cpuhp_enter cpu=3 state=15 tick:dying fn=tick_cpu_dying dest=0
80200 cpu3 cpuhp_exit cpu=3 state=15 tick:dying ret=0
90200 cpu3 cpuhp_enter cpu=3 state=14 hrtimers:dying fn=hrtimers_cpu_dying dest=0
90200 cpu3 cpuhp_exit cpu=3 state=14 hrtimers:dying ret=0
100200 cpu3 cpuhp_enter cpu=3 state=13 smpcfd:dying fn=smpcfd_dying_cpu dest=0
100200 cpu3 cpuhp_exit cpu=3 state=13 smpcfd:dying ret=0
110200 cpu3 cpuhp_enter cpu=3 state=12 RCU/tree:dying fn=rcutree_dying_cpu dest=0
110200 cpu3 cpuhp_exit cpu=3 state=12 RCU/tree:dying ret=0
120200 cpu3 cpuhp_enter cpu=3 state=11 sched:starting fn=sched_cpu_dying dest=0
120200 cpu3 cpuhp_exit cpu=3 state=11 sched:starting ret=0
130220 cpu3 ipi_send targets=[0] ids=[2] vec={V} site=smp_call_function_single+0x118/0x1a0
130350 cpu0 csd_function_entry csd=2 func=cpuhp_complete_idle_dead
130350 cpu0 cpuhp_exit cpu=3 state=17 cpu:teardown ret=0
131260 cpu0 ipi_deliver id=2 vec={V} from=3
131260 cpu0 irq_entry vec={V} ids=[2]
140350 cpu0 cpuhp_enter cpu=3 state=8 cpu:bringup fn=finish_cpu dest=0
140350 cpu0 cpuhp_exit cpu=3 state=8 cpu:bringup ret=0
160350 cpu0 cpuhp_enter cpu=3 state=6 RCU/tree:prepare fn=rcutree_dead_cpu dest=0
160350 cpu0 cpuhp_exit cpu=3 state=6 RCU/tree:prepare ret=0
170350 cpu0 cpuhp_enter cpu=3 state=5 smpcfd:prepare fn=smpcfd_dead_cpu dest=0
170350 cpu0 cpuhp_exit cpu=3 state=5 smpcfd:prepare ret=0
200350 cpu0 cpuhp_enter cpu=3 state=2 mm/vmstat:dead fn=vmstat_cpu_dead dest=0
200350 cpu0 cpuhp_exit cpu=3 state=2 mm/vmstat:dead ret=0
210350 cpu0 ipi_send targets=[3] ids=[3] vec={V} site=
211350 cpu3 ipi_deliver id=3 vec={V} from=0
230350 cpu0 cpuhp_enter cpu=3 state=1 threads:prepare fn=smpboot_create_threads dest=22
230350 cpu0 cpuhp_exit cpu=3 state=1 threads:prepare ret=0
250350 cpu0 cpuhp_enter cpu=3 state=3 workqueue:prepare fn=workqueue_prepare_cpu dest=22
250350 cpu0 cpuhp_exit cpu=3 state=3 workqueue:prepare ret=0
260350 cpu0 cpuhp_enter cpu=3 state=4 hrtimers:prepare fn=hrtimers_prepare_cpu dest=22
260350 cpu0 cpuhp_exit cpu=3 state=4 hrtimers:prepare ret=0
270350 cpu0 cpuhp_enter cpu=3 state=5 smpcfd:prepare fn=smpcfd_prepare_cpu dest=22
270350 cpu0 cpuhp_exit cpu=3 state=5 smpcfd:prepare ret=0
280350 cpu0 cpuhp_enter cpu=3 state=6 RCU/tree:prepare fn=rcutree_prepare_cpu dest=22
280350 cpu0 cpuhp_exit cpu=3 state=6 RCU/tree:prepare ret=0
x86| 290350 cpu0 cpuhp_enter cpu=3 state=7 cpu:kick_ap fn=cpuhp_kick_ap_alive dest=22
x86| 290350 cpu0 cpuhp_exit cpu=3 state=7 cpu:kick_ap ret=0
290350 cpu3 ipi_drop id=3 vec={V} from=0 reason=1
x86| 300350 cpu0 cpuhp_enter cpu=3 state=8 cpu:bringup fn=cpuhp_bringup_ap dest=22
arm64| 300350 cpu0 cpuhp_enter cpu=3 state=8 cpu:bringup fn=bringup_cpu dest=22
300350 cpu0 cpuhp_exit cpu=3 state=8 cpu:bringup ret=0
330350 cpu3 cpuhp_enter cpu=3 state=11 sched:starting fn=sched_cpu_starting dest=22
330350 cpu3 cpuhp_exit cpu=3 state=11 sched:starting ret=0
360350 cpu3 cpuhp_enter cpu=3 state=14 hrtimers:dying fn=hrtimers_cpu_starting dest=22
360350 cpu3 cpuhp_exit cpu=3 state=14 hrtimers:dying ret=0
380350 cpu3 cpu_online cpu=3
380350 cpu0 ipi_send targets=[3] ids=[4] vec={R} site=resched_curr+0x6b/0xd0
381390 cpu3 ipi_deliver id=4 vec={R} from=0
381390 cpu3 irq_entry vec={R} ids=[4]
381940 cpu3 csd_function_entry csd=3 func=g
400390 cpu0 cpuhp_enter cpu=3 state=19 smpboot/threads:online fn=smpboot_unpark_threads dest=22
400390 cpu0 cpuhp_exit cpu=3 state=19 smpboot/threads:online ret=0
410390 cpu0 cpuhp_enter cpu=3 state=20 workqueue:online fn=workqueue_online_cpu dest=22
410390 cpu0 cpuhp_exit cpu=3 state=20 workqueue:online ret=0
420390 cpu0 cpuhp_enter cpu=3 state=21 sched:active fn=sched_cpu_activate dest=22
420390 cpu0 cpuhp_exit cpu=3 state=21 sched:active ret=0
`))
			// stop_machine walks its states once, each set once: by the
			// caller, then by the stopper that acknowledged last (the last
			// CPU's stopper runs first, having been queued last).
			checkRecord(t, r.show(emu.EvStopMachine), fmt.Sprintf(`60000 cpu0 stop_machine PREPARE
60000 cpu%d stop_machine DISABLE_IRQ
60100 cpu%d stop_machine RUN
130200 cpu3 stop_machine EXIT
`, k.nr-1, k.nr-2))
		})
	}
}
