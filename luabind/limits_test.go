package luabind

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/yuin/gopher-lua/parse"

	"github.com/xcallsh/xcallsh/scripts"
)

// run runs src in a fresh session, with a --timeout of 5 s, and returns
// what it printed and its error message ("" if none), failing the test if
// it took longer than limit.
func runTimed(t *testing.T, src string, limit time.Duration) (out, msg string) {
	t.Helper()
	var b bytes.Buffer
	t0 := time.Now()
	msg = exec(t, Options{Stdout: &b, Timeout: 5 * time.Second}, src)
	if d := time.Since(t0); d > limit {
		t.Errorf("%.60q took %v, more than %v", src, d, limit)
	}
	return b.String(), msg
}

// Deep nesting is refused before the compiler, whose recursion used to
// overflow the Go stack and kill the process.
func TestDeepNesting(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"not", "local x = 1\nreturn " + strings.Repeat("not ", 1000000) + "1", "t.lua:2: chunk has too many syntax levels"},
		{"attr", "local x = a" + strings.Repeat(".a", 3000000), "t.lua:1: chunk has too many syntax levels"},
		{"brace", "return " + strings.Repeat("{", 1000000) + strings.Repeat("}", 1000000), "t.lua:1: chunk has too many syntax levels"},
		{"function", "return " + strings.Repeat("function()\n return ", 300) + "1" + strings.Repeat(" end", 300),
			"t.lua:101: chunk has too many syntax levels"},
		{"functions", "return " + strings.Repeat("function()\n return ", 100000) + "1" + strings.Repeat(" end", 100000),
			"t.lua:999: chunk has too many syntax levels"},
		{"if", strings.Repeat("if x then\n", 300) + strings.Repeat("end ", 300), "t.lua:200: chunk has too many syntax levels"},
		{"concat", "return 1" + strings.Repeat(" .. 1", 250), "t.lua:1: chunk has too many syntax levels"},
		{"minus", "return " + strings.Repeat("- ", 1000000) + "1", "t.lua:1: chunk has too many syntax levels"},
		// The parser's own stack is bounded before it runs: these are
		// refused in milliseconds, before it holds a gigabyte.
		{"pow", "return 1" + strings.Repeat("^1", 1000000), "t.lua:1: chunk has too many syntax levels"},
		{"paren", "return " + strings.Repeat("(", 1000000) + "1" + strings.Repeat(")", 1000000), "t.lua:1: chunk has too many syntax levels"},
		{"concat lines", "return 'a'" + strings.Repeat("\n .. 'a'", 100000), "t.lua:1001: chunk has too many syntax levels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, msg := runTimed(t, tc.src, 20*time.Second)
			if msg != tc.want {
				t.Errorf("got %q, want %q", msg, tc.want)
			}
			if _, err := Compile("t.lua", tc.src); err == nil || err.Error() != tc.want {
				t.Errorf("Compile: %v, want %q", err, tc.want)
			}
		})
	}
	// Parentheses leave no trace in gopher-lua's tree, but the parser
	// stacks them: a few hundred are fine.
	if out, msg := runTimed(t, "print("+strings.Repeat("(", 500)+"1"+strings.Repeat(")", 500)+")", time.Second); msg != "" || out != "1\n" {
		t.Errorf("parentheses: %q %q", out, msg)
	}
	// Just under the limit still compiles: a 199-term concatenation.
	if out, msg := runTimed(t, "local y = 'a'"+strings.Repeat(" .. 'a'", 198)+"\nprint(#y)", time.Second); msg != "" || out != "199\n" {
		t.Errorf("199 terms: %q %q", out, msg)
	}
}

