package xcall

import (
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
)

// arm64 dumps: __warn() → show_regs() prints pstate, pc, lr and sp
// (arch/arm64/kernel/process.c: __show_regs), and dump_backtrace() a
// "Call trace:" of bare frames, with no <TASK>/<IRQ> markers
// (arch/arm64/kernel/stacktrace.c).
func TestWarnARM64Layout(t *testing.T) {
	k := boot(t, "arm64-8")
	var log []string
	k.M.Spawn(2, "t", func(c *emu.Context) {
		off := k.LocalIRQSave(c)
		k.SmpXcallPrivate(c, 2, k.NewCSD(fn("w", &log), nil), CSDTypeIRQWork)
		k.LocalIRQRestore(c, off)
	})
	k.M.RunUntil(1e6)
	got := logText(k)
	i := strings.Index(got, "------------[ cut here ]")
	if i < 0 {
		t.Fatalf("no warning:\n%s", got)
	}
	want := `------------[ cut here ]------------
[    0.000000] WARNING: CPU: 2 PID: 100 at kernel/smp.c:370 csd_unlock+0x48/0x60
[    0.000000] Modules linked in:
[    0.000000] CPU: 2 UID: 0 PID: 100 Comm: t Not tainted 6.17.0-xcallsh #1 PREEMPT(voluntary)
[    0.000000] Hardware name: xcallsh arm64-8
[    0.000000] pstate: 60400085 (nZCv daIf +PAN -UAO -TCO -DIT -SSBS BTYPE=--)
[    0.000000] pc : csd_unlock+0x48/0x60
[    0.000000] lr : smp_xcall_private+0x7e/0x140
[    0.000000] sp : ffff800080023d50
[    0.000000] Call trace:
[    0.000000]  smp_xcall_private+0x7e/0x140
[    0.000000] ---[ end trace 0000000000000000 ]---
`
	if got[i:] != want {
		t.Errorf("warning:\n%s\nwant:\n%s", got[i:], want)
	}
}
