package luabind

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// A chunk compiled once (explore's), or run by Exec, is built with no
// `arg` table, as Lua 5.1 builds a main chunk, and returns what it
// returned with the table (the values below are the earlier Exec's):
// its first local, in the register where gopher-lua put the table,
// starts as nil, `...` is still the chunk's (empty) varargs, and a
// function's own `arg` is as before.
func TestCompiledChunkNoArgTable(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"local a; return type(a), select('#', ...)", "nil 0"},
		{"local a, b = 1; return a, b", "1 nil"},
		{"local function f() return arg end; return type(f()), type(arg)", "nil nil"},
		{"local t = {...}; return #t, ...", "0"},
		{"return (function(...) return arg and arg.n, select('#', ...) end)(1, 2)", "nil 2"},
		{"local x = 5; do local y; x = y end; return x", "nil"},
	} {
		proto, err := Compile("c.lua", tc.src)
		if err != nil {
			t.Fatal(err)
		}
		if proto.IsVarArg&lua.VarArgNeedsArg != 0 {
			t.Errorf("%q: the compiled chunk still asks for an arg table", tc.src)
		}
		for _, compiled := range []bool{false, true} {
			s, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			var vs []lua.LValue
			if compiled {
				vs, err = s.ExecCompiled(proto)
			} else {
				vs, err = s.Exec("c.lua", tc.src)
			}
			s.Close()
			var got []string
			for _, v := range vs {
				got = append(got, v.String())
			}
			if err != nil || strings.Join(got, " ") != tc.want {
				t.Errorf("%q (compiled %v): %q %v, want %q", tc.src, compiled, strings.Join(got, " "), err, tc.want)
			}
		}
	}
}

// writes records each Write's bytes.
type writes [][]byte

func (w *writes) Write(p []byte) (int, error) {
	*w = append(*w, append([]byte(nil), p...))
	return len(p), nil
}

// print writes each line with one Write, as fmt.Fprintln did: its
// arguments as tostring gives them, tab-separated; nothing when a
// __tostring fails.
func TestPrintLines(t *testing.T) {
	var w writes
	msg := exec(t, Options{Stdout: &w}, `print(1, "a", nil, true, 2.5, -0.0)
print()
print(("x"):rep(5000))
print("é", setmetatable({}, {__tostring = function() return "T" end}))
print(1, setmetatable({}, {__tostring = function() error("no") end}))`)
	want := []string{"1\ta\tnil\ttrue\t2.5\t0\n", "\n", strings.Repeat("x", 5000) + "\n", "é\tT\n"}
	if len(w) != len(want) {
		t.Fatalf("%d writes %q, want %d (error %q)", len(w), w, len(want), msg)
	}
	for i := range want {
		if string(w[i]) != want[i] {
			t.Errorf("write %d: %q, want %q", i, w[i], want[i])
		}
	}
	if !strings.Contains(msg, "no") {
		t.Errorf("error %q", msg)
	}
}