// loadstring and load check the same, and bound the text they accept.
func TestLoadIsBounded(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`print(loadstring("return " .. ("not "):rep(1000) .. "1"))`, "nil\t<string>:1: chunk has too many syntax levels\n"},
		{`print(loadstring("return " .. ("not "):rep(1000000) .. "1"))`, "nil\tchunk of 4000008 bytes exceeds the limit of 1 MiB for load\n"},
		{`print(loadstring("x = = 1", "=chunk"))`, "nil\tchunk:1: syntax error near '='\n"},
		{`print(loadstring("return 2 + 3")())`, "5\n"},
		{`local n = 0
print(load(function() n = n + 1; if n == 1 then return "return " elseif n <= 1000 then return "not " elseif n == 1001 then return "1" end end, "=deep"))`,
			"nil\tdeep:1: chunk has too many syntax levels\n"},
		{`print(load(function() return ("x"):rep(1e6) end))`, "nil\tchunk of 2000000 bytes exceeds the limit of 1 MiB for load\n"},
		{`local parts = {"return ", "6 ", "* 7"}
local i = 0
print(load(function() i = i + 1; return parts[i] end)())`, "42\n"},
		{`print(load(function() return {} end))`, "nil\treader function must return a string\n"},
	} {
		out, msg := runTimed(t, tc.src, 5*time.Second)
		if msg != "" || out != tc.want {
			t.Errorf("%s:\n got  %q %q\n want %q", tc.src, out, msg, tc.want)
		}
	}
}

func TestErrorTexts(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"if x then\n x = 1 +\nthen", "t.lua:3: syntax error near 'then'"},
		{"x = 'abc", "t.lua:1: unterminated string near '<eof>'"},
		{"local x = 1\nif x then", "t.lua:2: syntax error near '<eof>'"},
		{"x = [[" + strings.Repeat("y", 100), "t.lua:1: unterminated multiline string near '<eof>'"},
		{"x = 1\nerror(nil)", "t.lua:2: (error object is a nil value)"},
		{"error({})", "t.lua:1: (error object is a table value)"},
		{"\n\nlocal function f() error(print) end\nf()", "t.lua:3: (error object is a function value)"},
		{"spawn(0, function()\n error({})\nend)\nrun(1000)", "t.lua:2: (error object is a table value)"},
		{"local ok, e = pcall(error, {7})\nassert(type(e) == 'table' and e[1] == 7)\nerror(e)", "t.lua:3: (error object is a table value)"},
		{"error(42)", "42"},
		{"error('x', 0)", "x"},
		{"math.random(-2^62, 2^62)", "t.lua:1: bad argument #2 to 'random' (interval is too large)"},
		{"math.random(-2^63, 2^63 - 1024)", "t.lua:1: bad argument #2 to 'random' (interval is too large)"},
		{"math.random(0/0)", "t.lua:1: bad argument #1 to 'random' (number has no integer representation)"},
		{"math.random(1, 1/0)", "t.lua:1: bad argument #2 to 'random' (number has no integer representation)"},
		{"math.random(-1/0)", "t.lua:1: bad argument #1 to 'random' (number has no integer representation)"},
		{"math.random(2^70)", "t.lua:1: bad argument #1 to 'random' (number has no integer representation)"},
		{"math.random(0)", "t.lua:1: bad argument #1 to 'random' (interval is empty)"},
		{"math.random(3, 2)", "t.lua:1: bad argument #2 to 'random' (interval is empty)"},
		{"math.random(1, 2, 3)", "t.lua:1: wrong number of arguments"},
		{"local x = 1\nprint(1" + strings.Repeat(", 1", 250) + ")", "t.lua:2: function or expression too complex"},
		{"local x = 1\n\nlocal function f()\n return g(1" + strings.Repeat(", 1", 250) + ")\nend", "t.lua:3: function or expression too complex"},
	} {
		// A generous timeout: some cases build strings of tens of MB,
		// which a loaded 2-core host can take seconds over; the bounds
		// tested are sizes, not times.
		_, msg := runTimed(t, tc.src, 20*time.Second)
		if msg != tc.want {
			t.Errorf("%.80q:\n got  %q\n want %q", tc.src, msg, tc.want)
		}
	}
}

// math.random keeps its sequence for valid arguments, including the
// extremes of its range.
func TestMathRandomRange(t *testing.T) {
	out, msg := runTimed(t, "print(math.random(-2^62 + 1024, 2^62 - 1024) ~= nil, math.random(5, 5), math.random(1))", time.Second)
	if msg != "" || out != "true\t5\t1\n" {
		t.Errorf("got %q %q", out, msg)
	}
}

