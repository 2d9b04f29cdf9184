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
// register whose write x86 keeps behind earlier stores. See
// docs/memory.md#the-kernel-under-a-native-memory-model.

package xcall

import (
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
)

// bufStore is a queued csd whose queueing stores are still in the store
// buffer of CPU cpu: no other CPU sees the csd on its queue before time at.
type bufStore struct {
	csd *CSD
	cpu int
	at  int64
	to  int // the CPU whose queue: the record's Target
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
		k.sbuf = k.sbuf[:0]
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

// bufferQueueing puts the stores that queued csd on target's queue from
// c's CPU in that CPU's store buffer, for a drawn time (emu's StoreDelay;
// none at seed 0), and records them (emu.EvStoreBuffered) when they are
// delayed.
func (k *Kernel) bufferQueueing(c *emu.Context, csd *CSD, target int) {
	k.retireStores()
	for i := range k.sbuf {
		if k.sbuf[i].csd == csd {
			k.sbuf = append(k.sbuf[:i], k.sbuf[i+1:]...)
			break
		}
	}
	if d := k.M.StoreDelay(k.storeBound()); d > 0 {
		k.sbuf = append(k.sbuf, bufStore{csd: csd, cpu: c.CPU, at: k.M.Now() + d, to: target})
		if k.M.Recording() {
			k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvStoreBuffered, Name: storeQueueing, CSD: uint64(csd.ID),
				Func: csd.Func.PS(), Target: target, Delay: d})
		}
	}
}

// storeQueueing names the queueing stores in the record (emu.Event.Name).
const storeQueueing = "llist_add"

// retireStores drops the buffered stores every CPU sees by now.
func (k *Kernel) retireStores() {
	now, j := k.M.Now(), 0
	for _, b := range k.sbuf {
		if b.at > now {
			k.sbuf[j] = b
			j++
		}
	}
	k.sbuf = k.sbuf[:j]
}

// hidden reports whether cpu cannot see csd on the queue yet: another
// CPU's store buffer still holds its queueing (a CPU sees its own stores).
func (k *Kernel) hidden(csd *CSD, cpu int) bool {
	now := k.M.Now()
	for _, b := range k.sbuf {
		if b.csd == csd {
			return b.cpu != cpu && b.at > now
		}
	}
	return false
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
// invisible (emu.EvStoreVisible, Site barrier).
func (k *Kernel) drainBy(cpu int, barrier string) {
	now, j := k.M.Now(), 0
	for _, b := range k.sbuf {
		if b.cpu != cpu {
			k.sbuf[j] = b
			j++
		} else if b.at > now && k.M.Recording() {
			k.M.Emit(cpu, &emu.Event{Kind: emu.EvStoreVisible, Name: storeQueueing, CSD: uint64(b.csd.ID),
				Func: b.csd.Func.PS(), Target: b.to, Site: barrier, Delay: b.at - now})
		}
	}
	k.sbuf = k.sbuf[:j]
}

// splitHidden is llist_del_all() on a queue some of whose csds self cannot
// see yet: it leaves in p the csds self sees, returns the others (their
// order kept) and their number, which stay queued.
func (k *Kernel) splitHidden(p *percpu, self int) (*CSD, int) {
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
