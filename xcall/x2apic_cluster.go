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
// cluster mode; nil on any other machine.
type x2apicClusters struct {
	cluster []int      // each CPU's cluster: its APIC ID >> 4
	masks   []*Cpumask // cluster_masks: nil until the CPU ran init_x2apic_ldr()
}

// x2apicCluster reports whether the machine runs the cluster x2APIC driver.
func (k *Kernel) x2apicCluster() bool {
	return k.Spec.IsX86() && k.Spec.IRQChip.Kind == "x2apic" && k.Spec.IRQChip.Mode == "cluster"
}

// x2apicInitLDR is init_x2apic_ldr() on cpu as it comes up: link cpu to
// the mask of an online CPU of its cluster, or to a new one, and set its
// bit there.
func (k *Kernel) x2apicInitLDR(cpu int) {
	if !k.x2apicCluster() {
		return
	}
	x := k.x2c
	if x == nil {
		x = &x2apicClusters{cluster: make([]int, k.nr), masks: make([]*Cpumask, k.nr)}
		for i := range x.cluster {
			x.cluster[i] = k.Spec.IRQChip.APICIDs[i] >> 4
		}
		k.x2c = x
	}
	m := x.masks[cpu]
	if m == nil {
		for i := 0; i < k.nr && m == nil; i++ {
			if k.online.Test(i) && x.masks[i] != nil && x.cluster[i] == x.cluster[cpu] {
				m = x.masks[i]
			}
		}
		if m == nil {
			nm := NewCpumask(k.nr)
			m = &nm
		}
		x.masks[cpu] = m
	}
	m.Set(cpu)
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
	var m *Cpumask
	if k.x2c != nil {
		m = k.x2c.masks[cpu]
	}
	if m != nil {
		m.Clear(cpu)
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
	k.dumpRegsAndStack(c, "x2apic_dead_cpu+0x1a/0x30")
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
