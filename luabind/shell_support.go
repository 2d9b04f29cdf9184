package luabind

// Accessors for the interactive shell (cmd/xcallsh), kept apart from the
// bindings so the two can change independently.

import (
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/emu"
)

// TaskOf returns the task behind a value spawn() returned, or nil.
func TaskOf(v lua.LValue) *Task {
	if ud, ok := v.(*lua.LUserData); ok {
		if t, ok := ud.Value.(*Task); ok {
			return t
		}
	}
	return nil
}

// Context is the emulated context that runs the task.
func (t *Task) Context() *emu.Context { return t.ctx }

// Finished reports whether the task's function has returned (task:done()).
func (t *Task) Finished() bool { return t.done }

// Results are the values the task's function returned (task:result()),
// nil while it runs.
func (t *Task) Results() []lua.LValue { return t.result }

// luaBreakpoint is breakpoint(): it hands the call to the session's
// Breakpoint hook (the shell's), and does nothing without one.
func luaBreakpoint(x call) int {
	if x.s.Breakpoint == nil {
		return 0
	}
	cpu := -1
	if x.c != nil {
		cpu = x.c.CPU
	}
	x.s.Breakpoint(cpu, strings.TrimSuffix(x.L.Where(1), ":"))
	return 0
}
