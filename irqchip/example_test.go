package irqchip_test

import (
	"fmt"

	"github.com/xcallsh/xcallsh/irqchip"
	"github.com/xcallsh/xcallsh/machines"
)

// An x2APIC in physical mode sends CPU 0's call-function-single IPI to
// CPU 3 as one write of MSR 0x830: destination APIC ID in the high 32
// bits, vector 0xfb in the low byte; decoding it routes it back to CPU 3.
func ExampleNew() {
	chip, err := irqchip.New("x86_64", machines.IRQChip{Kind: "x2apic"}, 4)
	if err != nil {
		panic(err)
	}
	online := func(int) bool { return true }
	for _, w := range chip.EncodeSingle(0, 3, irqchip.CallFunctionSingle) {
		cpus, vector := chip.Decode(0, w, online)
		fmt.Printf("%s = %#016x: CPUs %v, vector %#x\n", w.Reg, w.Value, cpus, vector)
	}
	// Output:
	// ICR = 0x00000003000000fb: CPUs [3], vector 0xfb
}
