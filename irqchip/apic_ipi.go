// apic_ipi.go turns "send this IPI to these CPUs" into the ICR writes Linux
// performs on x86.
//
// Mirrors:
//   - arch/x86/kernel/apic/ipi.c (mainline, v6.16 era; the xAPIC helpers
//     __default_send_IPI_dest_field, __default_send_IPI_shortcut,
//     default_send_IPI_single_phys, default_send_IPI_mask_sequence_phys and
//     the ICR low-word builder __prepare_ICR from apic/local.h);
//   - arch/x86/kernel/apic/apic_flat_64.c (flat_send_IPI_mask, as of the
//     v6.5-era rework, before the 2024 removal of 64-bit logical flat mode);
//   - arch/x86/kernel/apic/x2apic_phys.c and x2apic_cluster.c (mainline);
//   - arch/x86/kernel/smp.c native_send_call_func_ipi, the shorthand
//     decision for call-function mask IPIs.
//
// The waits for ICR idle (xAPIC) and the write fences (x2APIC) cost time,
// not register writes, so they are left to the caller's timing model.

package irqchip

// prepareICR builds an ICR low word. Compare Linux's
// arch/x86/kernel/apic/local.h:__prepare_ICR(): an NMI carries delivery mode
// NMI and no vector bits, anything else delivery mode fixed and its vector.
func prepareICR(shorthand uint32, vector int, destMode uint32) uint32 {
	icr := shorthand | destMode
	if vector == NMIVector {
		return icr | APICDMNMI
	}
	return icr | APICDMFixed | uint32(vector)&APICVectorMask
}

// appendDestField appends a directed xAPIC send: ICR2 with the destination
// in bits 24-31, then the ICR low word, whose write sends. Compare Linux's
// ipi.c:__default_send_IPI_dest_field() (callers keep irqs off between the
// two writes; the emulator's sender is not interrupted between them either).
func appendDestField(dst []Write, dest uint32, low uint32) []Write {
	return append(dst,
		Write{Reg: RegICR2, Value: uint64(dest << 24)},
		Write{Reg: RegICR, Value: uint64(low)})
}

// x2apicICR returns the 64-bit value of an x2APIC ICR MSR write. Compare
// Linux's asm/apic.h:native_x2apic_icr_write(): destination in the high
// half, low word in the low half, one WRMSR.
func x2apicICR(dest, low uint32) Write {
	return Write{Reg: RegICR, Value: uint64(dest)<<32 | uint64(low)}
}

// EncodeSingle returns the writes of a directed send of ipi from self to cpu;
// see AppendSingle.
func (a *APIC) EncodeSingle(self, cpu int, ipi IPI) []Write {
	return a.AppendSingle(make([]Write, 0, 2), self, cpu, ipi)
}

// AppendSingle appends the writes of apic->send_IPI(cpu, vector), the path
// of arch_send_call_function_single_ipi() and smp_send_reschedule(); it never
// uses a shorthand. Per driver:
//   - xAPIC physical: ICR2 = APIC ID << 24, ICR = vector (dest physical).
//     Compare Linux's ipi.c:default_send_IPI_single_phys().
//   - xAPIC flat: the driver's send_IPI sends a one-CPU logical mask, so
//     ICR2 = (1 << cpu) << 24, ICR = APIC_DEST_LOGICAL | vector. Compare
//     Linux's apic_flat_64.c, where send_IPI is default_send_IPI_single()
//     (later flat_send_IPI_single()), both ending in flat_send_IPI_mask().
//   - x2APIC physical: one write (APIC ID << 32) | vector. Compare Linux's
//     x2apic_phys.c:x2apic_send_IPI().
//   - x2APIC cluster: one write (logical ID << 32) | APIC_DEST_LOGICAL |
//     vector. Compare Linux's x2apic_cluster.c:x2apic_send_IPI().
//
// self does not change the encoding (it is the CPU whose registers are
// written). Preconditions: cpu is a CPU of the machine.
func (a *APIC) AppendSingle(dst []Write, self, cpu int, ipi IPI) []Write {
	vector := a.Vector(ipi)
	switch a.mode {
	case xapicPhysical:
		return appendDestField(dst, a.APICID(cpu), prepareICR(0, vector, APICDestPhysical))
	case xapicFlat:
		return appendDestField(dst, a.LogicalID(cpu), prepareICR(0, vector, APICDestLogical))
	case x2apicPhysical:
		return append(dst, x2apicICR(a.APICID(cpu), prepareICR(0, vector, APICDestPhysical)))
	default: // x2apicCluster
		return append(dst, x2apicICR(a.LogicalID(cpu), prepareICR(0, vector, APICDestLogical)))
	}
}

// EncodeMask returns the writes that send ipi from self to targets; see
// AppendMask.
func (a *APIC) EncodeMask(self int, targets []int, ipi IPI, online func(cpu int) bool, nrOnline int) []Write {
	return a.AppendMask(nil, self, targets, ipi, online, nrOnline)
}

