package luabind

import (
	"strings"
	"testing"
)

// The TLB bindings: a task switches mms and flushes; the state reads back
// as the kernel's names; bad arguments and wrong contexts are clear
// errors.
func TestTLBBindings(t *testing.T) {
	ok := `
machine("x86-4")
local t = spawn(1, "t", function()
  switch_mm("A")
  flush_tlb_mm_range("A")
  enter_lazy_tlb()
end)
run(ms(1))
assert(t:done())
local st = cpu_tlbstate(1)
assert(st.loaded_mm == "A" and st.is_lazy == true and st.tlb_gen == 1, st.loaded_mm)
assert(mm_tlb_gen("A") == 1 and mm_tlb_gen("B") == 0)
assert(tostring(mm_cpumask("A")) == "1", tostring(mm_cpumask("A")))
assert(cpu_tlbstate(0).loaded_mm == "init_mm")
`
	if msg := exec(t, Options{}, ok); msg != "" {
		t.Fatal(msg)
	}
	for _, tt := range []struct{ src, want string }{
		{`switch_mm("A")`, "switch_mm: must be called from a task or a cross-called function"},
		{`spawn(0, function() switch_mm(1) end) run(1000)`, "bad argument #1 to 'switch_mm' (string expected, got number)"},
		{`spawn(0, function() switch_mm("") end) run(1000)`, "bad argument #1 to 'switch_mm' (an mm's name is 1 to 32 bytes"},
		{`spawn(0, function() switch_mm_irqs_off("A") end) run(1000)`, "switch_mm_irqs_off: interrupts must be off"},
		{`spawn(0, function() local_irq_disable() switch_mm_irqs_off("A") local_irq_enable() end) run(1000) assert(cpu_tlbstate(0).loaded_mm == "A")`, ""},
		{`spawn(0, function() smp_call_function_single(1, function() switch_mm("A") end, nil, 1) end) run(ms(1))`, "switch_mm: must be called from a task (the scheduler switches mms in task context)"},
		{`spawn(0, function() flush_tlb_mm_range() end) run(1000)`, "bad argument #1 to 'flush_tlb_mm_range' (string expected, got no value)"},
		{`cpu_tlbstate(4)`, "bad argument #1 to 'cpu_tlbstate'"},
		{`machine("arm64-8") spawn(0, function() switch_mm("A") end) run(1000)`, "switch_mm: the TLB flush path is x86's"},
		{`machine("arm64-8") cpu_tlbstate(0)`, "cpu_tlbstate: the TLB flush path is x86's"},
	} {
		msg := exec(t, Options{}, tt.src)
		if (tt.want == "") != (msg == "") || !strings.Contains(msg, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.src, msg, tt.want)
		}
	}
}
