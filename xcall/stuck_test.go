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