// AppendMask appends the writes that send ipi from self to every CPU of
// targets.
//
// For CallFunction it first makes the decision of Linux's
// arch/x86/kernel/smp.c:native_send_call_func_ipi(): when shorthands are
// enabled (SetIPIShorthand) and targets ∪ {self} is exactly the online set,
// it sends one shorthand ICR write, ALLINC if self is in targets, else ALLBUT
// if more than one CPU is online, else nothing. The shorthand write has
// destination 0 and destination mode physical (Compare Linux's
// ipi.c:__default_send_IPI_shortcut() and the x2APIC drivers'
// __x2apic_send_IPI_shorthand()): ALLBUT for CALL_FUNCTION_VECTOR is ICR =
// 0x000C00FC. The other IPIs take apic->send_IPI_mask directly, as Linux does
// (the NMI backtrace goes through nmi_raise_cpu_backtrace(), which never uses
// a shorthand), so they never use one.
//
// Otherwise the driver's send_IPI_mask:
//   - xAPIC physical: an ICR2/ICR pair per target, ascending. Compare
//     Linux's ipi.c:default_send_IPI_mask_sequence_phys().
//   - xAPIC flat: one ICR2/ICR pair for all targets, ICR2 = the OR of their
//     1 << cpu bits, << 24. Compare Linux's apic_flat_64.c:flat_send_IPI_mask().
//   - x2APIC physical: one write per target, ascending. Compare Linux's
//     x2apic_phys.c:__x2apic_send_IPI_mask().
//   - x2APIC cluster: one write per cluster: take the first remaining
//     target, OR the logical IDs of all remaining targets in its cluster,
//     write, drop them, repeat. Compare Linux's
//     x2apic_cluster.c:__x2apic_send_IPI_mask().
//
// An empty targets sends nothing. The cost is O(len(targets)); nothing is
// allocated beyond growing dst.
//
// Preconditions: targets is ascending without duplicates, every entry a CPU
// of the machine; online(self) and nrOnline describe the current online set.
func (a *APIC) AppendMask(dst []Write, self int, targets []int, ipi IPI, online func(cpu int) bool, nrOnline int) []Write {
	vector := a.Vector(ipi)
	if ipi == CallFunction && a.shorthand {
		if selfIn, equal := orEqualsOnline(self, targets, online, nrOnline); equal {
			switch {
			case selfIn:
				return a.appendShorthand(dst, APICDestAllInc, vector)
			case nrOnline > 1:
				return a.appendShorthand(dst, APICDestAllBut, vector)
			}
			return dst
		}
	}
	if len(targets) == 0 {
		return dst
	}
	switch a.mode {
	case xapicPhysical:
		low := prepareICR(0, vector, APICDestPhysical)
		for _, cpu := range targets {
			dst = appendDestField(dst, a.APICID(cpu), low)
		}
	case xapicFlat:
		var mask uint32
		for _, cpu := range targets {
			mask |= a.LogicalID(cpu)
		}
		dst = appendDestField(dst, mask, prepareICR(0, vector, APICDestLogical))
	case x2apicPhysical:
		low := prepareICR(0, vector, APICDestPhysical)
		for _, cpu := range targets {
			dst = append(dst, x2apicICR(a.APICID(cpu), low))
		}
	case x2apicCluster:
		dst = a.appendClusterMask(dst, targets, prepareICR(0, vector, APICDestLogical))
	}
	return dst
}

// orEqualsOnline reports whether targets ∪ {self} equals the online set,
// and whether self is in targets, in O(len(targets)). Compare Linux's
// cpumask_or_equal(mask, cpumask_of(self), cpu_online_mask).
func orEqualsOnline(self int, targets []int, online func(cpu int) bool, nrOnline int) (selfIn, equal bool) {
	// The union has len(targets) or len(targets)+1 CPUs.
	if len(targets)+1 < nrOnline || len(targets) > nrOnline || !online(self) {
		return false, false
	}
	n := 1 // self
	for _, cpu := range targets {
		if cpu == self {
			selfIn = true
			continue
		}
		if !online(cpu) {
			return false, false
		}
		n++
	}
	return selfIn, n == nrOnline
}

// appendShorthand appends a shorthand send: the ICR low word alone on xAPIC
// (ICR2 is ignored and not written), destination 0 on x2APIC.
func (a *APIC) appendShorthand(dst []Write, shorthand uint32, vector int) []Write {
	low := prepareICR(shorthand, vector, APICDestPhysical)
	if a.X2APIC() {
		return append(dst, x2apicICR(0, low))
	}
	return append(dst, Write{Reg: RegICR, Value: uint64(low)})
}

// appendClusterMask appends one logical write per x2APIC cluster of
// targets, in order of each cluster's first target. Linux walks a scratch
// copy of the mask and clears each cluster's CPUs once sent; this walks
// targets once and ORs each CPU into its cluster's write, found through the
// slot scratch, which yields the same writes in the same order.
func (a *APIC) appendClusterMask(dst []Write, targets []int, low uint32) []Write {
	if a.slotGen == nil {
		a.slotGen = make([]uint32, a.nclusters)
		a.slotAt = make([]int32, a.nclusters)
	}
	a.gen++
	if a.gen == 0 { // wrapped: forget every stale stamp
		clear(a.slotGen)
		a.gen = 1
	}
	for _, cpu := range targets {
		var c int32
		if a.clusterOf == nil {
			a.checkCPU(cpu)
			c = int32(cpu >> 4)
		} else {
			c = a.clusterOf[cpu]
		}
		logical := uint64(a.LogicalID(cpu)) << 32
		if a.slotGen[c] == a.gen {
			dst[a.slotAt[c]].Value |= logical
			continue
		}
		a.slotGen[c] = a.gen
		a.slotAt[c] = int32(len(dst))
		dst = append(dst, Write{Reg: RegICR, Value: logical | uint64(low)})
	}
	return dst
}
