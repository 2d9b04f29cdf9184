package xcall

import "testing"

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