func TestBuiltinResultBounds(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"unpack({}, 1, 1e8)", "t.lua:1: too many results to unpack"},
		{"unpack({}, -2^62, 2^62)", "t.lua:1: too many results to unpack"},
		{"local s = ('x'):rep(1e7)\nlocal n = select('#', s:byte(1, -1))", "t.lua:2: string slice too long"},
		{"local s = ('x'):rep(1e7)\nlocal n = select('#', s:byte())", "t.lua:2: string slice too long"},
		{"string.find(('x'):rep(40), ('(x)'):rep(33))", "t.lua:1: too many captures"},
		{"print(select('#', unpack({}, 1, 8000)))", ""},
		{"local s = ('x'):rep(4e7)\nlocal t = table.concat({s, s})", "t.lua:2: bad argument #1 to 'concat' (result of 80000000 bytes exceeds the limit of 64 MiB)"},
		{"local t = {}\nfor i = 1, 3e6 do t[i] = 'abcdefghijklmnopqrstuvwxyz' end\nlocal s = table.concat(t, ',')", "t.lua:3: bad argument #1 to 'concat' (result of 80999999 bytes exceeds the limit of 64 MiB)"},
		{"string.format('%100d', 1)", "t.lua:1: invalid format (width or precision too long)"},
		{"string.format('%.100f', 1)", "t.lua:1: invalid format (width or precision too long)"},
		{"string.format('%099999999999d', 1)", "t.lua:1: invalid format (width or precision too long)"},
		{"string.format('%------d', 1)", "t.lua:1: invalid format (repeated flags)"},
		{"string.format('%v', 1)", "t.lua:1: invalid option '%v' to 'format'"},
		{"string.format('%p', {})", "t.lua:1: invalid option '%p' to 'format'"},
		{"string.format('%*d', 5, 1)", "t.lua:1: invalid option '%*' to 'format'"},
		{"string.format('%d %d', 1, {})", "t.lua:1: bad argument #3 to 'format' (number expected, got table)"},
		{"local s = ('x'):rep(6e7)\nstring.format('%s%s', s, s)", "t.lua:2: bad argument #1 to 'format' (result of 120000032 bytes exceeds the limit of 64 MiB)"},
		{"local s = ('x'):rep(1000)\ns = s:gsub('x', ('y'):rep(1e5))", "t.lua:2: bad argument #3 to 'gsub' (result exceeds the limit of 64 MiB)"},
		{"local s = ('x'):rep(1e6)\ns = s:gsub('x', function() return ('y'):rep(100) end)", "t.lua:2: bad argument #3 to 'gsub' (result exceeds the limit of 64 MiB)"},
		// Integers past 2^53 reach the built-ins held there, the same on
		// every host (Go's int conversion of 2^63 is not).
		{"string.rep('x', 2^63)", "t.lua:1: bad argument #2 to 'rep' (result of 9007199254740992 bytes exceeds the limit of 64 MiB)"},
		{"string.rep('x', 1/0)", "t.lua:1: bad argument #2 to 'rep' (result of 9007199254740992 bytes exceeds the limit of 64 MiB)"},
		{"select(-2^63, 1)", "t.lua:1: bad argument #1 to select (index out of range)"},
		{"assert(string.sub('abc', 0/0, 2^70) == 'abc')", ""},
		{"assert(string.char(2^63, 0/0) == '\\0\\0')", ""},
		{"local t = {1}\ntable.insert(t, 2^70)\nassert(t[2] == 2^70)", ""},
	} {
		// A generous timeout: some cases build strings of tens of MB,
		// which a loaded 2-core host can take seconds over; the bounds
		// tested are sizes, not times.
		_, msg := runTimed(t, tc.src, 20*time.Second)
		if msg != tc.want {
			t.Errorf("%.80q:\n got  %q\n want %q", tc.src, msg, tc.want)
		}
	}
}

