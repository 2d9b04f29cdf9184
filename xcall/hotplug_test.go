package xcall

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
)

// Every state has a step with a name, the names are unique, and the walk's
// landmarks keep their order.
func TestCPUHPStates(t *testing.T) {
	if len(cpuhpSteps) != int(cpuhpOnline)+1 {
		t.Fatalf("cpuhpSteps has %d entries, want %d", len(cpuhpSteps), cpuhpOnline+1)
	}
	seen := map[string]bool{}
	for s := range cpuhpSteps {
		name := cpuhpState(s).String()
		if name == "" || seen[name] {
			t.Errorf("state %d: name %q empty or repeated", s, name)
		}
		seen[name] = true
		if got, ok := cpuhpStateNamed(name); !ok || got != cpuhpState(s) {
			t.Errorf("cpuhpStateNamed(%q) = %d, %v", name, got, ok)
		}
	}
	if !(cpuhpOffline < cpuhpSMPCFDPrepare && cpuhpSMPCFDPrepare < cpuhpBringupCPU &&
		cpuhpBringupCPU < cpuhpAPIdleDead && cpuhpAPOffline < cpuhpAPSMPCFDDying &&
		cpuhpAPSMPCFDDying < cpuhpAPOnline && cpuhpAPOnline < cpuhpTeardownCPU &&
		cpuhpTeardownCPU < cpuhpAPActive && cpuhpAPActive < cpuhpOnline) {
		t.Error("cpuhp states out of the kernel's order")
	}
	for s := cpuhpAPIdleDead; s <= cpuhpAPOnline; s++ {
		if !s.step().ap {
			t.Errorf("%v: not in the STARTING/DYING section", s)
		}
	}
	if got := cpuhpAPSMPCFDDying.String(); got != "smpcfd:dying" {
		t.Errorf("String() = %q", got)
	}
	if got := cpuhpState(99).String(); got != "cpuhpState(99)" {
		t.Errorf("out of range: %q", got)
	}
}

func TestMultiStopStates(t *testing.T) {
	for s := msNone; s <= msExit; s++ {
		if s.String() == "" {
			t.Errorf("state %d has no name", s)
		}
		if s != msNone && !IsPoint("stop_machine:"+s.String()) {
			t.Errorf("no point for %v", s)
		}
	}
	if got := msDisableIRQ.String(); got != "DISABLE_IRQ" {
		t.Errorf("String() = %q", got)
	}
}

// The dying CPU's idle task reports it dead with its own cross call
// (kernel/cpu.c: cpuhp_report_idle_dead() runs
// smp_call_function_single(cpumask_first(cpu_online_mask),
// cpuhp_complete_idle_dead, st, 0)): CPU 5 going down from a task on CPU 2
// queues the callback on CPU 0, from its idle task with interrupts off, and
// sends it the call-function IPI; takedown_cpu on CPU 2 returns only after
// CPU 0 ran it.
func TestDyingCPUReportsIdleDead(t *testing.T) {
	k, r := recordOn(t, "arm64-8")
	ret := -1
	k.M.Spawn(2, "ctl", func(c *emu.Context) { ret = k.CPUDown(c, 5) })
	k.M.RunUntil(1e9)
	if ret != 0 || k.CPUState(5) != "offline" {
		t.Fatalf("cpu_down = %d, CPU 5 %s", ret, k.CPUState(5))
	}
	var b strings.Builder
	for _, e := range r.evs {
		switch {
		case e.Kind == emu.EvCSDQueue && e.Func == "cpuhp_complete_idle_dead",
			e.Kind == emu.EvIPISend && e.CPU == 5,
			e.Kind == emu.EvIRQEntry && e.CPU == 0,
			e.Kind == emu.EvCSDFuncEntry && e.Func == "cpuhp_complete_idle_dead",
			e.Kind == emu.EvCpuhpExit && e.StateName == "cpu:teardown":
			fmt.Fprintf(&b, "%d cpu%d %s %s flags=%s %s targets=%v to=%d\n", e.T, e.CPU, e.Comm, e.Kind, e.Flags[:], e.Func, e.Targets, e.Target)
		}
	}
	want := `130200 cpu5 <idle> csd_queue flags=d..1. cpuhp_complete_idle_dead targets=[] to=0
130220 cpu5 <idle> ipi_send flags=d..1.  targets=[0] to=0
131260 cpu0 <idle> irq_entry flags=d.h..  targets=[] to=0
131610 cpu0 <idle> csd_function_entry flags=d.h.. cpuhp_complete_idle_dead targets=[] to=0
131710 cpu2 ctl cpuhp_exit flags=.....  targets=[] to=5
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
