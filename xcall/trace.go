package xcall

// Tracepoints of include/trace/events/ipi.h and csd.h, formatted with the
// kernel's TP_printk strings (docs/kernel.md#tracepoints).

import "github.com/xcallsh/xcallsh/emu"

// traceQueue is csd:csd_queue_cpu "cpu=%u callsite=%pS func=%ps csd=%p".
// Like point and emit, each tracepoint tests Recording where it is
// called (small enough to inline) and builds its event out of line.
func (k *Kernel) traceQueue(self, cpu int, s *site, csd *CSD) {
	if k.M.Recording() {
		k.recQueue(self, cpu, s, csd)
	}
}

func (k *Kernel) recQueue(self, cpu int, s *site, csd *CSD) {
	k.M.Emit(self, &emu.Event{Kind: emu.EvCSDQueue, CSD: uint64(csd.ID), Func: csd.Func.PS(), Site: s.String(), Target: cpu, CSDType: csd.Type()})
}

// traceFunc is csd:csd_function_entry/exit "func=%ps, csd=%p".
func (k *Kernel) traceFunc(self int, name string, f *Func, csd *CSD) {
	if k.M.Recording() {
		k.recFunc(self, name, f, csd)
	}
}

func (k *Kernel) recFunc(self int, name string, f *Func, csd *CSD) {
	kind := emu.EvCSDFuncEntry
	if name == "csd_function_exit" {
		kind = emu.EvCSDFuncExit
	}
	e := &emu.Event{Kind: kind, Func: f.PS()}
	if csd != nil { // nil: a local call runs its function without a csd (csd=0x0)
		e.CSD, e.CSDType = uint64(csd.ID), csd.Type()
	}
	k.M.Emit(self, e)
}
