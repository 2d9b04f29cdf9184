// This file models the TLB shootdown of arch/x86/mm/tlb.c as far as it
// decides who gets a flush IPI: per mm the generation counter
// mm->context.tlb_gen and mm_cpumask(), per CPU cpu_tlbstate (loaded_mm,
// the generation its TLB is flushed to, ctxs[asid].tlb_gen) and
// cpu_tlbstate_shared.is_lazy; switch_mm() / switch_mm_irqs_off(),
// enter_lazy_tlb(), flush_tlb_mm_range() -> native_flush_tlb_multi() ->
// on_each_cpu_cond_mask(should_flush_tlb, flush_tlb_func, ...), and
// flush_tlb_func(). The shared words (loaded_mm, is_lazy, tlb_gen) live in
// varmem.go's memory, so under the native memory model a CPU's store of
// LOADED_MM_SWITCHING may stay in its store buffer past its own load of
// tlb_gen. Two fixes are switches: fea4e317f9e7 (should_flush_tlb()
// treats LOADED_MM_SWITCHING as "must flush", with an smp_rmb() between
// its loads) and 83b0177a6c48 (switch_mm_irqs_off() has an smp_mb()
// between that store and the tlb_gen load when cpumask_set_cpu() does not
// provide one). Left out: ASIDs run out (every mm keeps its PCID slot on
// every CPU, as if TLB_NR_DYN_ASIDS were unbounded), partial flushes and
// page ranges (every flush is of the whole mm), freed page tables (the
// on_each_cpu_mask() path), the once-a-second mm_cpumask trimming, INVLPGB
// broadcast flushes, LAM, and hotplug of a CPU holding an mm. The checker
// (checkTLB) fails a run when a CPU uses an mm with its TLB older than a
// generation a flush_tlb_mm_range() already returned for: the stale TLB,
// silent in the kernel. See docs/memory.md#the-tlb-flush-path.

package xcall

import (
	"errors"
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
)

// An mm's number: 0 is init_mm, the named mms follow in order of first use.
const (
	initMM            = 0
	loadedMMSwitching = -1 // LOADED_MM_SWITCHING, the value loaded_mm holds while a CPU switches
)

// Costs of the TLB path, in ns; illustrative, fixed.
const (
	tlbChooseASID = 50  // switch_mm_irqs_off(): from the tlb_gen load to the CR3 write (choose_new_asid())
	tlbCR3Write   = 100 // the CR3 write (load_new_mm_cr3()), flushing or not
	tlbFlushCost  = 100 // flush_tlb_func(): invalidating the loaded mm's entries
)

// ErrStaleTLB is the stale-TLB checker's verdict: the failure a run stops
// with.
var ErrStaleTLB = errors.New("stale TLB")

// ErrTLBArch is returned by the TLB functions on a machine that is not
// x86: arm64 invalidates with broadcast TLBI instructions, no IPIs.
var ErrTLBArch = errors.New("the TLB flush path is x86's (arch/x86/mm/tlb.c); an arm64 machine flushes with broadcast TLBI, no IPIs")

// mmStruct is one mm_struct: its name and mm_cpumask(); the cpumask is
// changed only by LOCKed bit operations (cpumask_set_cpu(),
// cpumask_clear_cpu()), so every CPU sees it at once.
type mmStruct struct {
	name    string
	cpumask Cpumask
}

// cpuTLB is one CPU's cpu_tlbstate as the CPU itself knows it, and what
// its TLB holds.
type cpuTLB struct {
	loaded int  // cpu_tlbstate.loaded_mm (the CPU's own view)
	lazy   bool // cpu_tlbstate_shared.is_lazy (own view)
	cr3    int  // the mm whose translations the CPU uses (CR3)
	// gen[mm]: ctxs[asid].tlb_gen, the generation the CPU's entries for
	// mm are flushed to. A flush here invalidates the whole ASID, so it
	// is also what the TLB really holds.
	gen []int64
}

// tlbState is the TLB path's state, made on the kernel's first use.
type tlbState struct {
	mms  []*mmStruct // by number; 0 is init_mm
	cpus []cpuTLB
	// Per mm: the newest generation a flush_tlb_mm_range() returned for,
	// on which CPU and when (for the checker's message).
	done    []int64
	doneCPU []int
	doneAt  []int64
	flush   *Func // flush_tlb_func
}

// flushInfo is struct flush_tlb_info: the mm, the generation the flush
// asks for, and the CPU that started it.
type flushInfo struct {
	mm     int
	newGen int64
	cpu    int
}

// The keys of the shared words in varmem.go's memory.
func loadedKey(cpu int) varKey { return varKey{"cpu_tlbstate.loaded_mm", cpu} }
func lazyKey(cpu int) varKey   { return varKey{"cpu_tlbstate_shared.is_lazy", cpu} }
func genKey(mm int) varKey     { return varKey{"mm->context.tlb_gen", mm} }

