package traces

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/irqchip"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/xcall"
)

func bootFor(t testing.TB, machine string) *xcall.Kernel {
	t.Helper()
	spec, err := machines.Builtin(machine)
	if err != nil {
		t.Fatal(err)
	}
	k, err := xcall.Boot(spec, 1)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// ev builds a synthetic event of the record on cpu at t ns, in the
// context comm-pid with the given latency flags.
func ev(kind emu.EventKind, cpu int, t int64, comm string, pid int, flags string, set func(e *emu.Event)) *emu.Event {
	e := &emu.Event{Kind: kind, CPU: cpu, T: t, Comm: comm, PID: pid}
	copy(e.Flags[:], flags)
	if set != nil {
		set(e)
	}
	return e
}

// The expected lines are written from the kernel's format strings with
// real-looking values, the way a 6.x kernel's
// /sys/kernel/tracing/trace prints them: the context from
// kernel/trace/trace_output.c (trace_print_context(): "%16s-%-7d",
// "[%03d] ", trace_print_lat_fmt()'s five flags, " %5lu.%06lu: "), then
// "name: " and the event's TP_printk (the header named on each case).
func TestFtraceLinePerKind(t *testing.T) {
	x86 := NewFtrace(bootFor(t, "x86-4"))
	arm := NewFtrace(bootFor(t, "arm64-8"))
	const site = "smp_call_function_single+0x6e/0xa0"
	cases := []struct {
		name string
		f    *Ftrace
		e    *emu.Event
		want string
	}{
		// include/trace/events/ipi.h: ipi_send_cpu "cpu=%u callsite=%pS callback=%pS"
		{"ipi_send_cpu", x86, ev(emu.EvIPISend, 0, 12_345_678_901, "bash", 1234, "d..1.", func(e *emu.Event) {
			e.Targets, e.IDs, e.Vector, e.Site = []int{1}, []uint64{1}, irqchip.CallFunctionSingleVector, site
		}), "            bash-1234    [000] d..1.    12.345679: ipi_send_cpu: cpu=1 callsite=smp_call_function_single+0x6e/0xa0 callback=generic_smp_call_function_single_interrupt+0x0/0x20"},
		// include/linux/smp.h: smp_send_reschedule() traces ipi_send_cpu with a NULL callback
		{"ipi_send_cpu resched", x86, ev(emu.EvIPISend, 2, 3_000_000_499, "kworker/2:1", 88, "d..2.", func(e *emu.Event) {
			e.Targets, e.IDs, e.Vector, e.Site = []int{3}, []uint64{2}, irqchip.RescheduleVector, "wake_up_if_idle+0x6e/0xa0"
		}), "     kworker/2:1-88      [002] d..2.     3.000000: ipi_send_cpu: cpu=3 callsite=wake_up_if_idle+0x6e/0xa0 callback=0x0"},
		// include/trace/events/ipi.h: ipi_send_cpumask "cpumask=%s callsite=%pS callback=%pS", %*pb over whole longs
		{"ipi_send_cpumask", x86, ev(emu.EvIPISend, 0, 1_000_500, "sh", 7, "d..1.", func(e *emu.Event) {
			e.Targets, e.IDs, e.Vector, e.Site = []int{1, 2, 3}, []uint64{3, 4, 5}, irqchip.CallFunctionVector, "smp_call_function_many_cond+0x2b6/0x5b0"
		}), "              sh-7       [000] d..1.     0.001001: ipi_send_cpumask: cpumask=00000000,0000000e callsite=smp_call_function_many_cond+0x2b6/0x5b0 callback=generic_smp_call_function_single_interrupt+0x0/0x20"},
		// arch/x86/include/asm/trace/irq_vectors.h: "vector=%d"
		{"call_function_single_entry", x86, ev(emu.EvIPIEntry, 1, 12_345_700_000, "<idle>", 0, "d.h1.", func(e *emu.Event) {
			e.Vector, e.IDs = irqchip.CallFunctionSingleVector, []uint64{1}
		}), "          <idle>-0       [001] d.h1.    12.345700: call_function_single_entry: vector=251"},
		{"call_function_single_exit", x86, ev(emu.EvIPIExit, 1, 12_345_900_000, "<idle>", 0, "d.h1.", func(e *emu.Event) {
			e.Vector = irqchip.CallFunctionSingleVector
		}), "          <idle>-0       [001] d.h1.    12.345900: call_function_single_exit: vector=251"},
		{"call_function_entry", x86, ev(emu.EvIPIEntry, 3, 1_002_000, "sh", 9, "d.h1.", func(e *emu.Event) {
			e.Vector = irqchip.CallFunctionVector
		}), "              sh-9       [003] d.h1.     0.001002: call_function_entry: vector=252"},
		{"reschedule_exit", x86, ev(emu.EvIPIExit, 3, 1_002_000, "<idle>", 0, "d.h1.", func(e *emu.Event) {
			e.Vector = irqchip.RescheduleVector
		}), "          <idle>-0       [003] d.h1.     0.001002: reschedule_exit: vector=253"},
		// include/trace/events/csd.h: csd_queue_cpu "cpu=%u callsite=%pS func=%ps csd=%p"
		{"csd_queue_cpu", x86, ev(emu.EvCSDQueue, 0, 12_345_678_000, "bash", 1234, "...1.", func(e *emu.Event) {
			e.Target, e.Site, e.Func, e.CSD = 1, site, "do_nothing", 3
		}), "            bash-1234    [000] ...1.    12.345678: csd_queue_cpu: cpu=1 callsite=smp_call_function_single+0x6e/0xa0 func=do_nothing csd=00000000b42db8f2"},
		// include/trace/events/csd.h: csd_function "func=%ps, csd=%p"
		{"csd_function_entry", x86, ev(emu.EvCSDFuncEntry, 1, 12_345_701_000, "<idle>", 0, "d.h1.", func(e *emu.Event) {
			e.Func, e.CSD = "scf_handler_1 [scftorture]", 3
		}), "          <idle>-0       [001] d.h1.    12.345701: csd_function_entry: func=scf_handler_1 [scftorture], csd=00000000b42db8f2"},
		{"csd_function_exit", x86, ev(emu.EvCSDFuncExit, 1, 12_345_702_000, "<idle>", 0, "d.h1.", func(e *emu.Event) {
			e.Func, e.CSD = "do_nothing", 7
		}), "          <idle>-0       [001] d.h1.    12.345702: csd_function_exit: func=do_nothing, csd=00000000b02db2a6"},
		// kernel/smp.c: a local call runs its function with a NULL csd
		{"csd_function_entry local", x86, ev(emu.EvCSDFuncEntry, 0, 12_345_700_000, "bash", 1234, "d..1.", func(e *emu.Event) {
			e.Func = "do_nothing"
		}), "            bash-1234    [000] d..1.    12.345700: csd_function_entry: func=do_nothing, csd=0000000000000000"},
		// arm64: the generic ipi_send_cpu, then arch/arm64/kernel/smp.c's
		// smp_cross_call() ipi_raise "target_mask=%s (%s)"
		{"arm64 send", arm, ev(emu.EvIPISend, 4, 2_000_000_000, "cat", 300, "d..1.", func(e *emu.Event) {
			e.Targets, e.IDs, e.Vector, e.Site = []int{1}, []uint64{1}, irqchip.IPICallFunc, site
		}), "             cat-300     [004] d..1.     2.000000: ipi_send_cpu: cpu=1 callsite=smp_call_function_single+0x6e/0xa0 callback=generic_smp_call_function_single_interrupt+0x0/0x20\n" +
			"             cat-300     [004] d..1.     2.000000: ipi_raise: target_mask=00000000,00000002 (Function call interrupts)"},
		{"arm64 mask", arm, ev(emu.EvIPISend, 0, 2_000_000_000, "cat", 300, "d..1.", func(e *emu.Event) {
			e.Targets, e.IDs, e.Vector, e.Site = []int{1, 2, 3, 4, 5, 6, 7}, []uint64{1, 2, 3, 4, 5, 6, 7}, irqchip.IPICallFunc, "smp_call_function_many_cond+0x2b6/0x5b0"
		}), "             cat-300     [000] d..1.     2.000000: ipi_send_cpumask: cpumask=00000000,000000fe callsite=smp_call_function_many_cond+0x2b6/0x5b0 callback=generic_smp_call_function_single_interrupt+0x0/0x20\n" +
			"             cat-300     [000] d..1.     2.000000: ipi_raise: target_mask=00000000,000000fe (Function call interrupts)"},
		{"arm64 resched", arm, ev(emu.EvIPISend, 0, 2_000_000_000, "cat", 300, "d..1.", func(e *emu.Event) {
			e.Targets, e.IDs, e.Vector, e.Site = []int{5}, []uint64{1}, irqchip.IPIReschedule, "wake_up_if_idle+0x6e/0xa0"
		}), "             cat-300     [000] d..1.     2.000000: ipi_send_cpu: cpu=5 callsite=wake_up_if_idle+0x6e/0xa0 callback=0x0\n" +
			"             cat-300     [000] d..1.     2.000000: ipi_raise: target_mask=00000000,00000020 (Rescheduling interrupts)"},
		// kernel/smp.c: csd_lock_wait_toolong() resends with
		// arch_send_call_function_single_ipi(): only arm64's ipi_raise
		{"arm64 resend", arm, ev(emu.EvIPISend, 0, 5_000_000_000, "cat", 300, "d..1.", func(e *emu.Event) {
			e.Targets, e.IDs, e.Vector = []int{1}, []uint64{9}, irqchip.IPICallFunc
		}), "             cat-300     [000] d..1.     5.000000: ipi_raise: target_mask=00000000,00000002 (Function call interrupts)"},
		// include/trace/events/ipi.h: ipi_handler "(%s)"
		{"ipi_entry", arm, ev(emu.EvIPIEntry, 1, 2_000_061_000, "<idle>", 0, "d.h1.", func(e *emu.Event) {
			e.Vector = irqchip.IPICallFunc
		}), "          <idle>-0       [001] d.h1.     2.000061: ipi_entry: (Function call interrupts)"},
		{"ipi_exit", arm, ev(emu.EvIPIExit, 1, 2_000_090_000, "<idle>", 0, "d.h1.", func(e *emu.Event) {
			e.Vector = irqchip.IPIReschedule
		}), "          <idle>-0       [001] d.h1.     2.000090: ipi_exit: (Rescheduling interrupts)"},
		// include/trace/events/sched.h: sched_switch
		{"sched_switch", x86, ev(emu.EvSchedSwitch, 1, 5_000_000_000, "<idle>", 0, "d..2.", func(e *emu.Event) {
			e.PrevComm, e.PrevPID, e.PrevState, e.NextComm, e.NextPID = "swapper/1", 0, "R", "kworker/1:1", 45
		}), "          <idle>-0       [001] d..2.     5.000000: sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=kworker/1:1 next_pid=45 next_prio=120"},
		// traced before the switch: the TASK column is prev's, whatever runs now
		{"sched_switch in prev", x86, ev(emu.EvSchedSwitch, 1, 5_000_000_000, "stall", 100, "d..2.", func(e *emu.Event) {
			e.PrevComm, e.PrevPID, e.PrevState, e.NextComm, e.NextPID = "swapper/1", 0, "R", "stall", 100
		}), "          <idle>-0       [001] d..2.     5.000000: sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=stall next_pid=100 next_prio=120"},
		{"sched_switch sleeping", x86, ev(emu.EvSchedSwitch, 1, 5_000_000_000, "kworker/1:1", 45, "d..2.", func(e *emu.Event) {
			e.PrevComm, e.PrevPID, e.PrevState, e.NextComm, e.NextPID = "kworker/1:1", 45, "D", "swapper/1", 0
		}), "     kworker/1:1-45      [001] d..2.     5.000000: sched_switch: prev_comm=kworker/1:1 prev_pid=45 prev_prio=120 prev_state=D ==> next_comm=swapper/1 next_pid=0 next_prio=120"},
		{"sched_switch preempted", x86, ev(emu.EvSchedSwitch, 1, 5_000_000_000, "a_very_long_task_name", 46, "d..2.", func(e *emu.Event) {
			e.PrevComm, e.PrevPID, e.PrevState, e.NextComm, e.NextPID = "a_very_long_task_name", 46, "R+", "migration/1", 21
		}), " a_very_long_tas-46      [001] d..2.     5.000000: sched_switch: prev_comm=a_very_long_tas prev_pid=46 prev_prio=120 prev_state=R+ ==> next_comm=migration/1 next_pid=21 next_prio=120"},
		// include/trace/events/sched.h: sched_wakeup_template "comm=%s pid=%d prio=%d target_cpu=%03d"
		{"sched_wakeup", x86, wakee(ev(emu.EvSchedWakeup, 0, 7_000_001_000, "<idle>", 0, "d.h2.", func(e *emu.Event) {
			e.Target = 1
		}), "kworker/1:1", 45), "          <idle>-0       [000] d.h2.     7.000001: sched_wakeup: comm=kworker/1:1 pid=45 prio=120 target_cpu=001"},
		// include/trace/events/sched.h: sched_migrate_task
		{"sched_migrate_task", x86, wakee(ev(emu.EvSchedMigrate, 1, 7_000_001_000, "migration/1", 21, "d..2.", func(e *emu.Event) {
			e.Source, e.Target = 1, 2
		}), "sh", 77), "     migration/1-21      [001] d..2.     7.000001: sched_migrate_task: comm=sh pid=77 prio=120 orig_cpu=1 dest_cpu=2"},
		// include/trace/events/sched.h: sched_wake_idle_without_ipi "cpu=%d"
		{"sched_wake_idle_without_ipi", x86, ev(emu.EvIPIElide, 0, 7_000_001_000, "sh", 77, "d..1.", func(e *emu.Event) {
			e.Target = 2
		}), "              sh-77      [000] d..1.     7.000001: sched_wake_idle_without_ipi: cpu=2"},
		// include/trace/events/irq.h: softirq_raise / softirq_entry / softirq_exit "vec=%u [action=%s]"
		{"softirq_raise", x86, ev(emu.EvSoftirqRaise, 2, 1_000, "<idle>", 0, "d.h..", func(e *emu.Event) {
			e.Vector = 4
		}), "          <idle>-0       [002] d.h..     0.000001: softirq_raise: vec=4 [action=BLOCK]"},
		{"softirq_entry", arm, ev(emu.EvSoftirqEntry, 0, 2_000, "caller", 100, "..s..", func(e *emu.Event) {
			e.Vector = 3
		}), "          caller-100     [000] ..s..     0.000002: softirq_entry: vec=3 [action=NET_RX]"},
		{"softirq_exit", x86, ev(emu.EvSoftirqExit, 0, 2_000, "ksoftirqd/0", 101, "..s..", func(e *emu.Event) {
			e.Vector = 9
		}), "     ksoftirqd/0-101     [000] ..s..     0.000002: softirq_exit: vec=9 [action=RCU]"},
		// include/trace/events/irq.h: irq_handler_entry "irq=%d name=%s", irq_handler_exit
		// "irq=%d ret=%s": the device interrupt's action (the model's irq is the
		// vector or INTID, its name irqchip's); an IPI's body is not one of them
		{"irq_handler_entry", x86, ev(emu.EvIPIEntry, 2, 4_000_000, "<idle>", 0, "d.h..", func(e *emu.Event) {
			e.Vector = irqchip.X86DeviceVector
		}), "          <idle>-0       [002] d.h..     0.004000: irq_handler_entry: irq=33 name=VECTOR_0x21"},
		{"irq_handler_exit", x86, ev(emu.EvIPIExit, 2, 4_000_100, "<idle>", 0, "d.h..", func(e *emu.Event) {
			e.Vector = irqchip.X86DeviceVector
		}), "          <idle>-0       [002] d.h..     0.004000: irq_handler_exit: irq=33 ret=handled"},
		{"irq_handler_entry arm64", arm, ev(emu.EvIPIEntry, 5, 4_000_000, "caller", 100, "d.h1.", func(e *emu.Event) {
			e.Vector = irqchip.GICDeviceVector
		}), "          caller-100     [005] d.h1.     0.004000: irq_handler_entry: irq=32 name=SPI_32"},
		{"irq_handler_exit arm64", arm, ev(emu.EvIPIExit, 5, 4_001_000, "caller", 100, "d.h1.", func(e *emu.Event) {
			e.Vector = irqchip.GICDeviceVector
		}), "          caller-100     [005] d.h1.     0.004001: irq_handler_exit: irq=32 ret=handled"},
		// include/trace/events/cpuhp.h: cpuhp_enter / cpuhp_multi_enter "cpu: %04u target: %3d step: %3d (%ps)"
		{"cpuhp_enter", x86, ev(emu.EvCpuhpEnter, 1, 9_000_000_000, "cpuhp/1", 19, ".....", func(e *emu.Event) {
			e.Target, e.State, e.StateName, e.Fn, e.Dest = 1, 211, "smpcfd:dying", "smpcfd_dying_cpu", 0
		}), "         cpuhp/1-19      [001] .....     9.000000: cpuhp_enter: cpu: 0001 target:   0 step: 211 (smpcfd_dying_cpu)"},
		{"cpuhp_multi_enter", x86, ev(emu.EvCpuhpMultiEnter, 1, 9_000_000_000, "cpuhp/1", 19, ".....", func(e *emu.Event) {
			e.Target, e.State, e.Fn, e.Dest = 1, 66, "blk_mq_hctx_notify_online", 233
		}), "         cpuhp/1-19      [001] .....     9.000000: cpuhp_multi_enter: cpu: 0001 target: 233 step:  66 (blk_mq_hctx_notify_online)"},
		// include/trace/events/cpuhp.h: cpuhp_exit " cpu: %04u  state: %3d step: %3d ret: %d"
		{"cpuhp_exit", x86, ev(emu.EvCpuhpExit, 1, 9_000_010_000, "cpuhp/1", 19, ".....", func(e *emu.Event) {
			e.Target, e.State, e.Idx, e.Ret = 1, 210, 211, 0
		}), "         cpuhp/1-19      [001] .....     9.000010: cpuhp_exit:  cpu: 0001  state: 210 step: 211 ret: 0"},
	}
	for _, c := range cases {
		out, n := c.f.Append(nil, c.e)
		got := strings.TrimSuffix(string(out), "\n")
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
		if want := strings.Count(c.want, "\n") + 1; n != want {
			t.Errorf("%s: %d lines, want %d", c.name, n, want)
		}
	}
}

// wakee sets the task a wake-up or migration is about.
func wakee(e *emu.Event, comm string, pid int) *emu.Event {
	e.TaskComm, e.TaskPID = comm, pid
	return e
}

// Kinds with no kernel tracepoint, and the NMI, print nothing.
func TestFtraceSilentKinds(t *testing.T) {
	x86 := NewFtrace(bootFor(t, "x86-4"))
	arm := NewFtrace(bootFor(t, "arm64-8"))
	for _, k := range []emu.EventKind{emu.EvIRQEntry, emu.EvIRQExit, emu.EvIPIDeliver, emu.EvIPIDrop, emu.EvIPIDelay, emu.EvIPIMerge,
		emu.EvCSDWaitBegin, emu.EvCSDWaitEnd, emu.EvIdleEnter, emu.EvIdleExit, emu.EvIRQsOff, emu.EvIRQsOn,
		emu.EvCPUOnline, emu.EvCPUOffline, emu.EvStopMachine, emu.EvPrintk, emu.EvPoint, emu.EvDecision} {
		e := ev(k, 0, 1000, "sh", 1, ".....", func(e *emu.Event) { e.Vector = irqchip.CallFunctionVector })
		if out, n := x86.Append(nil, e); n != 0 || len(out) != 0 {
			t.Errorf("%v printed %q", k, out)
		}
	}
	nmi := []*emu.Event{
		ev(emu.EvIPISend, 0, 1, "sh", 1, "d....", func(e *emu.Event) { e.Vector, e.Targets = -1, []int{1} }),
		ev(emu.EvIPIEntry, 1, 1, "sh", 1, "d.Z..", func(e *emu.Event) { e.Vector = -1 }),
		ev(emu.EvIPIExit, 1, 1, "sh", 1, "d.Z..", func(e *emu.Event) { e.Vector = -1 }),
	}
	// x86's resend from csd_lock_wait_toolong() has no tracepoint.
	resend := ev(emu.EvIPISend, 0, 1, "sh", 1, "d....", func(e *emu.Event) {
		e.Vector, e.Targets = irqchip.CallFunctionSingleVector, []int{1}
	})
	if out, n := x86.Append(nil, resend); n != 0 {
		t.Errorf("x86 resend printed %q", out)
	}
	for _, e := range nmi {
		for _, f := range []*Ftrace{x86, arm} {
			if out, n := f.Append(nil, e); n != 0 {
				t.Errorf("NMI %v printed %q", e.Kind, out)
			}
		}
	}
	// The operator is no CPU.
	if out, n := x86.Append(nil, ev(emu.EvCSDQueue, -1, 1, "<operator>", -1, ".....", nil)); n != 0 {
		t.Errorf("operator event printed %q", out)
	}
}

// The header is kernel/trace/trace.c's print_func_help_header_irq() after
// "# tracer: nop" and print_event_info(), byte for byte (irq-info on,
// record-tgid off: the %.*s fields are two spaces wide).
func TestFtraceHeader(t *testing.T) {
	want := "# tracer: nop\n" +
		"#\n" +
		"# entries-in-buffer/entries-written: 12/12   #P:4\n" +
		"#\n" +
		"#                                _-----=> irqs-off/BH-disabled\n" +
		"#                               / _----=> need-resched\n" +
		"#                              | / _---=> hardirq/softirq\n" +
		"#                              || / _--=> preempt-depth\n" +
		"#                              ||| / _-=> migrate-disable\n" +
		"#                              |||| /     delay\n" +
		"#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n" +
		"#              | |         |   |||||     |         |\n"
	if got := FtraceHeaderFor(12, 4); got != want {
		t.Errorf("header:\n%s\nwant:\n%s", got, want)
	}
	// The columns line up: the flags under |||||, the CPU under CPU#.
	line, _ := NewFtrace(bootFor(t, "x86-4")).Append(nil, ev(emu.EvIPIElide, 2, 1, "sh", 77, "d..1.", nil))
	lines := strings.Split(want, "\n")
	if i, j := strings.Index(lines[10], "|||||"), strings.Index(string(line), "d..1."); i != j {
		t.Errorf("flags at column %d, header's at %d", j, i)
	}
	if i, j := strings.Index(lines[10], "CPU#"), strings.Index(string(line), "[002]"); i != j {
		t.Errorf("CPU at column %d, header's at %d", j, i)
	}
}

// The csd pointer is the one xcall prints for the same csd.
func TestCSDPtrMatchesXcall(t *testing.T) {
	if csdAddr(0) != 0 {
		t.Errorf("no csd is not NULL")
	}
	for _, id := range []int{1, 2, 9, 10, 12345} {
		if got, want := fmt.Sprintf("%016x", csdAddr(uint64(id))), (&xcall.CSD{ID: id}).Ptr(); got != want {
			t.Errorf("csd %d: %s, xcall %s", id, got, want)
		}
	}
}

// A writer over the same events writes the same bytes; the header counts
// the lines.
func TestFtraceWriterDeterministic(t *testing.T) {
	k := bootFor(t, "x86-4")
	events := []*emu.Event{
		ev(emu.EvCSDQueue, 0, 10, "sh", 7, "...1.", func(e *emu.Event) {
			e.Target, e.Func, e.CSD, e.Site = 1, "do_nothing", 1, "smp_call_function_single+0x6e/0xa0"
		}),
		ev(emu.EvIPISend, 0, 20, "sh", 7, "d..1.", func(e *emu.Event) {
			e.Targets, e.IDs, e.Vector, e.Site = []int{1}, []uint64{1}, irqchip.CallFunctionSingleVector, "smp_call_function_single+0x6e/0xa0"
		}),
		ev(emu.EvIPIDeliver, 1, 80, "<idle>", 0, ".....", nil),
		ev(emu.EvIPIEntry, 1, 100, "<idle>", 0, "d.h1.", func(e *emu.Event) { e.Vector = irqchip.CallFunctionSingleVector }),
	}
	var outs [2]bytes.Buffer
	for i := range outs {
		w := NewFtraceWriter(k)
		for _, e := range events {
			w.Record(e)
		}
		if _, err := w.WriteTo(&outs[i]); err != nil {
			t.Fatal(err)
		}
		if w.Entries() != 3 {
			t.Errorf("entries %d, want 3", w.Entries())
		}
	}
	if !bytes.Equal(outs[0].Bytes(), outs[1].Bytes()) {
		t.Errorf("two writes differ")
	}
	if !strings.HasPrefix(outs[0].String(), FtraceHeaderFor(3, 4)) || strings.Count(outs[0].String(), "\n") != 12+3 {
		t.Errorf("output:\n%s", outs[0].String())
	}
}

// Past ftraceSpill bytes the lines go to a temporary file; the text is the
// same.
func TestFtraceWriterSpills(t *testing.T) {
	k := bootFor(t, "x86-4")
	write := func() (string, *FtraceWriter) {
		w := NewFtraceWriter(k)
		for _, e := range syntheticRun(k) {
			w.Record(e)
		}
		var b bytes.Buffer
		if _, err := w.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		return b.String(), w
	}
	mem, _ := write()
	defer func(n int) { ftraceSpill = n }(ftraceSpill)
	ftraceSpill = 1000
	spilled, w := write()
	if w.spill == nil {
		t.Fatal("nothing spilled")
	}
	w.Close()
	if spilled != mem {
		t.Errorf("spilled text differs from the one kept in memory")
	}
}

// The shell's log keeps the lines with their times, and writes them as
// the writer does.
func TestFtraceLog(t *testing.T) {
	k := bootFor(t, "arm64-8")
	l, w := NewFtraceLog(k), NewFtraceWriter(k)
	for _, e := range syntheticRun(k) {
		l.Record(e)
		w.Record(e)
	}
	var a, b bytes.Buffer
	l.WriteTo(&a)
	w.WriteTo(&b)
	if a.String() != b.String() {
		t.Errorf("the log's text differs from the writer's")
	}
	lines := l.Lines()
	if uint64(len(lines)) != w.Entries() {
		t.Fatalf("%d lines, %d entries", len(lines), w.Entries())
	}
	if first := lines[0]; first.T != 12_345_678_000 || !strings.Contains(first.String(), "csd_queue_cpu: cpu=1 ") {
		t.Errorf("first line %+v", first)
	}
	if got := ftraceHeader(5, 9, 2); !strings.Contains(got, "# entries-in-buffer/entries-written: 5/9   #P:2\n") {
		t.Errorf("header %q", got)
	}
}
