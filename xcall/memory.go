// This file models what a native memory model changes in the cross calls
// of kernel/smp.c: the stores that queue a csd (its func and info, the
// llist link and the head of the target's call_single_queue, written by
// __smp_call_single_queue() and smp_call_function_many_cond() through
// llist_add()) may become visible to the other CPUs after the IPI that
// announces them, unless the arch's IPI send orders them first: the
// barrier of drivers/irqchip/irq-gic-v3.c: gic_ipi_send_mask() before the
// ICC_SGI1R_EL1 write (fix 21ec30c0ef52), weak_wrmsr_fence() before the
// x2APIC ICR write in arch/x86/kernel/apic/x2apic_phys.c and
// x2apic_cluster.c (fix 25a068b8e9a4); the xAPIC ICR is a memory-mapped
// register whose write x86 keeps behind earlier stores. The release store
// of csd_unlock() is buffered too: a CPU waiting in csd_lock_wait() sees
// the csd unlocked only when it is visible. Each delayed store and each
// barrier that drains one is recorded (emu.EvStoreBuffered,
// EvStoreVisible). See
// docs/memory.md#the-kernel-under-a-native-memory-model.

package xcall

import (
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
)

// bufStore is a queued csd whose queueing stores are still in the store
// buffer of CPU cpu: no other CPU sees the csd on its queue before time at.
// With unlock, it is csd_unlock()'s release store of the csd's flag word
// instead: no other CPU sees the csd unlocked before at. seq numbers the
// stores in the order they were buffered.
type bufStore struct {
	csd    *CSD
	at     int64
	seq    uint64
	cpu    int
	to     int // the CPU whose queue (unlock: the csd's sender, -1 if unknown): the record's Target
	unlock bool
}

// storeBuffers holds the buffered stores, indexed so that each operation
// reads only the entries of one CPU or one csd: a csd's queueing store is
// on the csd itself (CSD.qSeq, qAt, qCPU), its unlocks in CSD.ubuf. The
// lists keep entries that have become visible or been replaced until the
// CPU's next drain or a pruning pass; every reader skips them (an entry
// is live while its time is ahead and, for a queueing, while it is still
// its csd's).
type storeBuffers struct {
	n    int    // entries held in the cpus' q and u lists: 0, nothing is buffered (the hooks' test)
	seq  uint64 // the last store's number
	cpus []cpuStores
}

// cpuStores is one CPU's part of storeBuffers.
type cpuStores struct {
	q, u []bufStore // the queueing and the unlock stores this CPU buffered, oldest first
	t    []bufStore // the queueing stores onto this CPU's queue, from any CPU, oldest first
	// uCut: this CPU's unlock stores numbered up to uCut are gone
	// (drained); an unlock's entry in CSD.ubuf is live only above it.
	uCut uint64
	// the lists' lengths after their last pruning
	qKeep, uKeep, tKeep int
}

// unlockRef is a buffered unlock as its csd keeps it (CSD.ubuf).
type unlockRef struct {
	at  int64
	seq uint64
	cpu int
}

// storeOracle is another implementation of the store buffers, for tests
// (memory_ref_test.go: the first one, a single list scanned whole): with
// Kernel.memOracle set, the operations below defer to it. It keeps
// storeBuffers.n, the hooks' test, nonzero while it holds a store.
type storeOracle interface {
	bufferQueueing(c *emu.Context, csd *CSD, target int, first bool)
	hidden(csd *CSD, cpu int) bool
	drainBy(cpu int, barrier string)
	bufferUnlock(c *emu.Context, csd *CSD, d int64) // the drawn delay d > 0; after it, the waiters' wake
	unlockHidden(csd *CSD, cpu int) int64
}

// stores returns cpu's part of the store buffers, made on first use.
func (k *Kernel) stores(cpu int) *cpuStores {
	if k.sbuf.cpus == nil {
		k.sbuf.cpus = make([]cpuStores, len(k.pc))
	}
	return &k.sbuf.cpus[cpu]
}

// liveQueueing reports whether b, a queueing store, is still its csd's
// buffered queueing.
func liveQueueing(b *bufStore) bool { return b.csd.qSeq == b.seq }

// prune drops from list the entries visible by now (and, with queueing,
// the queueings no longer their csd's) once list has doubled since its
// last pruning (16 entries at least): a list stays within about twice its
// live entries, and pruning costs O(1) per entry added. It returns the
// list and how many entries left.
func prune(list []bufStore, last *int, now int64, queueing bool) ([]bufStore, int) {
	if len(list) < max(16, 2**last) {
		return list, 0
	}
	j := 0
	for i := range list {
		if b := &list[i]; b.at > now && (!queueing || liveQueueing(b)) {
			list[j] = *b
			j++
		}
	}
	clear(list[j:])
	*last = j
	return list[:j], len(list) - j
}

