package xcall

// The smp_xcall RFC's log lines: its functions live in kernel/smp.c, whose
// pr_fmt is "smp: " (commit 51111dce2509).

import (
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

