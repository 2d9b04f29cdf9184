package xcall

// Softirqs, with kernel/softirq.c as the oracle: a softirq raised in an
// IPI's callback runs at that interrupt's exit, in softirq context ('s'),
// after the vector's exit tracepoint and before the handler leaves the
// CPU; raise_softirq() from a task wakes ksoftirqd/N, which runs it.

import (
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
)

// kindLog records the events of some kinds, one String() a line.
type kindLog struct {
	kinds map[emu.EventKind]bool // looked up, never ranged
	lines []string
}

func (l *kindLog) Record(e *emu.Event) {
	if l.kinds[e.Kind] {
		l.lines = append(l.lines, e.String())
	}
}

func logKinds(k *Kernel, kinds ...emu.EventKind) *kindLog {
	l := &kindLog{kinds: map[emu.EventKind]bool{}}
	for _, kd := range kinds {
		l.kinds[kd] = true
	}
	k.M.AddRecorder(l)
	return l
}

func checkLines(t *testing.T, got []string, want string) {
	t.Helper()
	if g := strings.Join(got, "\n"); g != strings.TrimSpace(want) {
		t.Errorf("got\n%s\nwant\n%s", g, strings.TrimSpace(want))
	}
}

func TestSoftirqAtIRQExit(t *testing.T) {
	k := boot(t, "x86-4")
	l := logKinds(k, emu.EvSoftirqRaise, emu.EvSoftirqEntry, emu.EvSoftirqExit, emu.EvIPIExit, emu.EvIRQExit)
	var ctx []string
	k.OpenSoftirq(BlockSoftirq, &Func{Name: "blk_done_softirq", Fn: func(c *emu.Context, _ any) error {
		ctx = append(ctx, map[bool]string{true: "in_softirq", false: "not in_softirq"}[k.InSoftirq(c)])
		if k.InTask(c) || k.InHardirq(c) {
			ctx = append(ctx, "in_task or in_hardirq")
		}
		return nil
	}})
	raise := &Func{Name: "raise", Fn: func(c *emu.Context, _ any) error { k.RaiseSoftirqIrqoff(c, BlockSoftirq); return nil }}
	k.M.Spawn(0, "t", func(c *emu.Context) { k.SmpCallFunctionSingle(c, 1, raise, nil, true) })
	k.M.RunUntil(1e6)
	checkLines(t, l.lines, `
1410 CPU1 <idle>-0 d.h.. softirq_raise vec=4
1410 CPU1 <idle>-0 d.h.. ipi_exit vector=251
1410 CPU1 <idle>-0 ..s.. softirq_entry vec=4
1410 CPU1 <idle>-0 ..s.. softirq_exit vec=4
1610 CPU1 <idle>-0 d.h.. irq_exit vector=251
`)
	if strings.Join(ctx, ",") != "in_softirq" {
		t.Errorf("handler context: %v", ctx)
	}
	if p := k.SoftirqPending(1); p != 0 {
		t.Errorf("pending after the interrupt: %#x", p)
	}
}

func TestRaiseSoftirqFromTaskWakesKsoftirqd(t *testing.T) {
	k := boot(t, "x86-4")
	l := logKinds(k, emu.EvSoftirqRaise, emu.EvSoftirqEntry, emu.EvSoftirqExit, emu.EvSchedWakeup)
	k.M.Spawn(2, "t", func(c *emu.Context) { k.RaiseSoftirq(c, NetRxSoftirq) })
	k.M.RunUntil(1e6)
	checkLines(t, l.lines, `
0 CPU2 <idle>-0 d..2. sched_wakeup task=t-100 cpu=2
0 CPU2 t-100 d.... softirq_raise vec=3
0 CPU2 t-100 d..2. sched_wakeup task=ksoftirqd/2-101 cpu=2
0 CPU2 ksoftirqd/2-101 ..s.. softirq_entry vec=3
0 CPU2 ksoftirqd/2-101 ..s.. softirq_exit vec=3
`)
}

// A softirq handler run at irq_exit() that busy-waits, interrupts on and
// no preemption count of its own, is not preempted by a thread that
// becomes runnable meanwhile: softirq processing is not preemptible
// (SOFTIRQ_OFFSET in preempt_count). The thread runs after the interrupt.
func TestSoftirqNotPreempted(t *testing.T) {
	k := boot(t, "x86-4")
	var order []string
	k.OpenSoftirq(NetRxSoftirq, &Func{Name: "net_rx_action", Fn: func(c *emu.Context, _ any) error {
		order = append(order, "softirq begins")
		k.M.SpawnKind(emu.KindKworker, 1, "kworker/1:1", func(*emu.Context) { order = append(order, "kworker runs") }, false)
		c.Delay(10000, "net_rx_action")
		order = append(order, "softirq ends")
		return nil
	}})
	raise := &Func{Name: "raise", Fn: func(c *emu.Context, _ any) error { k.RaiseSoftirqIrqoff(c, NetRxSoftirq); return nil }}
	k.M.Spawn(0, "t", func(c *emu.Context) { k.SmpCallFunctionSingle(c, 1, raise, nil, false) })
	k.M.RunUntil(1e6)
	if got := strings.Join(order, ", "); got != "softirq begins, softirq ends, kworker runs" {
		t.Errorf("order: %s", got)
	}
}