// NativeMemory reports whether the kernel runs under the native memory
// model ([memory] model = "native", or SetMemory).
func (k *Kernel) NativeMemory() bool { return k.native }

// SetMemory sets the memory model: machines.MemorySC ("" too) or
// machines.MemoryNative. The command line's --memory uses it to override
// the machine file; set it before anything runs.
func (k *Kernel) SetMemory(model string) error {
	switch model {
	case "", machines.MemorySC:
		k.native = false
		k.clearStores()
	case machines.MemoryNative:
		k.native = true
	default:
		return fmt.Errorf("unknown memory model %q (want %q or %q)", model, machines.MemorySC, machines.MemoryNative)
	}
	return nil
}

// storeBound is the longest a queueing store stays buffered: twice the
// slowest IPI's way from the send to its handler, so that a store can be
// overtaken by the IPI sent after it. It makes the race reachable; it does
// not estimate how likely hardware makes it.
func (k *Kernel) storeBound() int64 {
	return 2 * (k.T.IPILatency + k.T.Jitter + k.T.IRQEntry)
}

// clearStores forgets every buffered store.
func (k *Kernel) clearStores() {
	for cpu := range k.sbuf.cpus {
		p := &k.sbuf.cpus[cpu]
		for i := range p.q {
			if b := &p.q[i]; liveQueueing(b) {
				b.csd.qSeq, b.csd.qAt = 0, 0
			}
		}
		*p = cpuStores{uCut: k.sbuf.seq}
	}
	k.sbuf.n = 0
}

// bufferQueueing puts the stores that queued csd on target's queue from
// c's CPU in that CPU's store buffer, for a drawn time (emu's StoreDelay;
// none at seed 0), and records them (emu.EvStoreBuffered) when they are
// delayed. first is what the CPU's cmpxchg read: the queue looked empty.
func (k *Kernel) bufferQueueing(c *emu.Context, csd *CSD, target int, first bool) {
	if k.memOracle != nil {
		k.memOracle.bufferQueueing(c, csd, target, first)
		return
	}
	k.retire(c.CPU, csd)
	now, d := k.M.Now(), int64(0)
	if first {
		d = k.M.StoreDelay(k.storeBound())
	} else if k.sbuf.cpus != nil {
		// The cmpxchg read a head this CPU sees, and its write comes after
		// that one in coherence order: a flush that takes the head takes
		// this csd too. It is visible when the CPU's own buffered entries
		// below it are, at once if there are none (nothing is drawn).
		t := k.sbuf.cpus[target].t
		for i := range t {
			if b := &t[i]; b.cpu == c.CPU && liveQueueing(b) {
				d = max(d, b.at-now)
			}
		}
	}
	if d > 0 {
		k.sbuf.seq++
		b := bufStore{csd: csd, cpu: c.CPU, at: now + d, to: target, seq: k.sbuf.seq}
		csd.qSeq, csd.qAt, csd.qCPU = b.seq, b.at, b.cpu
		p := k.stores(c.CPU)
		var gone int
		p.q, gone = prune(append(p.q, b), &p.qKeep, now, true)
		k.sbuf.n += 1 - gone
		tp := k.stores(target)
		tp.t, _ = prune(append(tp.t, b), &tp.tKeep, now, true)
		if k.M.Recording() {
			k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvStoreBuffered, Name: storeQueueing, CSD: uint64(csd.ID),
				Func: csd.Func.PS(), Target: target, Delay: d})
		}
	}
}

// storeQueueing names the queueing stores in the record (emu.Event.Name).
const storeQueueing = "llist_add"

// retire is the start of llist_add() from cpu: an older queueing of csd
// leaves the buffers (replaced), and cpu's csd_unlock() stores still
// buffered are drained, oldest first, as the fully ordered cmpxchg (a
// LOCKed instruction on x86, an RMW with barriers on arm64) makes them
// visible before its own store. Stores every CPU sees by now need nothing:
// the readers skip them.
func (k *Kernel) retire(cpu int, csd *CSD) {
	csd.qSeq, csd.qAt = 0, 0
	if k.sbuf.n == 0 {
		return
	}
	p := &k.sbuf.cpus[cpu]
	if len(p.u) == 0 {
		return
	}
	now := k.M.Now()
	for i := range p.u {
		if p.u[i].at > now {
			k.drained(&p.u[i], "llist_add")
		}
	}
	k.sbuf.n -= len(p.u)
	clear(p.u)
	p.u, p.uKeep, p.uCut = p.u[:0], 0, k.sbuf.seq
}