// tlbs is the TLB state, made on first use: every CPU in init_mm.
func (k *Kernel) tlbs() *tlbState {
	if k.tlb == nil {
		t := &tlbState{cpus: make([]cpuTLB, k.nr)}
		t.flush = &Func{Name: "flush_tlb_func", Size: 0x2a0, Fn: k.flushTLBFunc}
		t.addMM("init_mm", k.nr)
		k.tlb = t
	}
	return k.tlb
}

func (t *tlbState) addMM(name string, nr int) int {
	t.mms = append(t.mms, &mmStruct{name: name, cpumask: NewCpumask(nr)})
	t.done = append(t.done, 0)
	t.doneCPU = append(t.doneCPU, -1)
	t.doneAt = append(t.doneAt, 0)
	return len(t.mms) - 1
}

// genOf is ctxs[asid].tlb_gen of mm on the CPU.
func (s *cpuTLB) genOf(mm int) int64 {
	if mm < len(s.gen) {
		return s.gen[mm]
	}
	return 0
}

func (s *cpuTLB) setGen(mm int, g int64) {
	for len(s.gen) <= mm {
		s.gen = append(s.gen, 0)
	}
	s.gen[mm] = g
}

// MaxMMName is the longest name an mm may have.
const MaxMMName = 32

// MM returns the number of the mm called name, creating it (tlb_gen 0, an
// empty mm_cpumask) on first use; "init_mm" is the kernel's own.
func (k *Kernel) MM(name string) (int, error) {
	if !k.Spec.IsX86() {
		return 0, ErrTLBArch
	}
	if name == "" || len(name) > MaxMMName {
		return 0, fmt.Errorf("an mm's name is 1 to %d bytes, got %q", MaxMMName, name)
	}
	t := k.tlbs()
	for i, m := range t.mms {
		if m.name == name {
			return i, nil
		}
	}
	return t.addMM(name, k.nr), nil
}

// MMName is the name of mm number mm ("LOADED_MM_SWITCHING" for -1).
func (k *Kernel) MMName(mm int) string {
	if mm == loadedMMSwitching {
		return "LOADED_MM_SWITCHING"
	}
	return k.tlbs().mms[mm].name
}

// MMTLBGen is mm->context.tlb_gen as every CPU sees it.
func (k *Kernel) MMTLBGen(mm int) int64 { return k.varVisible(genKey(mm)) }

// MMCpumask is a copy of mm_cpumask(mm).
func (k *Kernel) MMCpumask(mm int) Cpumask { return k.tlbs().mms[mm].cpumask.Copy() }

// CPUTLBState is cpu's cpu_tlbstate as cpu knows it: loaded_mm (an mm's
// number, or -1 for LOADED_MM_SWITCHING), is_lazy, and the generation its
// TLB is flushed to for the loaded mm.
func (k *Kernel) CPUTLBState(cpu int) (loaded int, lazy bool, gen int64) {
	s := &k.tlbs().cpus[cpu]
	if s.loaded >= 0 {
		gen = s.genOf(s.loaded)
	}
	return s.loaded, s.lazy, gen
}

// SwitchMM is switch_mm(): switch_mm_irqs_off() with interrupts off.
func (k *Kernel) SwitchMM(c *emu.Context, next int) {
	flags := k.LocalIRQSave(c)
	k.SwitchMMIrqsOff(c, next)
	k.LocalIRQRestore(c, flags)
}

// SwitchMMIrqsOff is switch_mm_irqs_off(): c's CPU starts using mm next
// (interrupts must be off, so no flush IPI runs in between).
func (k *Kernel) SwitchMMIrqsOff(c *emu.Context, next int) {
	cpu := c.CPU
	t := k.tlbs()
	s := &t.cpus[cpu]
	prev, wasLazy := s.loaded, s.lazy
	if wasLazy {
		s.lazy = false
		k.varStoreTo(cpu, lazyKey(cpu), 0)
	}
	var gen int64
	needFlush := false
	if prev == next {
		if !wasLazy {
			return // another thread of the same process
		}
		// Back from lazy mode: the kernel's own smp_mb() pairs with the
		// flusher's tlb_gen increment, then the TLB is checked.
		k.smpMB(cpu)
		gen = k.varLoad(cpu, genKey(next))
		if s.genOf(next) == gen {
			k.checkTLB(c, cpu)
			return
		}
		needFlush = true
	} else {
		// Tell the flushers CR3 is about to change, then start receiving
		// IPIs (the CPU's bit stays set in prev's mask: mm_cpumask is
		// updated lazily since 209954cbc7d0) and read tlb_gen.
		s.loaded = loadedMMSwitching
		k.varStoreTo(cpu, loadedKey(cpu), loadedMMSwitching)
		if m := t.mms[next]; next != initMM && !m.cpumask.Test(cpu) {
			k.smpMB(cpu) // cpumask_set_cpu() is a LOCKed instruction
			m.cpumask.Set(cpu)
		} else if k.Fix(FixSwitchMMSmpMB) {
			k.smpMB(cpu)
		}
		gen = k.varLoad(cpu, genKey(next))
		needFlush = next != initMM && s.genOf(next) < gen
		k.spend(c, tlbChooseASID, "choose_new_asid")
	}
	// The CR3 write is serializing: it drains the store buffer.
	k.smpMB(cpu)
	if needFlush {
		s.setGen(next, gen)
	}
	s.cr3 = next
	k.spend(c, tlbCR3Write, "load_new_mm_cr3")
	s.loaded = next
	k.varStoreTo(cpu, loadedKey(cpu), int64(next))
	k.checkTLB(c, cpu)
}

