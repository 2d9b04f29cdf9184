// Package scripts holds the built-in scenarios: Lua scripts embedded in the
// binary so that `xcallsh run NAME` works from any directory.
package scripts

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.lua
var files embed.FS

// Scenario is one built-in scenario.
type Scenario struct {
	Name        string // file name without .lua
	Description string // the first comment line
	Source      string
}

// All lists the built-in scenarios by name.
func All() []Scenario {
	entries, _ := fs.ReadDir(files, ".")
	var out []Scenario
	for _, e := range entries {
		if s, ok := Lookup(strings.TrimSuffix(e.Name(), ".lua")); ok {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup finds a built-in scenario by name.
func Lookup(name string) (Scenario, bool) {
	b, err := files.ReadFile(name + ".lua")
	if err != nil {
		return Scenario{}, false
	}
	src := string(b)
	desc := ""
	for _, line := range strings.Split(src, "\n") {
		if t, ok := strings.CutPrefix(line, "--"); ok {
			desc = strings.TrimSpace(t)
			break
		}
	}
	return Scenario{Name: name, Description: desc, Source: src}, true
}

// Bug is a scenario of the catalogue of kernel bugs: the scenario that
// reproduces it, what breaks, and what switches it on and off.
type Bug struct {
	Scenario string // the scenario's name
	Bug      string // what goes wrong, in a few words
	// Switch is what makes the bug: a fix's name (docs/fixes.md; the
	// scenario runs with `fix(name, false)` and with the fix on),
	// "caller: ..." for a rule the caller breaks, or "machine: ..." for
	// a machine property.
	Switch string
	Commit string // the commit of the fix, "" when there is none
}

// bugs is the catalogue, in the order docs/fixes.md lists the fixes; a
// scenario with two fixes has a row for each.
var bugs = []Bug{
	{"fix_dying_flush", "an IPI that reaches a CPU after it went offline (sent by a task)", "dying_flush", "8d056c48e486"},
	{"fix_dying_flush_devirq", "an IPI that reaches a CPU after it went offline (sent by a device interrupt)", "dying_flush", "8d056c48e486"},
	{"lost_ipi", "a lost IPI hangs a synchronous call; the CSD-lock debug re-sends it", "csd_resend_ipi", "35feb60474bf"},
	{"fix_async_csd", "an async csd still in flight: csd_lock() spins instead of -EBUSY", "async_ebusy", "5a18ceca6350"},
	{"fix_async_csd", "an async csd unlocked only after its callback: a re-arm is lost", "async_unlock_before_func", "8053871d0f7f"},
	{"fix_offline_check", "the \"IPI on offline CPU\" check looked at the emptied queue", "offline_check_list", "9e949a388635"},
	{"fix_clock_backward", "a waiter's clock going backward reports a healthy CPU", "clock_backward_check", "9fbaa44114ca"},
	{"fix_csd_nmi_pileup", "every CSD waiter NMIs the same stalled CPU", "csd_nmi_once", "0d3a00b37042"},
	{"fix_record_after_unlock", "the CSD diagnostics read a csd after releasing it", "record_null_after_unlock", "35feb60474bf"},
	{"fix_x2apic_dead_null", "x2APIC cluster teardown after a failed bring-up dereferences NULL", "x2apic_dead_null_check", "7a22e03b0c02"},
	{"queue_types", "SYNC calls wait behind ASYNC callbacks in one in-order flush", "sync_first", "52103be07d8b"},
	{"ilb_kick", "kick_ilb() releases its csd's owner flag too early: -EBUSY", "ilb_csd_release", "19a1f5ec6999"},
	{"fix_softirq_idle_flush", "a softirq raised by a callback the idle loop ran stays pending", "softirq_after_idle_flush", "f9d34595ae4f"},
	{"softirq_reentry", "a softirq calls smp_call_function_single() on a CPU interrupted mid-call", "warn_softirq_calls", "19dbdcb8039c"},
	{"fix_gicv3_dsb_sgi", "under --memory native, the GICv3 SGI overtakes the llist_add: the call is stranded", "gicv3_dsb_before_sgi", "21ec30c0ef52"},
	{"fix_x2apic_wrmsr_fence", "under --memory native, the x2APIC ICR WRMSR overtakes the llist_add: the call is stranded", "x2apic_weak_wrmsr_fence", "25a068b8e9a4"},
	{"xapic_icr_ordered", "the negative control of fix_x2apic_wrmsr_fence: the xAPIC ICR store is ordered", "machine: irqchip kind", ""},
	{"fix_tlb_switch_mm", "x86 TLB shootdown: should_flush_tlb() skips a CPU it sees LOADED_MM_SWITCHING, which read the old tlb_gen: a stale TLB", "should_flush_tlb_switching", "fea4e317f9e7"},
	{"fix_tlb_switch_mm", "under --memory native, switch_mm_irqs_off()'s LOADED_MM_SWITCHING store waits in the store buffer past its tlb_gen load: a stale TLB", "switch_mm_smp_mb", "83b0177a6c48"},
	{"tlb_switch_mm_fixed", "the negative control of fix_tlb_switch_mm: both fixes on, no schedule leaves a stale TLB", "should_flush_tlb_switching", "fea4e317f9e7"},
	{"mask_snapshot_offline", "a caller without preemption disabled queues a csd on a CPU gone offline", "caller: preempt_disable()", ""},
	{"irqs_off_deadlock", "two CPUs call each other with interrupts off", "caller: interrupts on", ""},
	{"gicv3_no_rss", "a GICv3 without range selectors misroutes SGIs to Aff0 > 15", "machine: range_selector", ""},
	{"gicv3_rss", "the working case of gicv3_no_rss", "machine: range_selector", ""},
	{"monitor_wakeup_broken", "a CPU that polls in idle but need-resched does not wake: the elided IPI never comes", "machine: monitor_wakeup_broken", ""},
}

// Bugs lists the catalogue of kernel bugs the built-in scenarios
// reproduce, in docs/fixes.md's order.
func Bugs() []Bug { return bugs }

// BugOf returns the catalogue entry of scenario name, if it has one.
func BugOf(name string) (Bug, bool) {
	for _, b := range bugs {
		if b.Scenario == name {
			return b, true
		}
	}
	return Bug{}, false
}