// hidden reports whether cpu cannot see csd on the queue yet: another
// CPU's store buffer still holds its queueing (a CPU sees its own stores).
func (k *Kernel) hidden(csd *CSD, cpu int) bool {
	if k.memOracle != nil {
		return k.memOracle.hidden(csd, cpu)
	}
	return csd.qAt > k.M.Now() && csd.qCPU != cpu
}

// queueLooksEmpty reports whether cpu, reading target's queue head, finds
// no csd it can see.
func (k *Kernel) queueLooksEmpty(cpu, target int) bool {
	for e := k.pc[target].queue; e != nil; e = e.next {
		if !k.hidden(e, cpu) {
			return false
		}
	}
	return true
}

// sendOrdersStores reports whether the arch's IPI send makes the sender's
// earlier stores visible before the IPI can be taken: an xAPIC ICR write
// is an uncached store, kept behind earlier stores; a WRMSR to the x2APIC
// ICR is not ordered by MFENCE (nor by a LOCKed instruction), only by
// weak_wrmsr_fence()'s MFENCE;LFENCE; the ICC_SGI1R_EL1 write is a
// system-register write that DMB (smp_wmb) does not order, DSB does.
func (k *Kernel) sendOrdersStores() bool {
	switch k.Spec.IRQChip.Kind {
	case "xapic":
		return true
	case "x2apic":
		return k.Fix(FixX2APICWeakWrmsrFence)
	}
	return k.Fix(FixGICv3DSBBeforeSGI)
}

// drainStores is the barrier before the IPI write: cpu's buffered stores
// become visible now.
func (k *Kernel) drainStores(cpu int) { k.drainBy(cpu, k.sendBarrier()) }

// drainPoll is set_nr_if_polling()'s fully ordered cmpxchg on a polling
// idle target's flags, in place of the IPI: cpu's buffered stores become
// visible now.
func (k *Kernel) drainPoll(cpu int) { k.drainBy(cpu, "set_nr_if_polling") }

// sendBarrier names what orders the stores before the IPI write, for the
// record (emu.EvStoreVisible's Site).
func (k *Kernel) sendBarrier() string {
	switch k.Spec.IRQChip.Kind {
	case "xapic":
		return "native_apic_mem_write" // the ICR store, in order behind the others
	case "x2apic":
		return "weak_wrmsr_fence"
	}
	return "dsb(ishst)" // gic_ipi_send_mask()
}

// drainBy makes cpu's buffered stores visible now, recording those still
// invisible (emu.EvStoreVisible, Site barrier) in the order they were
// buffered; a drained unlock wakes its waiters.
func (k *Kernel) drainBy(cpu int, barrier string) {
	if k.memOracle != nil {
		k.memOracle.drainBy(cpu, barrier)
		return
	}
	if k.sbuf.n == 0 {
		return
	}
	p := &k.sbuf.cpus[cpu]
	now, i, j := k.M.Now(), 0, 0
	for i < len(p.q) || j < len(p.u) {
		if j == len(p.u) || i < len(p.q) && p.q[i].seq < p.u[j].seq {
			b := &p.q[i]
			i++
			if !liveQueueing(b) {
				continue
			}
			b.csd.qSeq, b.csd.qAt = 0, 0
			if b.at > now {
				k.drained(b, barrier)
			}
		} else {
			if b := &p.u[j]; b.at > now {
				k.drained(b, barrier)
			}
			j++
		}
	}
	k.sbuf.n -= len(p.q) + len(p.u)
	clear(p.q)
	clear(p.u)
	p.q, p.u, p.qKeep, p.uKeep, p.uCut = p.q[:0], p.u[:0], 0, 0, k.sbuf.seq
}

// drained records b, still invisible, made visible now by barrier; an
// unlock's waiters that start waiting meanwhile (awaitUnlock) wake.
func (k *Kernel) drained(b *bufStore, barrier string) {
	name := storeQueueing
	if b.unlock {
		name = storeUnlock
		b.csd.waiters.Wake(k.M, k.T.WakeLatency)
	}
	if k.M.Recording() {
		k.M.Emit(b.cpu, &emu.Event{Kind: emu.EvStoreVisible, Name: name, CSD: uint64(b.csd.ID),
			Func: b.csd.Func.PS(), Target: b.to, Site: barrier, Delay: b.at - k.M.Now()})
	}
}

// storeUnlock names csd_unlock()'s store in the record (emu.Event.Name).
const storeUnlock = "csd_unlock"

