package shell

import (
	"fmt"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/report"
	"github.com/xcallsh/xcallsh/luabind"
)

// fmtValues renders the values a Lua line returned, as the shell prints
// them: tab-separated like print(), except that a single array (dmesg(),
// irqchip_writes(), fixes()) prints one element per line. Nothing printed
// depends on host addresses or map order.
func fmtValues(L *lua.LState, vals []lua.LValue) string {
	if len(vals) == 1 {
		if t, ok := vals[0].(*lua.LTable); ok && t.Len() > 0 && isArray(t) {
			var lines []string
			n := t.Len()
			for i := 1; i <= n; i++ {
				if i > 200 {
					lines = append(lines, fmt.Sprintf("… %d more", n-200))
					break
				}
				lines = append(lines, fmtValue(L, t.RawGetInt(i), 1, true))
			}
			return strings.Join(lines, "\n")
		}
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmtValue(L, v, 0, true)
	}
	return strings.Join(parts, "\t")
}

// isArray reports whether t has only the keys 1..#t.
func isArray(t *lua.LTable) bool {
	n, count := t.Len(), 0
	t.ForEach(func(lua.LValue, lua.LValue) { count++ })
	return count == n
}

func fmtValue(L *lua.LState, v lua.LValue, depth int, top bool) string {
	switch x := v.(type) {
	case lua.LString:
		if top {
			return string(x)
		}
		return report.LuaQuote(string(x))
	case *lua.LTable:
		return fmtTable(L, x, depth)
	case *lua.LUserData:
		if t := luabind.TaskOf(x); t != nil {
			if t.Finished() {
				return "<task: done>"
			}
			return "<task: running>"
		}
		if mt, ok := x.Metatable.(*lua.LTable); ok && mt.RawGetString("__tostring") != lua.LNil {
			return L.ToStringMeta(x).String()
		}
		return "<" + userdataName(L, x) + ">"
	case *lua.LFunction:
		if x.Proto != nil {
			return fmt.Sprintf("<function %s:%d>", x.Proto.SourceName, x.Proto.LineDefined)
		}
		return "<builtin function>"
	case *lua.LState:
		return "<thread>"
	}
	return v.String()
}

// userdataName names a userdata by the type metatable it carries.
func userdataName(L *lua.LState, ud *lua.LUserData) string {
	for _, name := range []string{"task", "cpumask", "csd"} {
		if ud.Metatable == L.GetTypeMetatable(name) {
			return name
		}
	}
	return "userdata"
}

// fmtTable renders a table inline, keys sorted, nested two deep.
func fmtTable(L *lua.LState, t *lua.LTable, depth int) string {
	if depth >= 3 {
		return "{…}"
	}
	var ints []int
	var strs []string
	other := 0
	t.ForEach(func(k, _ lua.LValue) {
		switch key := k.(type) {
		case lua.LNumber:
			if float64(key) == float64(int(key)) {
				ints = append(ints, int(key))
				return
			}
			other++
		case lua.LString:
			strs = append(strs, string(key))
		default:
			other++
		}
	})
	sort.Ints(ints)
	sort.Strings(strs)
	var parts []string
	seq := 1
	for _, k := range ints {
		if len(parts) == 20 {
			break
		}
		v := fmtValue(L, t.RawGetInt(k), depth+1, false)
		if k == seq {
			parts = append(parts, v)
			seq++
		} else {
			parts = append(parts, fmt.Sprintf("[%d] = %s", k, v))
		}
	}
	for _, k := range strs {
		if len(parts) == 20 {
			break
		}
		key := k
		if !isIdent(k) {
			key = "[" + report.LuaQuote(k) + "]"
		}
		parts = append(parts, key+" = "+fmtValue(L, t.RawGetString(k), depth+1, false))
	}
	if rest := len(ints) + len(strs) + other - len(parts); rest > 0 {
		parts = append(parts, fmt.Sprintf("… %d more", rest))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