// The replaced built-ins keep gopher-lua's results.
func TestBuiltinSemantics(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"print(string.format('%5.2f|%-5s|%d|%x|%q|%3s|%%', 3.14159, 'ab', 42, 255, 'a\\nb', 7))", " 3.14|ab   |42|ff|\"a\\nb\"|  7|%\n"},
		{"print(string.format('%s'))", "%!s(MISSING)\n"},
		{"print(('hello world'):gsub('o', '0'))", "hell0 w0rld\t2\n"},
		{"print(('hello world'):gsub('(o)', '[%1%%%0%z]%'))", "hell[o%o%z]% w[o%o%z]%rld\t2\n"},
		{"print(('hello world'):gsub('%w+', {hello = 'HI', world = false}))", "HI world\t2\n"},
		{"print(('hello world'):gsub('%w+', function(w) return w:upper() end, 1))", "HELLO world\t1\n"},
		{"print(('hello world'):gsub('()o', '%1'))", "hell5 w8rld\t2\n"},
		{"print(('abc'):gsub('', '-'))", "-a-b-c-\t4\n"},
		{"print(('abc'):gsub('^a', '-'))", "-bc\t1\n"},
		{"print(('abc'):gsub('z', '-'))", "abc\t0\n"},
		{"print(('x'):rep(5000):gsub('x', 'yy'):len())", "10000\n"},
		{"print(pcall(string.gsub, 'abc', '(', 'x'))", "false\tt.lua:1: unfinished capture at EOS\n"},
		{"print(table.concat({1, 2, 'a'}, ','), table.concat({}), table.concat({1, 2, 3}, '', 2), table.concat({1, 2}, '', 5))", "1,2,a\t\t23\t\n"},
		{"print(pcall(table.concat, {1, {}}))", "false\tt.lua:1: invalid value (table) at index 2 in table for concat\n"},
		{"for w in ('one two three'):gmatch('%a+') do print(w) end", "one\ntwo\nthree\n"},
		{"for k, v in ('a=1, b=2'):gmatch('(%w+)=(%w+)') do print(k, v) end", "a\t1\nb\t2\n"},
		{"for a in ('aaa'):gmatch('^a') do print(a) end", "a\n"},
		{"local n = 0 for a in ('abc'):gmatch('') do n = n + 1 end print(n)", "4\n"},
		{"print(('hello'):find('l'))", "3\t3\n"},
		{"print(('hello'):find('l', -2))", "4\t4\n"},
		{"print(('hello'):find('l', 10, true))", "nil\n"},
		{"print(('hello'):find('(l)(l)'))", "3\t4\tl\tl\n"},
		{"print(('hello'):match('h(.)l'), ('hello'):match('()ll()'))", "e\t3\t5\n"},
		{"print(select('#', ('hello'):match('z')))", "0\n"},
		{"print(('abc'):byte(), ('abc'):byte(2), ('abc'):byte(-1, -1), select('#', ('x'):rep(8000):byte(1, -1)))", "97\t98\t99\t8000\n"},
		{"print(string.find(('x'):rep(40), ('(x)'):rep(32)) == 1)", "true\n"},
		{"print(#(''):rep(1e15), #(''):rep(1e15, ''), ('ab'):rep(3, ','), ('x'):rep(0, ','))", "0\t0\tab,ab,ab\t\n"},
		{"print(unpack({1, 2, 3}), unpack({1, 2, 3}, 2), unpack({1, 2}, 3))", "1\t2\n"},
	} {
		out, msg := runTimed(t, tc.src, 5*time.Second)
		if msg != "" || out != tc.want {
			t.Errorf("%s:\n got  %q %q\n want %q", tc.src, out, msg, tc.want)
		}
	}
}

// A pathological pattern stops at the --timeout.
func TestPatternIsInterruptible(t *testing.T) {
	for _, src := range []string{
		"local s = ('a'):rep(10000)\nstring.find(s, '.-.-.-.-b')",
		"local s = ('a'):rep(10000)\nstring.match(s, '.-.-.-.-b')",
		"local s = ('a'):rep(10000)\nstring.gsub(s, '.-.-.-.-b', '')",
		"local s = ('a'):rep(10000)\nfor x in s:gmatch('.-.-.-.-b') do end",
	} {
		t0 := time.Now()
		got := exec(t, Options{Timeout: 300 * time.Millisecond}, src)
		if d := time.Since(t0); d > 3*time.Second {
			t.Errorf("%q took %v", src, d)
		}
		if got != "t.lua:2: stopped: the run took longer than the --timeout of 300ms (host time)" {
			t.Errorf("%q: %s", src, got)
		}
	}
}

