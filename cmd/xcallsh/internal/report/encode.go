package report

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/xcallsh/xcallsh/emu"
)

// The typed encoding of an event (emu.Event): what a report's hash and
// checksums are computed over. Every field of the event, in the order
// emu.Event declares them, each in a stable, self-delimiting form:
//
//   - unsigned integers (Seq, ID, CSD, CSDType, V, Max) as uvarints;
//   - signed integers (T, CPU, PID, Vector, Source, Target, Delay,
//     TaskPID, PrevPID, NextPID, State, Dest, Idx, Ret, N) as zig-zag
//     varints;
//   - the one-byte enums (Kind, Ctx, Reason) as one byte, Flags as its
//     five bytes;
//   - strings as a uvarint length and the bytes;
//   - slices (IDs, Targets, Writes) as a uvarint count and their elements,
//     a register write as its Reg string and its Value uvarint.
//
// Fields a kind does not use are zero and are encoded all the same (one
// byte each), so that an event differs in its encoding whenever it differs
// in any field, whatever its kind, and a field a kind starts to use later
// is covered without a change here. The encoding of a run is the
// concatenation of its events' encodings, which is unambiguous because each
// one is self-delimiting. TestEncodingCoversEveryField fails when emu.Event
// grows a field this encoding does not cover.

// AppendEvent appends the typed encoding of e to b.
func AppendEvent(b []byte, e *emu.Event) []byte {
	u := binary.AppendUvarint
	i := func(b []byte, v int) []byte { return binary.AppendVarint(b, int64(v)) }
	s := func(b []byte, v string) []byte { return append(binary.AppendUvarint(b, uint64(len(v))), v...) }

	b = u(b, e.Seq)
	b = binary.AppendVarint(b, e.T)
	b = i(b, e.CPU)
	b = append(b, byte(e.Kind), byte(e.Ctx))
	b = append(b, e.Flags[:]...)
	b = s(b, e.Comm)
	b = i(b, e.PID)

	b = u(b, e.ID)
	b = u(b, uint64(len(e.IDs)))
	for _, id := range e.IDs {
		b = u(b, id)
	}
	b = i(b, e.Vector)
	b = u(b, uint64(len(e.Targets)))
	for _, t := range e.Targets {
		b = i(b, t)
	}
	b = u(b, uint64(len(e.Writes)))
	for _, w := range e.Writes {
		b = s(b, w.Reg)
		b = u(b, w.Value)
	}
	b = i(b, e.Source)
	b = i(b, e.Target)
	b = binary.AppendVarint(b, e.Delay)
	b = append(b, byte(e.Reason))

	b = u(b, e.CSD)
	b = s(b, e.Func)
	b = s(b, e.Site)
	b = u(b, uint64(e.CSDType))

	b = s(b, e.TaskComm)
	b = i(b, e.TaskPID)
	b = s(b, e.PrevComm)
	b = i(b, e.PrevPID)
	b = s(b, e.PrevState)
	b = s(b, e.NextComm)
	b = i(b, e.NextPID)

	b = i(b, e.State)
	b = s(b, e.StateName)
	b = s(b, e.Fn)
	b = i(b, e.Dest)
	b = i(b, e.Idx)
	b = i(b, e.Ret)

	b = s(b, e.Text)
	b = s(b, e.Name)
	b = i(b, e.N)
	b = u(b, e.V)
	b = u(b, e.Max)
	return b
}

