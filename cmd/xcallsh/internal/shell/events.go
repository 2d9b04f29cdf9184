package shell

// The event record as the shell shows it (step, breakpoint hits) and as a
// breakpoint condition sees it (the info table).

import (
	"fmt"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/units"
	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/xcall"
)

// fmtEvent is one event on one line: its number, time, CPU, task, ftrace's
// latency flags, kind and the fields of its kind.
func (sh *Shell) fmtEvent(e *emu.Event) string {
	comm := e.Comm
	if e.PID >= 0 {
		comm = fmt.Sprintf("%s-%d", e.Comm, e.PID)
	}
	return strings.TrimRight(fmt.Sprintf("#%-6d %s  CPU%-3d %-18s %s  %-18s %s", e.Seq, units.Virtual(e.T), e.CPU, clip(comm, 18),
		string(e.Flags[:]), e.Kind, sh.eventFields(e)), " ")
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func ids(v []uint64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatUint(x, 10)
	}
	return strings.Join(s, ",")
}

// eventFields are the fields of e's kind, as key=value.
func (sh *Shell) eventFields(e *emu.Event) string {
	vec := sh.vectorName(e.Vector)
	switch e.Kind {
	case emu.EvIPISend:
		return fmt.Sprintf("targets=%s ids=%s vector=%s site=%s", ints(e.Targets), ids(e.IDs), vec, e.Site)
	case emu.EvIPIDeliver, emu.EvIPIMerge:
		return fmt.Sprintf("id=%d vector=%s from=%d", e.ID, vec, e.Source)
	case emu.EvIPIDrop:
		why := "fault"
		if e.Reason == emu.DropOffline {
			why = "offline"
		}
		return fmt.Sprintf("id=%d vector=%s from=%d reason=%s", e.ID, vec, e.Source, why)
	case emu.EvIPIDelay:
		return fmt.Sprintf("id=%d vector=%s target=%d delay=%s", e.ID, vec, e.Target, units.Dur(e.Delay))
	case emu.EvIPIElide:
		return fmt.Sprintf("target=%d", e.Target)
	case emu.EvIRQEntry:
		return fmt.Sprintf("vector=%s ids=%s", vec, ids(e.IDs))
	case emu.EvIRQExit, emu.EvIPIEntry, emu.EvIPIExit:
		return "vector=" + vec
	case emu.EvCSDQueue:
		return fmt.Sprintf("csd=%d func=%s target=%d type=%s site=%s", e.CSD, e.Func, e.Target, xcall.CSDTypeName(e.CSDType), e.Site)
	case emu.EvCSDFuncEntry, emu.EvCSDFuncExit, emu.EvCSDLock, emu.EvCSDUnlock:
		return fmt.Sprintf("csd=%d func=%s type=%s", e.CSD, e.Func, xcall.CSDTypeName(e.CSDType))
	case emu.EvCSDWaitBegin, emu.EvCSDWaitEnd:
		return fmt.Sprintf("csd=%d func=%s target=%d", e.CSD, e.Func, e.Target)
	case emu.EvSchedSwitch:
		return fmt.Sprintf("prev=%s-%d prev_state=%s ==> next=%s-%d", e.PrevComm, e.PrevPID, e.PrevState, e.NextComm, e.NextPID)
	case emu.EvSchedWakeup:
		return fmt.Sprintf("task=%s-%d target=%d", e.TaskComm, e.TaskPID, e.Target)
	case emu.EvSchedMigrate:
		return fmt.Sprintf("task=%s-%d from=%d to=%d", e.TaskComm, e.TaskPID, e.Source, e.Target)
	case emu.EvCpuhpEnter, emu.EvCpuhpMultiEnter:
		return fmt.Sprintf("cpu=%d target=%d step=%d (%s) fn=%s", e.Target, e.Dest, e.State, e.StateName, e.Fn)
	case emu.EvCpuhpExit:
		return fmt.Sprintf("cpu=%d state=%d (%s) idx=%d ret=%d", e.Target, e.State, e.StateName, e.Idx, e.Ret)
	case emu.EvCPUOnline, emu.EvCPUOffline:
		return fmt.Sprintf("cpu=%d", e.Target)
	case emu.EvStopMachine:
		return fmt.Sprintf("state=%d (%s)", e.State, e.StateName)
	case emu.EvPrintk:
		return strconv.Quote(e.Text)
	case emu.EvPoint:
		return e.Name
	case emu.EvDecision:
		return fmt.Sprintf("n=%d v=%d max=%d", e.N, e.V, e.Max)
	case emu.EvStoreBuffered:
		return fmt.Sprintf("%s csd=%d func=%s target=%d visible in %s", e.Name, e.CSD, e.Func, e.Target, units.Dur(e.Delay))
	case emu.EvStoreVisible:
		return fmt.Sprintf("%s csd=%d func=%s target=%d by %s, %s early", e.Name, e.CSD, e.Func, e.Target, e.Site, units.Dur(e.Delay))
	case emu.EvSoftirqRaise, emu.EvSoftirqEntry, emu.EvSoftirqExit:
		name := "?"
		if xcall.ValidSoftirq(e.Vector) {
			name = xcall.SoftirqNames[e.Vector]
		}
		return fmt.Sprintf("vec=%d (%s)", e.Vector, name)
	}
	return ""
}

// eventTable is e as the Lua table a breakpoint condition sees as info.
func (sh *Shell) eventTable(L *lua.LState, e *emu.Event) *lua.LTable {
	t := L.NewTable()
	str := func(k, v string) { t.RawSetString(k, lua.LString(v)) }
	num := func(k string, v float64) { t.RawSetString(k, lua.LNumber(v)) }
	str("kind", e.Kind.String())
	num("seq", float64(e.Seq))
	num("t", float64(e.T))
	num("cpu", float64(e.CPU))
	str("ctx", e.Ctx.String())
	str("comm", e.Comm)
	num("pid", float64(e.PID))
	str("flags", string(e.Flags[:]))
	num("id", float64(e.ID))
	idt := L.NewTable()
	for _, id := range e.IDs {
		idt.Append(lua.LNumber(id))
	}
	t.RawSetString("ids", idt)
	num("vector", float64(e.Vector))
	str("vector_name", sh.vectorName(e.Vector))
	tt := L.NewTable()
	for _, c := range e.Targets {
		tt.Append(lua.LNumber(c))
	}
	t.RawSetString("targets", tt)
	num("source", float64(e.Source))
	num("target", float64(e.Target))
	num("delay", float64(e.Delay))
	num("csd", float64(e.CSD))
	str("func", e.Func)
	str("site", e.Site)
	str("csd_type", xcall.CSDTypeName(e.CSDType))
	str("prev_comm", e.PrevComm)
	num("prev_pid", float64(e.PrevPID))
	str("prev_state", e.PrevState)
	str("task_comm", e.TaskComm)
	num("task_pid", float64(e.TaskPID))
	str("next_comm", e.NextComm)
	num("next_pid", float64(e.NextPID))
	num("state", float64(e.State))
	str("state_name", e.StateName)
	str("fn", e.Fn)
	num("dest", float64(e.Dest))
	num("idx", float64(e.Idx))
	num("ret", float64(e.Ret))
	str("text", e.Text)
	str("name", e.Name)
	return t
}