// Values print as names numbered within the session, the same in every
// run; __tostring still applies.
func TestStableNames(t *testing.T) {
	src := `local t = {}
print(t, tostring(t), print, function() end)
print(string.format("%s|%s|%5s", t, {}, 1))
printk("%s %s", {}, t)
local ok, e = pcall(error, {})
print(e)
print(setmetatable({}, {__tostring = function() return "hi" end}))
assert(tostring(setmetatable({}, {__tostring = function() return 42 end})) == 42)
print(string.format("%s", setmetatable({}, {__tostring = function() return "there" end})))
`
	want := "table: 0x00000001\ttable: 0x00000001\tfunction: 0x00000002\tfunction: 0x00000003\n" +
		"table: 0x00000001|table: 0x00000004|    1\n" +
		"table: 0x00000006\n" +
		"hi\nthere\n"
	for range 2 {
		var b bytes.Buffer
		s, err := New(Options{Stdout: &b})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Exec("t.lua", src)
		dmesg := s.K.M.Log()
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("got\n%s\nwant\n%s", b.String(), want)
		}
		if n := len(dmesg); n == 0 || !strings.Contains(dmesg[n-1].Text, "table: 0x00000005 table: 0x00000001") {
			t.Errorf("printk: %v", dmesg)
		}
	}
}

// Iterating over the globals and the libraries visits their names in
// sorted order, in every session.
func TestGlobalsSorted(t *testing.T) {
	src := `local out = {}
for _, t in ipairs({_G, string, math, table, getmetatable("").__index, getmetatable(spawn(0, function() end)).__index}) do
  local names = {}
  for k in pairs(t) do names[#names + 1] = tostring(k) end
  out[#out + 1] = table.concat(names, " ")
end
return table.concat(out, "\n")`
	// The first session builds the template world in sorted order; every
	// session, that one included, clones it.
	var first string
	for i := range 3 {
		s, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.Exec("t.lua", src)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		got := v[0].String()
		for _, line := range strings.Split(got, "\n") {
			names := strings.Fields(line)
			for j := 1; j < len(names); j++ {
				if names[j-1] >= names[j] {
					t.Fatalf("not sorted: %q before %q in %s", names[j-1], names[j], line)
				}
			}
		}
		if !strings.Contains(got, "smp_call_function_single") || !strings.Contains(got, "gsub") || strings.Count(got, "\n") != 5 {
			t.Errorf("missing names: %s", got)
		}
		if i == 0 {
			first = got
		} else if got != first {
			t.Errorf("session %d listed\n%s\nthe first\n%s", i, got, first)
		}
	}
	// The globals stay the globals: a loaded chunk and a task see them.
	if msg := exec(t, Options{}, `x = 5
assert(_G.x == 5 and loadstring("return x")() == 5)
spawn(0, function() assert(x == 5 and _G.x == 5) end)
run(1000)`); msg != "" {
		t.Error(msg)
	}
}

// Every built-in scenario compiles under the nesting limit, with room to
// spare.
func TestScenariosWithinLevels(t *testing.T) {
	all := scripts.All()
	if len(all) == 0 {
		t.Fatal("no scenarios")
	}
	for _, sc := range all {
		chunk, err := parse.Parse(strings.NewReader(sc.Source), sc.Name)
		if err != nil {
			t.Fatal(err)
		}
		depth := 0
		for _, st := range chunk {
			depth = max(depth, treeDepth(st))
		}
		if depth > MaxSyntaxLevels/4 {
			t.Errorf("%s nests %d levels deep", sc.Name, depth)
		}
		if _, err := Compile(sc.Name, sc.Source); err != nil {
			t.Errorf("%s: %v", sc.Name, err)
		}
	}
}
