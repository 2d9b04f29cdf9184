// This file mirrors the cluster bookkeeping of arch/x86/kernel/apic/
// x2apic_cluster.c as commit 023a611748fd ("x86/apic/x2apic: Simplify
// cluster management", v4.14) left it and commit 7a22e03b0c02 (v5.4)
// fixed it: every CPU points at the mask of the CPUs of its x2APIC
// cluster (cluster_masks). The pointer is set only when the CPU itself
// runs init_x2apic_ldr() from smp_callin(), in CPUHP_BRINGUP_CPU, while
// the teardown x2apic_dead_cpu() belongs to the earlier
// CPUHP_X2APIC_PREPARE: a bring-up that fails before the CPU runs rolls
// back through a teardown that finds no mask.
//
// The model keeps the masks but not a CPUHP_X2APIC_PREPARE state of its
// own (which would renumber every state the traces print): the teardown
// runs where the kernel orders it, between the model's RCU/tree:prepare
// and hrtimers:prepare, without cpuhp_enter/cpuhp_exit events. IPIs are
// encoded by the irqchip from the APIC IDs, which gives the same writes
// as the masks whenever they are right; the masks matter here for the
// teardown only. See docs/fixes.md: x2apic_dead_null_check.

package xcall

import (
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
)

// x2apicClusters is the per-CPU cluster_masks of an x2APIC machine in
// cluster mode; nil on any other machine. A cluster holds at most 16
// CPUs, one per value of the low four bits of the APIC ID, so a mask is
// 16 bits indexed by them. The model keeps one mask per cluster (the
// kernel may allocate a second one when every CPU of a cluster went
// offline; nothing tells them apart).
type x2apicClusters struct {
	masks     []*x2apicMask       // cluster_masks: nil until the CPU ran init_x2apic_ldr()
	byCluster map[int]*x2apicMask // looked up, never ranged
	slab      []x2apicMask        // the masks themselves: at most one per CPU, never reallocated
}

// x2apicMask is one cluster's struct cluster_mask.
type x2apicMask struct{ bits uint16 }

// x2apicCluster reports whether the machine runs the cluster x2APIC driver.
func (k *Kernel) x2apicCluster() bool {
	return k.Spec.IsX86() && k.Spec.IRQChip.Kind == "x2apic" && k.Spec.IRQChip.Mode == "cluster"
}

// x2apicBit is cpu's bit in its cluster's mask.
func (k *Kernel) x2apicBit(cpu int) uint16 { return 1 << (k.Spec.IRQChip.APICIDs[cpu] & 0xf) }

// x2apicInitLDR is init_x2apic_ldr() on cpu as it comes up: link cpu to
// its cluster's mask (a new one for the first CPU of a cluster) and set
// its bit there.
func (k *Kernel) x2apicInitLDR(cpu int) {
	if !k.x2apicCluster() {
		return
	}
	x := k.x2c
	if x == nil {
		x = &x2apicClusters{
			masks:     make([]*x2apicMask, k.nr),
			byCluster: make(map[int]*x2apicMask, (k.nr+15)/16),
			slab:      make([]x2apicMask, 0, k.nr),
		}
		k.x2c = x
	}
	m := x.masks[cpu]
	if m == nil {
		cluster := k.Spec.IRQChip.APICIDs[cpu] >> 4
		if m = x.byCluster[cluster]; m == nil {
			x.slab = append(x.slab, x2apicMask{})
			m = &x.slab[len(x.slab)-1]
			x.byCluster[cluster] = m
		}
		x.masks[cpu] = m
	}
	m.bits |= k.x2apicBit(cpu)
}

// x2apicDeadCPU is x2apic_dead_cpu(cpu), the teardown of
// CPUHP_X2APIC_PREPARE, on the control CPU c (nil at boot): clear cpu
// from its cluster's mask. Before 7a22e03b0c02 it did not check that the
// CPU ever linked a mask: for a CPU whose bring-up failed before it ran,
// that is a NULL pointer dereference (the mask sits 8 bytes into struct
// cluster_mask), an oops, and a panic. It reports whether the kernel
// goes on.
func (k *Kernel) x2apicDeadCPU(c *emu.Context, cpu int) bool {
	if !k.x2apicCluster() {
		return true
	}
	var m *x2apicMask
	if k.x2c != nil {
		m = k.x2c.masks[cpu]
	}
	if m != nil {
		m.bits &^= k.x2apicBit(cpu)
		return true
	}
	if k.Fix(FixX2APICDeadNullCheck) || c == nil {
		return true
	}
	self := c.CPU
	k.printk(self, "BUG: kernel NULL pointer dereference, address: 0000000000000008")
	k.printk(self, "#PF: supervisor write access in kernel mode")
	k.printk(self, "#PF: error_code(0x0002) - not-present page")
	k.printk(self, "Oops: Oops: 0002 [#1] PREEMPT SMP NOPTI")
	Enter(c, "cpuhp_invoke_callback+0x9a/0x580")
	k.dumpRegsAndStack(c, "x2apic_dead_cpu+0x1a/0x30", k.M.CPU(self).IRQsOff)
	k.printk(self, "---[ end trace 0000000000000000 ]---")
	k.Panic(c, "Fatal exception", "BUG: kernel NULL pointer dereference, address: 0000000000000008")
	return false
}

// doBootCPUFailed is what native_kick_ap() prints when do_boot_cpu()
// fails (arch/x86/kernel/smpboot.c, pr_fmt "smpboot: "); arm64's
// __cpu_up() says it differently and is not modelled.
func (k *Kernel) doBootCPUFailed(c *emu.Context, cpu, ret int) {
	if !k.Spec.IsX86() {
		return
	}
	self := 0
	if c != nil {
		self = c.CPU
	}
	k.printk(self, fmt.Sprintf("smpboot: do_boot_cpu failed(%d) to wakeup CPU#%d", ret, cpu))
}
