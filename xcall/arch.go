// This file mirrors the arch side of cross-calls: arch/x86/kernel/smp.c
// (native_send_call_func_single_ipi, native_send_call_func_ipi and the
// sysvec_call_function* handlers) and arch/arm64/kernel/smp.c
// (smp_cross_call, do_handle_IPI). The register encodings live in irqchip.

package xcall

import (
	"fmt"
	"strings"

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
	p := &k.pc[c.CPU]
	if k.appender != nil {
		p.wbuf = k.appender.AppendMask(p.wbuf[:0], c.CPU, targets, irqchip.CallFunction, k.onlineFn, k.nOnline)
	} else {
		p.wbuf = append(p.wbuf[:0], k.Chip.EncodeMask(c.CPU, targets, irqchip.CallFunction, k.onlineFn, k.nOnline)...)
	}
	k.send(c, p.wbuf)
}

// send performs the register writes with local interrupts off (the
// kernel's directed sends disable them so that ICR2 and ICR are not split
// by a handler sending its own IPI), records each write, and lets the
// controller route it: every destination gets the interrupt an IPI latency
// later, unless fault injection drops or delays it.
//
// The writes are decoded when the send begins, where the kernel traces it
// (ipi_send_cpu, ipi_raise): each target then takes its IPI id and the
// send is recorded (EvIPISend). Directed writes route the same whenever
// they are decoded; a shorthand, a send's only write, reaches the CPUs
// online when the send begins.
func (k *Kernel) send(c *emu.Context, writes []irqchip.Write) {
	if k.sbuf.n > 0 && k.sendOrdersStores() {
		k.drainStores(c.CPU)
	}
	flags := k.LocalIRQSave(c)
	sb := k.decodeSend(c, writes)
	lo := 0
	for i, w := range writes {
		k.spend(c, k.T.RegWrite, "ICR write")
		if !k.RecordWrites {
			// not kept (benchmarks, torture)
		} else if len(k.writes) < MaxWrites {
			k.writes = append(k.writes, RegWrite{T: k.M.Now(), CPU: c.CPU, Reg: w.Reg, Value: w.Value})
		} else {
			k.WritesDropped++
		}
		vec := sb.tvec[i]
		for j := lo; j < sb.tend[i]; j++ {
			k.deliver(c.CPU, sb.tbuf[j], vec, sb.id0+uint64(j))
		}
		lo = sb.tend[i]
	}
	k.LocalIRQRestore(c, flags)
}

// decodeSend decodes the writes of a send into the CPU's sendScratch,
// takes an IPI id per target (whether or not anything records) and records
// the send.
func (k *Kernel) decodeSend(c *emu.Context, writes []irqchip.Write) *sendScratch {
	sb := k.scratch(c.CPU)
	sb.tbuf, sb.tend, sb.tvec = sb.tbuf[:0], sb.tend[:0], sb.tvec[:0]
	vec := -1
	for _, w := range writes {
		n := len(sb.tbuf)
		var v int
		if k.appender != nil {
			sb.tbuf, v = k.appender.AppendDecode(sb.tbuf, c.CPU, w, k.onlineFn)
		} else {
			var cpus []int
			cpus, v = k.Chip.Decode(c.CPU, w, k.onlineFn)
			sb.tbuf = append(sb.tbuf, cpus...)
		}
		if len(sb.tbuf) > n && vec < 0 {
			vec = v
		}
		sb.tend = append(sb.tend, len(sb.tbuf))
		sb.tvec = append(sb.tvec, v)
	}
	sb.id0 = k.M.NewIPIIDs(len(sb.tbuf))
	s := sb.site
	sb.site = site{}
	if !k.M.Recording() {
		return sb
	}
	e := &emu.Event{Kind: emu.EvIPISend, Vector: k.recVector(vec)}
	if s.fn != "" {
		e.Site = s.String()
	}
	e.Targets = append([]int(nil), sb.tbuf...)
	for j := range sb.tbuf {
		e.IDs = append(e.IDs, sb.id0+uint64(j))
	}
	for _, w := range writes {
		e.Writes = append(e.Writes, emu.RegWrite{Reg: w.Reg, Value: w.Value})
	}
	k.M.Emit(c.CPU, e)
	return sb
}

