// This file holds the parts of Linux's kernel/torture.c that scftorture
// relies on (docs/kernel.md#scftorture): torture kthreads (create, stop,
// stopping, the sleeps kthread_stop() cuts short), torture_onoff with its
// statistics, stutter_wait, and the hotplug side of cpu_hotplug_lock. It
// describes their behaviour; it copies none of their code.

package scftorture

import (
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/xcall"
)

// tortureThread is one torture kthread: an emu context plus what kthread_stop()
// and the stall watchdog need. Written by the thread itself, except stop
// (by the stopper) and the wake-up of sleepQ.
type tortureThread struct {
	c         *emu.Context
	idx       int            // invokers: the thread number (scfp->cpu)
	stop      bool           // kthread_should_stop()
	done      bool           // the thread function returned
	doneQ     emu.WaitQueue  // kthread_stop() waiters
	sleepQ    *emu.WaitQueue // the sleep in progress, for kthread_stop() to cut short
	busySince int64          // invokers: start of the invocation in progress, -1 if none
	stats     Stats          // invokers: this thread's scf_statistics
}

// torout is VERBOSE_TOROUT_STRING inside kernel/torture.c, which knows the
// torture type.
func (t *torture) torout(cpu int, s string) {
	if t.p.Verbose != 0 {
		t.pr(cpu, "scftorture-torture: "+s)
	}
}

// spawn creates a torture kthread (torture_create_kthread) running fn.
func (t *torture) spawn(kind emu.Kind, cpu int, name string, idx int, fn func(kt *tortureThread)) *tortureThread {
	kt := &tortureThread{idx: idx, busySince: -1}
	kt.c = t.k.M.SpawnKind(kind, cpu, name, func(c *emu.Context) {
		xcall.Enter(c, scfFrameKthread)
		fn(kt)
		kt.done = true
		kt.doneQ.Wake(t.k.M, t.k.T.WakeLatency)
	}, false)
	return kt
}

// random is torture_random(): 32 random bits, from the machine's PRNG.
func (t *torture) random() uint64 { return uint64(t.rng.Uint32()) }

// mustStop is torture_must_stop() for thread kt.
func (t *torture) mustStop(kt *tortureThread) bool { return t.fullstop || kt.stop }

// sleep is a kthread's schedule_timeout_*() / hrtimeout: leave the CPU for
// d ns, or less if kthread_stop() wakes the thread (it wakes interruptible
// and uninterruptible sleepers alike).
func (t *torture) sleep(kt *tortureThread, d int64, what string) {
	if kt.stop || d <= 0 {
		return
	}
	m := t.k.M
	q := new(emu.WaitQueue)
	kt.sleepQ = q
	end := m.Now() + d
	m.At(end, func() { q.Wake(m, 0) })
	for !kt.stop && m.Now() < end {
		kt.c.Block(q, emu.WaitInfo{What: what, Owner: -1})
	}
	kt.sleepQ = nil
}

// kthreadStop is kthread_stop(): ask kt to stop, wake it, wait for it.
func (t *torture) kthreadStop(c *emu.Context, kt *tortureThread) {
	if kt == nil {
		return
	}
	kt.stop = true
	if kt.sleepQ != nil {
		kt.sleepQ.Wake(t.k.M, t.k.T.WakeLatency)
	}
	for !kt.done {
		c.Block(&kt.doneQ, emu.WaitInfo{What: "waits in kthread_stop for " + kt.c.Name, Owner: -1})
	}
}

// kthreadStopping is torture_kthread_stopping(): wait for kthread_stop().
func (t *torture) kthreadStopping(kt *tortureThread, title string) {
	t.torout(kt.c.CPU, title+" is stopping")
	for !kt.stop {
		t.sleep(kt, 50*Jiffy, "sleeps in torture_kthread_stopping")
	}
}

// stutterWait is stutter_wait(): sleep out a stutter pause.
func (t *torture) stutterWait(kt *tortureThread) {
	if till := t.stutterTill; till != 0 && t.k.M.Now() < till {
		t.sleep(kt, till-t.k.M.Now(), "sleeps in stutter_wait")
	}
}

