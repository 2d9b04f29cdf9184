// This file mirrors the arch side of cross-calls: arch/x86/kernel/smp.c
// (native_send_call_func_single_ipi, native_send_call_func_ipi and the
// sysvec_call_function* handlers) and arch/arm64/kernel/smp.c
// (smp_cross_call, do_handle_IPI). The register encodings live in irqchip.

package xcall

import (
	"fmt"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/irqchip"
)

// The x86 vectors and arm64 IPI numbers are irqchip's
// (docs/kernel.md#x86-vectors-and-the-icr,
// docs/kernel.md#arm64-ipi-numbers-and-icc_sgi1r_el1).

// MaxWrites bounds the register-write log (irqchip_writes()); later writes
// are counted in WritesDropped, not kept.
const MaxWrites = 1 << 20

// archSendCallFunctionSingleIPI is arch_send_call_function_single_ipi().
func (k *Kernel) archSendCallFunctionSingleIPI(c *emu.Context, cpu int) {
	if !k.Spec.IsX86() {
		k.traceRaise(c.CPU, []int{cpu}, irqchip.IPICallFunc)
	}
	p := &k.pc[c.CPU]
	p.wbuf = k.appendSingle(p.wbuf[:0], c.CPU, cpu, irqchip.CallFunctionSingle)
	k.send(c, p.wbuf)
}

// appendSingle and appendMask use the chip's allocation-free encoders.
func (k *Kernel) appendSingle(dst []irqchip.Write, self, cpu int, ipi irqchip.IPI) []irqchip.Write {
	if k.appender != nil {
		return k.appender.AppendSingle(dst, self, cpu, ipi)
	}
	return append(dst, k.Chip.EncodeSingle(self, cpu, ipi)...)
}

// archSendCallFunctionIPIMask is arch_send_call_function_ipi_mask().
func (k *Kernel) archSendCallFunctionIPIMask(c *emu.Context, mask Cpumask) {
	k.maskCPUs = mask.AppendCPUs(k.maskCPUs[:0])
	targets := k.maskCPUs
	if !k.Spec.IsX86() {
		k.traceRaise(c.CPU, targets, irqchip.IPICallFunc)
	}
	p := &k.pc[c.CPU]
	if k.appender != nil {
		p.wbuf = k.appender.AppendMask(p.wbuf[:0], c.CPU, targets, irqchip.CallFunction, k.onlineFn, k.nOnline)
	} else {
		p.wbuf = append(p.wbuf[:0], k.Chip.EncodeMask(c.CPU, targets, irqchip.CallFunction, k.onlineFn, k.nOnline)...)
	}
	k.send(c, p.wbuf)
}

// traceRaise is arm64's ipi:ipi_raise "target_mask=%s (%s)" for IPI ipi.
func (k *Kernel) traceRaise(self int, targets []int, ipi int) {
	if !k.M.Tracing() {
		return
	}
	k.M.Trace(self, "ipi_raise", fmt.Sprintf("target_mask=%s (%s)", MaskOf(k.nr, targets...).Bitmap(k.nr), irqchip.ARM64IPIReason(ipi)))
}

// send performs the register writes with local interrupts off (the
// kernel's directed sends disable them so that ICR2 and ICR are not split
// by a handler sending its own IPI), records each write, and lets the
// controller route it: every destination gets the interrupt an IPI latency
// later, unless fault injection drops or delays it.
func (k *Kernel) send(c *emu.Context, writes []irqchip.Write) {
	flags := k.LocalIRQSave(c)
	for _, w := range writes {
		k.spend(c, k.T.RegWrite, "ICR write")
		if !k.RecordWrites {
			// not kept (benchmarks, torture)
		} else if len(k.writes) < MaxWrites {
			k.writes = append(k.writes, RegWrite{T: k.M.Now(), CPU: c.CPU, Reg: w.Reg, Value: w.Value})
		} else {
			k.WritesDropped++
		}
		var vec int
		p := &k.pc[c.CPU]
		if k.appender != nil {
			p.cbuf, vec = k.appender.AppendDecode(p.cbuf[:0], c.CPU, w, k.onlineFn)
		} else {
			p.cbuf, vec = k.Chip.Decode(c.CPU, w, k.onlineFn)
		}
		for _, t := range p.cbuf {
			k.deliver(t, vec)
		}
	}
	k.LocalIRQRestore(c, flags)
}

