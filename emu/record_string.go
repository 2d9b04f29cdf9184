package emu

import (
	"strconv"
	"strings"
)

// String renders the event on one line, exactly and without kernel names
// (vectors are numbers, csds their ids): the time in ns, the CPU, the
// context, the flags, the kind and the fields its kind uses. Tests and
// golden files use it; the views for people (ftrace text, the shell)
// print the kernel's own formats instead.
func (e *Event) String() string {
	var b strings.Builder
	b.Grow(96)
	b.WriteString(strconv.FormatInt(e.T, 10))
	b.WriteString(" CPU")
	b.WriteString(strconv.Itoa(e.CPU))
	b.WriteByte(' ')
	b.WriteString(e.Comm)
	b.WriteByte('-')
	b.WriteString(strconv.Itoa(e.PID))
	b.WriteByte(' ')
	b.Write(e.Flags[:])
	b.WriteByte(' ')
	b.WriteString(e.Kind.String())
	f := fields{&b}
	switch e.Kind {
	case EvIPISend:
		f.ints("targets", e.Targets)
		f.ids("ids", e.IDs)
		f.int("vector", e.Vector)
		for _, w := range e.Writes {
			f.str("write", w.Reg+"="+strconv.FormatUint(w.Value, 16))
		}
		f.str("site", e.Site)
	case EvIPIDeliver, EvIPIMerge:
		f.id("id", e.ID)
		f.int("vector", e.Vector)
		f.int("from", e.Source)
	case EvIPIDrop:
		f.id("id", e.ID)
		f.int("vector", e.Vector)
		f.int("from", e.Source)
		f.str("reason", [...]string{"fault", "offline"}[e.Reason])
	case EvIPIDelay:
		f.id("id", e.ID)
		f.int("vector", e.Vector)
		f.int("to", e.Target)
		f.str("delay", strconv.FormatInt(e.Delay, 10))
	case EvIPIElide:
		f.int("to", e.Target)
	case EvIRQEntry:
		f.int("vector", e.Vector)
		f.ids("ids", e.IDs)
	case EvIRQExit, EvIPIEntry, EvIPIExit:
		f.int("vector", e.Vector)
	case EvSoftirqRaise, EvSoftirqEntry, EvSoftirqExit:
		f.int("vec", e.Vector)
	case EvCSDQueue:
		f.id("csd", e.CSD)
		f.str("func", e.Func)
		f.int("to", e.Target)
		f.id("type", uint64(e.CSDType))
		f.str("site", e.Site)
	case EvCSDFuncEntry, EvCSDFuncExit, EvCSDLock, EvCSDUnlock:
		f.id("csd", e.CSD)
		f.str("func", e.Func)
		f.id("type", uint64(e.CSDType))
	case EvCSDWaitBegin, EvCSDWaitEnd:
		f.id("csd", e.CSD)
		f.str("func", e.Func)
		f.int("to", e.Target)
	case EvSchedSwitch:
		f.str("prev", e.PrevComm+"-"+strconv.Itoa(e.PrevPID))
		f.str("state", e.PrevState)
		f.str("next", e.NextComm+"-"+strconv.Itoa(e.NextPID))
	case EvSchedWakeup:
		f.str("task", e.TaskComm+"-"+strconv.Itoa(e.TaskPID))
		f.int("cpu", e.Target)
	case EvSchedMigrate:
		f.str("task", e.TaskComm+"-"+strconv.Itoa(e.TaskPID))
		f.int("from", e.Source)
		f.int("to", e.Target)
	case EvCpuhpEnter, EvCpuhpMultiEnter:
		f.int("cpu", e.Target)
		f.int("state", e.State)
		f.str("name", e.StateName)
		f.str("fn", e.Fn)
		f.int("target", e.Dest)
	case EvCpuhpExit:
		f.int("cpu", e.Target)
		f.int("state", e.State)
		f.str("name", e.StateName)
		f.int("idx", e.Idx)
		f.int("ret", e.Ret)
	case EvCPUOnline, EvCPUOffline:
		f.int("cpu", e.Target)
	case EvStopMachine:
		f.int("state", e.State)
		f.str("name", e.StateName)
	case EvPrintk:
		f.str("text", strconv.Quote(e.Text))
	case EvPoint:
		f.str("name", e.Name)
	case EvStoreBuffered, EvStoreVisible:
		f.str("name", e.Name)
		f.id("csd", e.CSD)
		f.str("func", e.Func)
		f.int("to", e.Target)
		f.str("delay", strconv.FormatInt(e.Delay, 10))
		f.str("site", e.Site)
	case EvDecision:
		f.int("n", e.N)
		f.id("v", e.V)
		f.id("max", e.Max)
	}
	return b.String()
}

type fields struct{ b *strings.Builder }

func (f fields) str(k, v string) {
	if v == "" {
		return
	}
	f.b.WriteByte(' ')
	f.b.WriteString(k)
	f.b.WriteByte('=')
	f.b.WriteString(v)
}

func (f fields) int(k string, v int) { f.str(k, strconv.Itoa(v)) }

func (f fields) id(k string, v uint64) { f.str(k, strconv.FormatUint(v, 10)) }

func (f fields) ints(k string, v []int) {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	f.str(k, strings.Join(s, ","))
}

func (f fields) ids(k string, v []uint64) {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatUint(x, 10)
	}
	f.str(k, strings.Join(s, ","))
}