// EnterLazyTLB is enter_lazy_tlb(): c's CPU runs a kernel thread on the
// mm it has loaded, which stays loaded; flushers may skip it.
func (k *Kernel) EnterLazyTLB(c *emu.Context) {
	cpu := c.CPU
	s := &k.tlbs().cpus[cpu]
	if s.loaded == initMM {
		return
	}
	s.lazy = true
	k.varStoreTo(cpu, lazyKey(cpu), 1)
}

// FlushTLBMMRange is flush_tlb_mm_range(mm, 0, TLB_FLUSH_ALL, 0, false)
// (flush_tlb_mm()): the caller has changed mm's page tables; it bumps
// mm's tlb_gen and gets every CPU that may cache the old entries to flush
// them, waiting for them.
func (k *Kernel) FlushTLBMMRange(c *emu.Context, mm int) {
	t := k.tlbs()
	cpu := c.CPU
	k.PreemptDisable(c)
	gen := k.varAddReturn(cpu, genKey(mm), 1) // inc_mm_tlb_gen()
	info := &flushInfo{mm: mm, newGen: gen, cpu: cpu}
	m := t.mms[mm]
	if other := m.cpumask.Next(0); other >= 0 && (other != cpu || m.cpumask.Next(cpu+1) >= 0) {
		// native_flush_tlb_multi()
		k.OnEachCPUCondMask(c, k.shouldFlushTLB, t.flush, info, true, m.cpumask)
	} else if t.cpus[cpu].loaded == mm {
		flags := k.LocalIRQSave(c)
		k.call(c, t.flush, info)
		k.LocalIRQRestore(c, flags)
	}
	k.PreemptEnable(c)
	if gen > t.done[mm] {
		t.done[mm], t.doneCPU[mm], t.doneAt[mm] = gen, cpu, k.M.Now()
	}
	for o := range t.cpus {
		k.checkTLB(c, o)
	}
}

// shouldFlushTLB is should_flush_tlb(), run by the flushing CPU for each
// CPU of mm_cpumask: it reads the target's loaded_mm and is_lazy.
func (k *Kernel) shouldFlushTLB(c *emu.Context, cpu int, info any) (bool, error) {
	f := info.(*flushInfo)
	loaded := int(k.varLoad(c.CPU, loadedKey(cpu)))
	// (the fix's smp_rmb() here: loads are in order on x86)
	if k.varLoad(c.CPU, lazyKey(cpu)) != 0 {
		return false, nil // flushed at the next switch_mm()
	}
	if loaded == loadedMMSwitching && k.Fix(FixShouldFlushTLBSwitching) {
		return true, nil
	}
	return loaded == f.mm, nil
}

// flushTLBFunc is flush_tlb_func(), on each CPU the flush picked.
func (k *Kernel) flushTLBFunc(c *emu.Context, info any) error {
	f := info.(*flushInfo)
	cpu := c.CPU
	t := k.tlbs()
	s := &t.cpus[cpu]
	loaded := s.loaded
	if loaded == initMM {
		return nil
	}
	if cpu != f.cpu {
		if s.lazy {
			k.SwitchMMIrqsOff(c, initMM)
			return nil
		}
		if f.mm != loaded {
			k.smpMB(cpu) // cpumask_clear_cpu() is LOCKed
			t.mms[f.mm].cpumask.Clear(cpu)
			return nil
		}
	}
	gen := k.varLoad(cpu, genKey(loaded))
	if s.genOf(loaded) >= gen {
		return nil
	}
	k.spend(c, tlbFlushCost, "flush_tlb_func")
	s.setGen(loaded, gen)
	return nil
}

// checkTLB is the stale-TLB checker for cpu: if it uses an mm (CR3, not
// lazy) whose entries it flushed only to a generation older than one a
// flush_tlb_mm_range() already returned for, the run fails.
func (k *Kernel) checkTLB(c *emu.Context, cpu int) {
	t := k.tlb
	s := &t.cpus[cpu]
	mm := s.cr3
	if mm == initMM || s.lazy || s.genOf(mm) >= t.done[mm] {
		return
	}
	k.fail(c, fmt.Errorf("%w: CPU %d uses mm %s with its TLB flushed only to tlb_gen %d, after flush_tlb_mm_range(%s) on CPU %d returned for tlb_gen %d (at %d ns)",
		ErrStaleTLB, cpu, t.mms[mm].name, s.genOf(mm), t.mms[mm].name, t.doneCPU[mm], t.done[mm], t.doneAt[mm]))
}
