package luabind

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// A chunk compiled once (explore's) is built with no `arg` table, as Lua
// 5.1 builds a main chunk, and runs exactly as the same source through
// Exec: its first local, in the register where gopher-lua put the
// table, starts as nil, and `...` is still the chunk's (empty) varargs.
func TestCompiledChunkNoArgTable(t *testing.T) {
	for _, src := range []string{
		"local a; return type(a), select('#', ...)",
		"local a, b = 1; return a, b",
		"local function f() return arg end; return type(f()), type(arg)",
		"local t = {...}; return #t, ...",
		"return (function(...) return arg and arg.n, select('#', ...) end)(1, 2)",
	} {
		proto, err := Compile("c.lua", src)
		if err != nil {
			t.Fatal(err)
		}
		if proto.IsVarArg&lua.VarArgNeedsArg != 0 {
			t.Errorf("%q: the compiled chunk still asks for an arg table", src)
		}
		s1, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		want, err1 := s1.Exec("c.lua", src)
		s1.Close()
		s2, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err2 := s2.ExecCompiled(proto)
		s2.Close()
		if err1 != nil || err2 != nil || len(got) != len(want) {
			t.Fatalf("%q: Exec %v %v, ExecCompiled %v %v", src, want, err1, got, err2)
		}
		for i := range got {
			if got[i].String() != want[i].String() {
				t.Errorf("%q: value %d: Exec %v, ExecCompiled %v", src, i+1, want[i], got[i])
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
