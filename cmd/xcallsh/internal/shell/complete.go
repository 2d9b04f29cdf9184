package shell

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/xcall"
)

// complete is liner's word completer, driven by the command table: at the
// start of a line it offers commands, then Lua globals; after a command,
// what its argument takes (CPU numbers, machines, parameter and fix names,
// files); in Lua, globals and the fields of global tables ("string.fo").
// pos is a rune index into line.
func (sh *Shell) complete(line string, pos int) (head string, completions []string, tail string) {
	rs := []rune(line)
	if pos > len(rs) {
		pos = len(rs)
	}
	before, tail := string(rs[:pos]), string(rs[pos:])
	trimmed := strings.TrimLeft(before, " \t")
	if !strings.ContainsAny(trimmed, " \t") {
		// The first word: commands first, then Lua.
		lead := before[:len(before)-len(trimmed)]
		var out []string
		for _, c := range commands() {
			if strings.HasPrefix(c.name, trimmed) {
				out = append(out, c.name+" ")
			}
		}
		h, lc := sh.completeLua(trimmed)
		for _, c := range lc {
			out = append(out, h+c)
		}
		return lead, out, tail
	}
	word, _, _ := strings.Cut(trimmed, " ")
	cmd := findCommand(strings.TrimSpace(word))
	if cmd == nil {
		h, out := sh.completeLua(before)
		return h, out, tail
	}
	// Which argument is being typed?
	fields := strings.Fields(trimmed)
	idx := len(fields) - 1 // the partial word's index, counting the command as 0
	partial := ""
	if !strings.HasSuffix(before, " ") && !strings.HasSuffix(before, "\t") {
		partial = fields[len(fields)-1]
		idx--
	}
	kind := argNone
	if n := len(cmd.args); n > 0 {
		if idx < n {
			kind = cmd.args[idx]
		} else if cmd.args[n-1] == argLua {
			kind = argLua
		}
	}
	if kind == argLua {
		h, out := sh.completeLua(before)
		return h, out, tail
	}
	h := before[:len(before)-len(partial)]
	return h, sh.completeArg(kind, partial), tail
}

// completeArg lists the completions of a partial argument.
func (sh *Shell) completeArg(kind argKind, partial string) []string {
	var out []string
	add := func(s string) {
		if strings.HasPrefix(s, partial) {
			out = append(out, s+" ")
		}
	}
	switch kind {
	case argCPU, argTimeline:
		if kind == argTimeline {
			add("all")
		}
		for c := 0; c < sh.sess.K.NrCPUIDs() && len(out) < 64; c++ {
			add(strconv.Itoa(c))
		}
	case argMachine:
		for _, m := range machines.Builtins() {
			add(m.Name)
		}
		out = append(out, completeFiles(partial, ".toml")...)
	case argParam:
		for _, p := range paramNames {
			add(p)
		}
	case argFix:
		for _, f := range xcall.Fixes {
			add(f.Name)
		}
	case argInfo:
		add("breakpoints")
		add("cpus")
	case argBreak:
		for _, k := range emu.EventKinds() {
			add(k.String())
		}
		for _, st := range xcall.CPUHPStates() {
			add("cpuhp:" + st)
		}
	case argOnOff:
		add("on")
		add("off")
	case argCommand:
		for _, c := range commands() {
			add(c.name)
		}
	case argFile:
		out = completeFiles(partial, "")
	}
	return out
}

// completeFiles lists files (with suffix, if given) and directories that
// start with partial.
func completeFiles(partial, suffix string) []string {
	dir, base := filepath.Split(partial)
	d := expandPath(dir)
	if d == "~" { // "~" alone: the home directory itself
		return []string{"~/"}
	}
	if d == "" {
		d = "."
	}
	ents, err := os.ReadDir(d)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, base) || (strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".")) {
			continue
		}
		switch {
		case e.IsDir():
			out = append(out, dir+name+"/")
		case suffix == "" || strings.HasSuffix(name, suffix):
			out = append(out, dir+name+" ")
		}
	}
	return out
}

// completeLua completes the Lua name at the end of before: a global, or a
// field of a global table (a.b, a:b). It returns the head to keep and the
// candidates for the name.
func (sh *Shell) completeLua(before string) (string, []string) {
	i := len(before)
	for i > 0 {
		c := before[i-1]
		if c == '_' || c == '.' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			i--
			continue
		}
		break
	}
	head, name := before[:i], before[i:]
	var tbl *lua.LTable = sh.sess.L.G.Global
	prefix := ""
	if j := strings.LastIndexAny(name, ".:"); j >= 0 {
		var v lua.LValue = sh.sess.L.G.Global
		for _, part := range strings.FieldsFunc(name[:j], func(r rune) bool { return r == '.' || r == ':' }) {
			t, ok := v.(*lua.LTable)
			if !ok {
				return head, nil
			}
			v = t.RawGetString(part)
		}
		switch x := v.(type) {
		case *lua.LTable:
			tbl = x
		case *lua.LUserData:
			// Methods: task:done(), mask:weight() — from the __index table.
			mt, ok := x.Metatable.(*lua.LTable)
			if !ok {
				return head, nil
			}
			idx, ok := mt.RawGetString("__index").(*lua.LTable)
			if !ok {
				return head, nil
			}
			tbl = idx
		default:
			return head, nil
		}
		prefix, name = name[:j+1], name[j+1:]
	}
	var keys []string
	tbl.ForEach(func(k, _ lua.LValue) {
		if s, ok := k.(lua.LString); ok && strings.HasPrefix(string(s), name) && isIdent(string(s)) {
			keys = append(keys, prefix+string(s))
		}
	})
	sort.Strings(keys)
	return head, keys
}
