package xcall

// The smp_xcall RFC's log lines: its functions live in kernel/smp.c, whose
// pr_fmt is "smp: " (commit 51111dce2509), and smp_xcall_private() on the
// caller's own CPU unlocks the csd whatever its type, so an IRQ_WORK csd
// (never locked) trips csd_unlock()'s WARN_ON.

import (
	"fmt"
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

// A TTWU entry is a task to wake (kernel/sched/core.c: sched_ttwu_pending()
// activates each task of its list on the CPU): the csd's function runs as
// that task, in task context, after the IPI handler returned, not inside
// the handler.
func TestTTWUEntryWakesATask(t *testing.T) {
	k, r := recordOn(t, "x86-4")
	var where []string
	woken := &Func{Name: "woken", Fn: func(c *emu.Context, info any) error {
		where = append(where, fmt.Sprintf("cpu%d task=%v comm=%s t=%d", c.CPU, k.InTask(c), c.Name, k.M.Now()))
		return nil
	}}
	k.M.Spawn(0, "t", func(c *emu.Context) {
		k.SmpXcallPrivate(c, 1, k.NewCSD(woken, nil), CSDTypeTTWU)
	})
	k.M.RunUntil(1e6)
	if got := strings.Join(where, "\n"); got != "cpu1 task=true comm=woken t=1610" {
		t.Errorf("ran: %s", got)
	}
	checkRecord(t, r.show(emu.EvIRQEntry, emu.EvCSDFuncEntry, emu.EvCSDFuncExit, emu.EvSchedWakeup, emu.EvIRQExit, emu.EvSchedSwitch), `0 cpu0 sched_wakeup t:100 0->0
0 cpu0 sched_switch swapper/0:0 [R] => t:100
60 cpu0 sched_switch t:100 [X] => swapper/0:0
1060 cpu1 irq_entry vec=251 ids=[1]
1410 cpu1 csd_function_entry csd=1 func=sched_ttwu_pending
1410 cpu1 sched_wakeup woken:101 0->1
1410 cpu1 csd_function_exit csd=1 func=sched_ttwu_pending
1610 cpu1 irq_exit vec=251
1610 cpu1 sched_switch swapper/1:0 [R] => woken:101
1610 cpu1 sched_switch woken:101 [X] => swapper/1:0
`)
}