// isNMI reports whether vec, as decoded, is the NMI sent as an IPI (x86
// NMI delivery, arm64 CPU_BACKTRACE).
func (k *Kernel) isNMI(vec int) bool {
	if k.Spec.IsX86() {
		return vec == irqchip.NMIVector
	}
	return vec == irqchip.IPICPUBacktrace
}

// recVector is vec as the record spells it: -1 for the NMI.
func (k *Kernel) recVector(vec int) int {
	if k.isNMI(vec) {
		return -1
	}
	return vec
}

// deliver routes IPI id (vector vec) from self to cpu: an IPI latency
// later, unless fault injection drops or delays it. A drop is recorded on
// the target, at the send (EvIPIDrop); a delay on the sender (EvIPIDelay).
func (k *Kernel) deliver(self, cpu, vec int, id uint64) {
	dropped, extra := k.Faults.Filter(cpu)
	if dropped {
		if k.M.Recording() {
			k.M.Emit(cpu, &emu.Event{Kind: emu.EvIPIDrop, ID: id, Vector: k.recVector(vec), Source: self, Reason: emu.DropFault})
		}
		return
	}
	if extra > 0 && k.M.Recording() {
		k.M.Emit(self, &emu.Event{Kind: emu.EvIPIDelay, ID: id, Vector: k.recVector(vec), Target: cpu, Delay: extra})
	}
	k.Stats.IPIs++
	t := k.M.Now() + k.T.IPILatency + k.M.Jitter(k.T.Jitter) + extra
	if k.isNMI(vec) {
		k.M.RaiseIPI(cpu, -1, t, id)
		return
	}
	k.M.RaiseIPI(cpu, vec, t, id)
}

// handleInterrupt is the hard-irq entry: x86 sysvec_call_function(_single)
// (EOI first, then the flush), arm64 do_handle_IPI.
//
// The interrupt entry cost (timing.irq_entry) is spent by emu before this
// runs, and the exit cost after it returns (ExitAfter).
func (k *Kernel) handleInterrupt(c *emu.Context, vec int) {
	x86 := k.Spec.IsX86()
	if vec == irqchip.DeviceVector(x86) { // isDeviceVector, with the arch asked once
		k.deviceInterrupt(c)
		return
	}
	if x86 {
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
		k.recIPIBody(c.CPU, emu.EvIPIEntry, vec)
		switch vec {
		case irqchip.IPICallFunc:
			Enter(c, "do_handle_IPI+0x2a4/0x2e0")
			k.genericSMPCallFunctionSingleInterrupt(c, vec)
			return
		case irqchip.IPIReschedule:
		default:
			k.printk(c.CPU, fmt.Sprintf("CPU%d: Unknown IPI message 0x%x", c.CPU, vec))
		}
		k.recIPIBody(c.CPU, emu.EvIPIExit, vec)
	}
	k.irqExit(c)
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
		k.recIPIBody(c.CPU, emu.EvIPIExit, vec)
	}
	k.irqExit(c)
}

func (k *Kernel) traceVector(cpu int, name string, vec int) {
	if k.M.Recording() { // small enough to inline, as traceFunc
		k.recVectorBody(cpu, name, vec)
	}
}

func (k *Kernel) recVectorBody(cpu int, name string, vec int) {
	kind := emu.EvIPIEntry
	if strings.HasSuffix(name, "_exit") {
		kind = emu.EvIPIExit
	}
	k.M.Emit(cpu, &emu.Event{Kind: kind, Vector: vec})
}

// recIPIBody records arm64's ipi_entry or ipi_exit for IPI vec, where the
// kernel traces it (for the IPIs ipi_types[] names).
func (k *Kernel) recIPIBody(cpu int, kind emu.EventKind, vec int) {
	if vec < irqchip.NrIPI && k.M.Recording() {
		k.M.Emit(cpu, &emu.Event{Kind: kind, Vector: vec})
	}
}

// scratch is cpu's sendScratch.
func (k *Kernel) scratch(cpu int) *sendScratch {
	p := &k.pc[cpu]
	if p.sb == nil {
		p.sb = &sendScratch{}
	}
	return p.sb
}

// sendSite gives the callsite of cpu's next send, for the record.
func (k *Kernel) sendSite(cpu int, s *site) { k.scratch(cpu).site = *s }
