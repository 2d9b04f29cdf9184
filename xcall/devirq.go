package xcall

// A device interrupt: a handler that is not an IPI's. Compare Linux's
// kernel/irq/handle.c: handle_irq_event_percpu() calling each action's
// handler, between irq_enter() and irq_exit(), with interrupts off. The
// model has no devices, interrupt descriptors or affinity: the operator
// raises the interrupt on a CPU (RaiseDeviceIRQ), on the vector irqchip
// names for it (irqchip.DeviceVector), and the handler is a function the
// caller gives. Two raised before the CPU takes the vector share one
// handler run, as the actions of a shared line do. No tracepoint of its
// own: the event record's irq entry and exit show it.

import (
	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/irqchip"
)

// deviceAction is one pending handler call.
type deviceAction struct {
	f    *Func
	info any
}

// RaiseDeviceIRQ makes the device interrupt pending on cpu now; its
// handler runs f(info) in hardirq context, interrupts off.
func (k *Kernel) RaiseDeviceIRQ(cpu int, f *Func, info any) {
	if k.devIRQ == nil {
		k.devIRQ = make([][]deviceAction, k.nr)
	}
	k.devIRQ[cpu] = append(k.devIRQ[cpu], deviceAction{f, info})
	k.M.RaiseIRQ(cpu, irqchip.DeviceVector(k.Spec.IsX86()), k.M.Now())
}

// isDeviceVector reports whether vec is the device interrupt.
func (k *Kernel) isDeviceVector(vec int) bool {
	return vec == irqchip.DeviceVector(k.Spec.IsX86())
}

// deviceInterrupt is the device interrupt's handler body: every action
// raised so far, in order, then the interrupt exit.
func (k *Kernel) deviceInterrupt(c *emu.Context) {
	var acts []deviceAction
	if k.devIRQ != nil {
		acts = k.devIRQ[c.CPU]
		k.devIRQ[c.CPU] = nil
	}
	vec := irqchip.DeviceVector(k.Spec.IsX86())
	c.Continue(func(c *emu.Context) {
		// The handler body, as irq:irq_handler_entry and _exit trace it
		// (kernel/irq/handle.c: __handle_irq_event_percpu), before
		// irq_exit() runs the softirqs.
		if k.M.Recording() {
			k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvIPIEntry, Vector: vec})
		}
		for _, a := range acts {
			k.call(c, a.f, a.info)
		}
		if k.M.Recording() {
			k.M.Emit(c.CPU, &emu.Event{Kind: emu.EvIPIExit, Vector: vec})
		}
		k.irqExit(c) // softirqs raised by the handler run here (softirq.go)
	})
}
