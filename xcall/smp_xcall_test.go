package xcall

// The smp_xcall RFC's log lines: its functions live in kernel/smp.c, whose
// pr_fmt is "smp: " (commit 51111dce2509), and smp_xcall_private() on the
// caller's own CPU unlocks the csd whatever its type, so an IRQ_WORK csd
// (never locked) trips csd_unlock()'s WARN_ON.

import (
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
)

func TestXcallWarningsHaveSmpPrefix(t *testing.T) {
	k := boot(t, "x86-4")
	var rets []int
	k.M.Spawn(0, "t", func(c *emu.Context) {
		rets = append(rets, k.SmpXcallCond(c, -2, DoNothing, nil, nil, CSDTypeSync),
			k.SmpXcallPrivate(c, 9, k.NewCSD(DoNothing, nil), CSDTypeAsync),
			k.SmpXcallPrivate(c, 1, nil, CSDTypeAsync))
	})
	k.M.RunUntil(1e6)
	want := `[    0.000000] IPI shorthand broadcast: enabled
[    0.000000] smp: Bringing up secondary CPUs ...
[    0.000000] smp: Brought up 1 node, 4 CPUs
[    0.000000] smp: Invalid cpu ID = -2
[    0.000000] smp: cpu ID must be >=0 && < nr_cpu_ids
[    0.000000] smp: csd must not be NULL
`
	if got := logText(k); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
	if len(rets) != 3 || rets[0] != -ENXIO || rets[1] != -ENXIO || rets[2] != -EINVAL {
		t.Errorf("returns %v", rets)
	}
}

// smp_xcall_private(self, csd, XCALL_TYPE_IRQ_WORK): the flags are stored
// without CSD_FLAG_LOCK, then csd_unlock() warns (kernel/smp.c's
// WARN_ON(!(csd->node.u_flags & CSD_FLAG_LOCK))), and the function still
// runs, on the caller.
func TestXcallPrivateSelfIRQWorkWarns(t *testing.T) {
	k := boot(t, "x86-4")
	var log []string
	ret := -1
	k.M.Spawn(2, "t", func(c *emu.Context) {
		ret = k.SmpXcallPrivate(c, 2, k.NewCSD(fn("w", &log), nil), CSDTypeIRQWork)
	})
	k.M.RunUntil(1e6)
	if ret != 0 || strings.Join(log, " ") != "w@2" {
		t.Fatalf("ret %d, ran %v", ret, log)
	}
	got := logText(k)
	i := strings.Index(got, "------------[ cut here ]")
	if i < 0 {
		t.Fatalf("no warning:\n%s", got)
	}
	want := `------------[ cut here ]------------
[    0.000000] WARNING: CPU: 2 PID: 100 at kernel/smp.c:370 csd_unlock+0x48/0x60
[    0.000000] Modules linked in:
[    0.000000] CPU: 2 UID: 0 PID: 100 Comm: t Not tainted 6.17.0-xcallsh #1 PREEMPT(voluntary)
[    0.000000] Hardware name: xcallsh x86-4
[    0.000000] RIP: 0010:csd_unlock+0x48/0x60
[    0.000000] Call Trace:
[    0.000000]  <TASK>
[    0.000000]  smp_xcall_private+0x7e/0x140
[    0.000000]  </TASK>
[    0.000000] ---[ end trace 0000000000000000 ]---
`
	if got[i:] != want {
		t.Errorf("warning:\n%s\nwant:\n%s", got[i:], want)
	}
	if k.Stats.Warnings != 1 {
		t.Errorf("%d warnings", k.Stats.Warnings)
	}
}