// onoffThread is torture_onoff(): every onoff_interval jiffies (plus up to
// one jiffy of fuzz) pick a CPU at random up to the highest CPU online at
// the start; offline it if it is online and hotpluggable, else online it.
func (t *torture) onoffThread(kt *tortureThread) {
	c, k := kt.c, t.k
	xcall.Enter(c, scfFrameOnoff)
	t.torout(c.CPU, "torture_onoff task started")
	maxcpu := -1
	for cpu := k.CPUOnlineMask().Next(0); cpu >= 0; cpu = k.CPUOnlineMask().Next(cpu + 1) {
		maxcpu = cpu
	}
	t.onlineAll(kt, "Initial")
	if maxcpu <= 0 {
		t.torout(c.CPU, "Only one CPU, so CPU-hotplug testing is disabled")
	} else {
		if t.p.OnoffHoldoff > 0 {
			t.torout(c.CPU, "torture_onoff begin holdoff")
			t.sleep(kt, t.p.OnoffHoldoff+int64(t.random()%uint64(Jiffy)), "sleeps in torture_onoff holdoff")
			t.torout(c.CPU, "torture_onoff end holdoff")
		}
		for !t.mustStop(kt) {
			cpu := int(t.random() % uint64(maxcpu+1))
			if !t.offline(kt, cpu) {
				t.online(kt, cpu)
			}
			t.sleep(kt, t.p.OnoffInterval+int64(t.random()%uint64(Jiffy)), "sleeps in torture_onoff")
		}
	}
	t.kthreadStopping(kt, "torture_onoff")
	t.onlineAll(kt, "Final")
}

// hotpluggable is cpu_is_hotpluggable(): on x86 the boot CPU is not.
func (t *torture) hotpluggable(cpu int) bool { return t.k.CPUIsHotpluggable(cpu) }

func scfJiffies(ns int64) int64 { return ns / Jiffy }

// offline is torture_offline(); false if it did not try.
func (t *torture) offline(kt *tortureThread, cpu int) bool {
	k := t.k
	if !k.Online(cpu) || !t.hotpluggable(cpu) || k.NumOnline() <= 1 {
		return false
	}
	o := &t.onoff
	t.hotplugOp(kt, cpu, "offlin", "offline", k.CPUDown, &o.OfflineAttempts, &o.OfflineSuccesses, &o.MinOffline, &o.MaxOffline, &o.SumOffline)
	return true
}

// online is torture_online(); false if it did not try.
func (t *torture) online(kt *tortureThread, cpu int) bool {
	k := t.k
	if k.Online(cpu) || !t.hotpluggable(cpu) {
		return false
	}
	o := &t.onoff
	t.hotplugOp(kt, cpu, "onlin", "online", k.CPUUp, &o.OnlineAttempts, &o.OnlineSuccesses, &o.MinOnline, &o.MaxOnline, &o.SumOnline)
	return true
}

// hotplugOp is the common body of torture_offline() and torture_online():
// the verbose lines ("offlining 3", "offline 3 failed", "offlined 3"), the
// operation under the hotplug write lock, and its statistics in jiffies.
func (t *torture) hotplugOp(kt *tortureThread, cpu int, stem, verb string, op func(*emu.Context, int) int,
	attempts, successes, minJ, maxJ, sumJ *int64) {
	c, k := kt.c, t.k
	if t.p.Verbose > 1 {
		t.pr(c.CPU, fmt.Sprintf("scftorture-torture:torture_onoff task: %sing %d", stem, cpu))
	}
	start := scfJiffies(k.M.Now())
	*attempts++
	t.cpusWriteLock(c)
	ret := op(c, cpu)
	t.cpusWriteUnlock()
	if ret != 0 {
		if t.p.Verbose != 0 {
			t.pr(c.CPU, fmt.Sprintf("scftorture-torture:torture_onoff task: %s %d failed: errno %d", verb, cpu, ret))
		}
		return
	}
	if t.p.Verbose > 1 {
		t.pr(c.CPU, fmt.Sprintf("scftorture-torture:torture_onoff task: %sed %d", stem, cpu))
	}
	*successes++
	d := scfJiffies(k.M.Now()) - start
	*sumJ += d
	if *minJ < 0 {
		*minJ, *maxJ = d, d
	}
	*minJ, *maxJ = min(*minJ, d), max(*maxJ, d)
}

// onlineAll is torture_online_all(): bring every possible CPU online,
// outside the statistics.
func (t *torture) onlineAll(kt *tortureThread, phase string) {
	c, k := kt.c, t.k
	for cpu := 0; cpu < t.nr; cpu++ {
		if k.Online(cpu) {
			continue
		}
		t.cpusWriteLock(c)
		ret := k.CPUUp(c, cpu)
		t.cpusWriteUnlock()
		if ret != 0 && t.p.Verbose != 0 {
			t.pr(c.CPU, fmt.Sprintf("scftorture-torture:torture_online_all: %s scftorture online %d: errno %d", phase, cpu, ret))
		}
	}
}

// cpusWriteLock / cpusWriteUnlock are the hotplug side of cpu_hotplug_lock
// as _cpu_down()/_cpu_up() take it: new readers wait, then the writer
// waits for the readers inside to leave.
func (t *torture) cpusWriteLock(c *emu.Context) {
	t.hpWriter = true
	for t.hpReaders > 0 {
		c.Block(&t.hpWriteQ, emu.WaitInfo{What: "waits in cpus_write_lock", Owner: -1})
	}
}

func (t *torture) cpusWriteUnlock() {
	t.hpWriter = false
	t.hpReadQ.Wake(t.k.M, t.k.T.WakeLatency)
}
