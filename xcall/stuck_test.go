package xcall

import (
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
)

// A csd whose IPI was lost, with CSD-lock reports on but their IPI re-send
// switched off: emu sees reports firing, the kernel layer sees a CPU
// spinning on work that nothing will ever run.
func TestStuckOnLostIPI(t *testing.T) {
	k := boot(t, "x86-4")
	k.CSDLockDebug, k.CSDLockTimeout = true, 5
	k.SetFix(FixCSDResendIPI.String(), false)
	k.Faults.Drop(1, 1)
	var log []string
	k.M.Spawn(0, "t", func(c *emu.Context) {
		k.SmpCallFunctionSingle(c, 1, fn("f", &log), nil, true)
	})
	k.M.RunUntil(100e6)
	want := "CPU0 spins on csd #"
	got := k.Stuck()
	if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, " queued on CPU1; CPU1 is idle with no IPI pending, and no one will send one (1 csd queued)") {
		t.Errorf("Stuck() = %q", got)
	}
	if len(log) != 0 {
		t.Errorf("ran %v", log)
	}
	// Nothing is stuck while the IPI re-send would recover it.
	k.SetFix(FixCSDResendIPI.String(), true)
	if got := k.Stuck(); got != "" {
		t.Errorf("with the re-send fix: Stuck() = %q", got)
	}
}

// TestNotStuckWhileIPIInFlight: a csd queued on an idle CPU whose IPI is
// still on its way is not stuck; the IPI will arrive.
func TestNotStuckWhileIPIInFlight(t *testing.T) {
	k := boot(t, "x86-4")
	k.M.Spawn(0, "caller", func(c *emu.Context) {
		k.SmpCallFunctionSingle(c, 1, &Func{Name: "f", Fn: func(*emu.Context, any) error { return nil }}, nil, true)
	})
	if err := k.M.RunUntil(k.T.IPILatency / 2); err != nil {
		t.Fatal(err)
	}
	if k.M.CPU(1).InFlight() != 1 {
		t.Fatalf("in flight to CPU1: %d, want 1", k.M.CPU(1).InFlight())
	}
	if st := k.Stuck(); st != "" {
		t.Errorf("stuck with the IPI on its way: %s", st)
	}
	if err := k.M.RunUntil(1e6); err != nil {
		t.Fatal(err)
	}
	if n := k.M.CPU(1).InFlight(); n != 0 || k.Stuck() != "" {
		t.Errorf("after the call: %d in flight, stuck %q", n, k.Stuck())
	}
}