// Describe is one line about e for a person: a log line as dmesg prints
// it, any other event as its CPU, task, latency flags and kind, then the
// fields its kind sets (those that are not zero), as emu.Event names them.
func Describe(e *emu.Event) string {
	if e.Kind == emu.EvPrintk {
		return emu.LogLine{T: e.T, CPU: e.CPU, Text: e.Text}.String()
	}
	var b strings.Builder
	if e.CPU < 0 { // the operator: top-level code, on no CPU
		fmt.Fprintf(&b, "%s %s:", e.Comm, e.Kind)
	} else {
		fmt.Fprintf(&b, "CPU%d %s-%d [%s] %s:", e.CPU, e.Comm, e.PID, e.Flags[:], e.Kind)
	}
	n := func(name string, v int64) {
		if v != 0 {
			fmt.Fprintf(&b, " %s=%d", name, v)
		}
	}
	str := func(name, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%q", name, v)
		}
	}
	if e.ID != 0 {
		fmt.Fprintf(&b, " ID=%d", e.ID)
	}
	if len(e.IDs) != 0 {
		fmt.Fprintf(&b, " IDs=%v", e.IDs)
	}
	switch e.Kind {
	case emu.EvIPISend, emu.EvIPIDeliver, emu.EvIPIDrop, emu.EvIPIDelay, emu.EvIPIMerge, emu.EvIRQEntry, emu.EvIRQExit,
		emu.EvIPIEntry, emu.EvIPIExit:
		fmt.Fprintf(&b, " Vector=%d", e.Vector) // 0 is a vector (arm64's IPI_RESCHEDULE)
	case emu.EvSoftirqRaise, emu.EvSoftirqEntry, emu.EvSoftirqExit:
		fmt.Fprintf(&b, " Vec=%d", e.Vector) // the softirq number; 0 is HI_SOFTIRQ
	}
	if len(e.Targets) != 0 {
		fmt.Fprintf(&b, " Targets=%v", e.Targets)
	}
	for _, w := range e.Writes {
		fmt.Fprintf(&b, " %s=%#x", w.Reg, w.Value)
	}
	switch e.Kind {
	case emu.EvIPIDeliver, emu.EvIPIDrop, emu.EvIPIMerge, emu.EvSchedMigrate:
		fmt.Fprintf(&b, " Source=%d", e.Source) // CPU 0 is a CPU
	}
	switch e.Kind {
	case emu.EvIPIDelay, emu.EvIPIElide, emu.EvCSDQueue, emu.EvCSDWaitBegin, emu.EvCSDWaitEnd, emu.EvSchedWakeup,
		emu.EvSchedMigrate, emu.EvCpuhpEnter, emu.EvCpuhpMultiEnter, emu.EvCpuhpExit, emu.EvCPUOnline, emu.EvCPUOffline,
		emu.EvStoreBuffered, emu.EvStoreVisible:
		fmt.Fprintf(&b, " Target=%d", e.Target)
	}
	n("Delay", e.Delay)
	if e.Kind == emu.EvIPIDrop {
		switch e.Reason {
		case emu.DropFault:
			b.WriteString(" Reason=fault")
		case emu.DropOffline:
			b.WriteString(" Reason=offline")
		default:
			fmt.Fprintf(&b, " Reason=%d", e.Reason)
		}
	}
	if e.CSD != 0 {
		fmt.Fprintf(&b, " CSD=%d", e.CSD)
	}
	str("Func", e.Func)
	str("Site", e.Site)
	if e.CSDType != 0 {
		fmt.Fprintf(&b, " CSDType=%d", e.CSDType)
	}
	if e.Kind == emu.EvSchedWakeup || e.Kind == emu.EvSchedMigrate {
		fmt.Fprintf(&b, " TaskComm=%q TaskPID=%d", e.TaskComm, e.TaskPID)
	}
	str("PrevComm", e.PrevComm)
	if e.Kind == emu.EvSchedSwitch {
		fmt.Fprintf(&b, " PrevPID=%d", e.PrevPID)
	}
	str("PrevState", e.PrevState)
	str("NextComm", e.NextComm)
	if e.Kind == emu.EvSchedSwitch {
		fmt.Fprintf(&b, " NextPID=%d", e.NextPID)
	}
	switch e.Kind {
	case emu.EvCpuhpEnter, emu.EvCpuhpMultiEnter, emu.EvCpuhpExit, emu.EvStopMachine:
		fmt.Fprintf(&b, " State=%d", e.State)
	}
	str("StateName", e.StateName)
	str("Fn", e.Fn)
	n("Dest", int64(e.Dest))
	n("Idx", int64(e.Idx))
	n("Ret", int64(e.Ret))
	str("Text", e.Text)
	str("Name", e.Name)
	if e.Kind == emu.EvDecision {
		fmt.Fprintf(&b, " N=%d V=%#x Max=%#x", e.N, e.V, e.Max)
	}
	return b.String()
}