// bufferUnlock is csd_unlock()'s smp_store_release() of csd's flag word
// under the native model, after the word is cleared: it stays in c's
// CPU's store buffer a drawn time (none at seed 0: then it returns false
// and csd_unlock() wakes the waiters as under sc). The other CPUs see the
// csd unlocked only when it is visible: the waiters spinning now wake a
// wake latency after that, and a CPU that starts waiting meanwhile waits
// for it too (awaitUnlock). The release orders the CPU's earlier stores
// before it; they are the function's, which the model does not buffer.
func (k *Kernel) bufferUnlock(c *emu.Context, csd *CSD) bool {
	d := k.M.StoreDelay(k.storeBound())
	if d <= 0 {
		return false
	}
	if k.memOracle != nil {
		k.memOracle.bufferUnlock(c, csd, d)
	} else {
		k.pushUnlock(c.CPU, csd, d)
	}
	if k.M.Recording() {
		k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvStoreBuffered, Name: storeUnlock, CSD: uint64(csd.ID),
			Func: csd.Func.PS(), Target: csd.src, Delay: d})
	}
	csd.waiters.Wake(k.M, k.T.WakeLatency+d)
	return true
}

// pushUnlock buffers csd's unlock in cpu's store buffer for d.
func (k *Kernel) pushUnlock(cpu int, csd *CSD, d int64) {
	now := k.M.Now()
	k.sbuf.seq++
	b := bufStore{csd: csd, cpu: cpu, at: now + d, to: csd.src, unlock: true, seq: k.sbuf.seq}
	p := k.stores(cpu)
	var gone int
	p.u, gone = prune(append(p.u, b), &p.uKeep, now, false)
	k.sbuf.n += 1 - gone
	refs := csd.ubuf[:0] // keep the unlocks still buffered and invisible
	for _, r := range csd.ubuf {
		if r.at > now && r.seq > k.sbuf.cpus[r.cpu].uCut {
			refs = append(refs, r)
		}
	}
	clear(csd.ubuf[len(refs):])
	csd.ubuf = append(refs, unlockRef{at: b.at, seq: b.seq, cpu: b.cpu})
}

// unlockHidden reports until when cpu still sees csd locked (0: it sees
// it unlocked): another CPU's store buffer holds its unlock (a CPU sees
// its own stores).
func (k *Kernel) unlockHidden(csd *CSD, cpu int) int64 {
	if k.memOracle != nil {
		return k.memOracle.unlockHidden(csd, cpu)
	}
	now := k.M.Now()
	for _, r := range csd.ubuf {
		if r.cpu != cpu && r.at > now && r.seq > k.sbuf.cpus[r.cpu].uCut {
			return r.at
		}
	}
	return 0
}

// awaitUnlock is csd_lock_wait()'s smp_cond_load_acquire() on a csd whose
// flag word is clear but whose unlock c's CPU cannot see yet: it spins
// until the unlock is visible and a wake latency more, as a waiter woken
// by it. With rec, the wait is a CSD-lock wait of its own in the record
// (the caller found the csd unlocked); without, it continues one.
func (k *Kernel) awaitUnlock(c *emu.Context, csd *CSD, rec bool) {
	at := k.unlockHidden(csd, c.CPU)
	if at == 0 {
		return
	}
	rec = rec && k.M.Recording()
	if rec {
		k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvCSDWaitBegin, CSD: uint64(csd.ID), Target: csd.dst, Func: csd.Func.PS()})
	}
	for at != 0 {
		k.spinOnCSD(c, csd, at+k.T.WakeLatency)
		at = k.unlockHidden(csd, c.CPU)
	}
	if rec {
		k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvCSDWaitEnd, CSD: uint64(csd.ID), Target: csd.dst, Func: csd.Func.PS()})
	}
}

// splitHidden is llist_del_all() on a queue some of whose csds self cannot
// see yet: it leaves in p the csds self sees, returns the others (their
// order kept) and their number, which stay queued.
func (k *Kernel) splitHidden(p *percpu, self int) (*CSD, int) {
	some := false
	for e := p.queue; e != nil && !some; e = e.next {
		some = k.hidden(e, self)
	}
	if !some {
		return nil, 0
	}
	var vis, hid []*CSD
	for e := p.queue; e != nil; e = e.next {
		if k.hidden(e, self) {
			hid = append(hid, e)
		} else {
			vis = append(vis, e)
		}
	}
	p.queue, p.qlen = link(vis), len(vis)
	return link(hid), len(hid)
}

// link chains list, newest first as the queue keeps it.
func link(list []*CSD) *CSD {
	var head *CSD
	for i := len(list) - 1; i >= 0; i-- {
		list[i].next = head
		head = list[i]
	}
	return head
}