func (k *Kernel) deliver(cpu, vec int) {
	dropped, extra := k.Faults.Filter(cpu)
	if dropped {
		return
	}
	k.Stats.IPIs++
	t := k.M.Now() + k.T.IPILatency + k.M.Jitter(k.T.Jitter) + extra
	if (k.Spec.IsX86() && vec == irqchip.NMIVector) || (!k.Spec.IsX86() && vec == irqchip.IPICPUBacktrace) {
		k.M.RaiseNMI(cpu, t)
		return
	}
	k.M.RaiseIRQ(cpu, vec, t)
}

// handleInterrupt is the hard-irq entry: x86 sysvec_call_function(_single)
// (EOI first, then the flush), arm64 do_handle_IPI.
//
// The interrupt entry cost (timing.irq_entry) is spent by emu before this
// runs, and the exit cost after it returns (ExitAfter).
func (k *Kernel) handleInterrupt(c *emu.Context, vec int) {
	if k.Spec.IsX86() {
		switch vec {
		case irqchip.CallFunctionSingleVector, irqchip.CallFunctionVector:
			entry, frame := "call_function_single_entry", "sysvec_call_function_single+0x9c/0xb0"
			if vec == irqchip.CallFunctionVector {
				entry, frame = "call_function_entry", "sysvec_call_function+0x9c/0xb0"
			}
			Enter(c, frame)
			k.traceVector(c.CPU, entry, vec)
			k.genericSMPCallFunctionSingleInterrupt(c, vec)
			return
		case irqchip.RescheduleVector:
			k.traceVector(c.CPU, "reschedule_entry", vec)
			k.traceVector(c.CPU, "reschedule_exit", vec)
		}
	} else {
		reason := irqchip.ARM64IPIReason(vec)
		if vec < irqchip.NrIPI && k.M.Tracing() {
			k.M.Trace(c.CPU, "ipi_entry", "("+reason+")")
		}
		switch vec {
		case irqchip.IPICallFunc:
			Enter(c, "do_handle_IPI+0x2a4/0x2e0")
			k.genericSMPCallFunctionSingleInterrupt(c, vec)
			return
		case irqchip.IPIReschedule:
		default:
			k.printk(c.CPU, fmt.Sprintf("CPU%d: Unknown IPI message 0x%x", c.CPU, vec))
		}
		if vec < irqchip.NrIPI && k.M.Tracing() {
			k.M.Trace(c.CPU, "ipi_exit", "("+reason+")")
		}
	}
	c.ExitAfter(k.T.IRQExit)
}

// irqReturn is the end of the function-call interrupt vec, once its flush
// is done: the exit tracepoint and the interrupt exit.
func (k *Kernel) irqReturn(c *emu.Context, vec int) {
	if k.Spec.IsX86() {
		exit := "call_function_single_exit"
		if vec == irqchip.CallFunctionVector {
			exit = "call_function_exit"
		}
		k.traceVector(c.CPU, exit, vec)
		Leave(c)
	} else {
		Leave(c)
		if k.M.Tracing() {
			k.M.Trace(c.CPU, "ipi_exit", "("+irqchip.ARM64IPIReason(vec)+")")
		}
	}
	c.ExitAfter(k.T.IRQExit)
}

func (k *Kernel) traceVector(cpu int, name string, vec int) {
	if k.M.Tracing() {
		k.M.Trace(cpu, name, fmt.Sprintf("vector=%d", vec))
	}
}
