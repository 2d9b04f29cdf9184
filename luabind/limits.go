package luabind

// Bounds on single built-in operations. The --timeout is polled between
// Lua instructions and the memory watchdog every 20 ms: neither stops one
// built-in call that runs for minutes or allocates gigabytes at once. The
// built-ins below check their result's size before building it (the
// limit of every string a built-in builds is MaxStringRep) or their count
// of results (MaxUnpack), and the pattern matchers check the session's
// context between chunks of matching.

import (
	"fmt"
	"math"
	"strings"

	"github.com/xcallsh/xcallsh/luabind/internal/luapm"
	lua "github.com/yuin/gopher-lua"
)

// MaxUnpack bounds the values unpack returns, as Lua 5.1's LUAI_MAXCSTACK
// (8000) does: "too many results to unpack".
const MaxUnpack = 8000

func tooLong(size float64) string {
	return fmt.Sprintf("result of %.0f bytes exceeds the limit of %d MiB", size, MaxStringRep>>20)
}

// installLimits replaces the unbounded built-ins of the libraries opened
// in L.
func installLimits(L *lua.LState) {
	L.SetGlobal("unpack", L.NewFunction(baseUnpack))
	L.SetGlobal("tostring", L.NewFunction(sessionFn((*Session).tostring)))
	L.SetGlobal("loadstring", L.NewFunction(sessionFn((*Session).loadString)))
	L.SetGlobal("load", L.NewFunction(sessionFn((*Session).loadFunc)))
	tab := L.GetGlobal("table").(*lua.LTable)
	tab.RawSetString("concat", L.NewFunction(tableConcat))
	str := L.GetGlobal("string").(*lua.LTable)
	str.RawSetString("byte", L.NewFunction(strByte))
	str.RawSetString("format", L.NewFunction(sessionFn((*Session).strFormat)))
	str.RawSetString("gsub", L.NewFunction(sessionFn((*Session).strGsub)))
	str.RawSetString("find", L.NewFunction(sessionFn((*Session).strFind)))
	str.RawSetString("match", L.NewFunction(sessionFn((*Session).strMatch)))
	gmatch := L.NewFunction(sessionFn((*Session).strGmatch))
	str.RawSetString("gmatch", gmatch)
	str.RawSetString("gfind", gmatch)
	clampIntArgs(L)
}

// maxIntArg is where clampIntArgs holds integer arguments: every integer
// up to it is exact in a float64 and in an int on any host.
const maxIntArg = 1 << 53

// intArgs are the library functions whose arguments (by position; 0: all
// of them) are integers the Go code converts with int(x). For NaN, the
// infinities and anything past ±2^63 that conversion is undefined in Go
// (amd64 gives the smallest int, arm64 saturates), so string.rep(s, 2^63)
// was "" on one host and a limit error on another. table.insert's
// position is only one when it has three arguments.
var intArgs = []struct {
	lib, name string
	pos       []int
}{
	{"", "select", []int{1}},
	{"", "unpack", []int{2, 3}},
	{"string", "byte", []int{2, 3}},
	{"string", "char", []int{0}},
	{"string", "find", []int{3}},
	{"string", "gsub", []int{4}},
	{"string", "rep", []int{2}},
	{"string", "sub", []int{2, 3}},
	{"table", "concat", []int{3, 4}},
	{"table", "insert", []int{2}},
	{"table", "remove", []int{2}},
}

// clampIntArgs wraps the functions of intArgs so that an integer argument
// reaches them as the same number on every host: NaN as 0, anything
// beyond ±maxIntArg as ±maxIntArg (an answer the function gives for any
// number that large: out of range, or too long).
func clampIntArgs(L *lua.LState) {
	for _, f := range intArgs {
		tb := L.G.Global
		if f.lib != "" {
			tb = L.GetGlobal(f.lib).(*lua.LTable)
		}
		inner := tb.RawGetString(f.name).(*lua.LFunction).GFunction
		pos, insert := f.pos, f.name == "insert"
		tb.RawSetString(f.name, L.NewFunction(func(L *lua.LState) int {
			top := L.GetTop()
			if insert && top != 3 {
				return inner(L)
			}
			for _, p := range pos {
				if p == 0 {
					for i := 1; i <= top; i++ {
						clampIntArg(L, i)
					}
				} else if p <= top {
					clampIntArg(L, p)
				}
			}
			return inner(L)
		}))
	}
}

func clampIntArg(L *lua.LState, n int) {
	v, ok := L.Get(n).(lua.LNumber)
	if !ok {
		return
	}
	switch x := float64(v); {
	case x != x:
		L.Replace(n, lua.LNumber(0))
	case x > maxIntArg:
		L.Replace(n, lua.LNumber(maxIntArg))
	case x < -maxIntArg:
		L.Replace(n, lua.LNumber(-maxIntArg))
	}
}

// baseUnpack is unpack(t [, i [, j]]) with at most MaxUnpack results.
func baseUnpack(L *lua.LState) int {
	tb := L.CheckTable(1)
	start := L.OptInt64(2, 1)
	end := L.OptInt64(3, int64(tb.Len()))
	if start > end {
		return 0
	}
	n := uint64(end) - uint64(start) + 1
	if n > MaxUnpack || n == 0 {
		L.RaiseError("too many results to unpack")
	}
	for i := start; i <= end; i++ {
		L.Push(tb.RawGetInt(int(i)))
	}
	return int(n)
}

// strByte is string.byte(s [, i [, j]]) as gopher-lua has it (without i,
// all the bytes), at most MaxUnpack of them as in Lua 5.1: "string slice
// too long". Pushing ten million values took half a minute, deaf to the
// --timeout.
func strByte(L *lua.LState) int {
	str := L.CheckString(1)
	start := L.OptInt(2, 1) - 1
	end := L.OptInt(3, -1)
	l := len(str)
	if start < 0 {
		start = l + start + 1
	}
	if end < 0 {
		end = l + end + 1
	}
	if L.GetTop() == 2 {
		if start < 0 || start >= l {
			return 0
		}
		L.Push(lua.LNumber(str[start]))
		return 1
	}
	start = max(start, 0)
	end = min(end, l)
	if end < 0 || end <= start || start >= l {
		return 0
	}
	if end-start > MaxUnpack {
		L.RaiseError("string slice too long")
	}
	for i := start; i < end; i++ {
		L.Push(lua.LNumber(str[i]))
	}
	return end - start
}

// tableConcat is table.concat(t [, sep [, i [, j]]]) as gopher-lua has it
// (i and j clamped to the table), built at once after its size is known.
func tableConcat(L *lua.LState) int {
	tbl := L.CheckTable(1)
	sep := L.OptString(2, "")
	i := L.OptInt(3, 1)
	j := L.OptInt(4, tbl.Len())
	n := tbl.Len()
	if L.GetTop() == 3 && (i > n || i < 1) {
		L.Push(lua.LString(""))
		return 1
	}
	i = max(min(i, n), 1)
	j = min(j, n)
	if i > j {
		L.Push(lua.LString(""))
		return 1
	}
	size := float64(len(sep)) * float64(j-i)
	for k := i; k <= j; k++ {
		v := tbl.RawGetInt(k)
		if !lua.LVCanConvToString(v) {
			L.RaiseError("invalid value (%s) at index %d in table for concat", v.Type().String(), k)
		}
		if str, ok := v.(lua.LString); ok {
			size += float64(len(str))
		} else {
			size += 24 // a number's longest form
		}
	}
	if size > MaxStringRep {
		argError(L, 1, "concat", tooLong(size))
	}
	var b strings.Builder
	b.Grow(int(size))
	for k := i; k <= j; k++ {
		if k > i {
			b.WriteString(sep)
		}
		b.WriteString(lua.LVAsString(tbl.RawGetInt(k)))
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// mathRandom is math.random on the run's PRNG: (), (m) or (m, n), the
// bounds truncated to integers. An argument that is not a finite number
// within 2^63, or an interval of 2^63 numbers or more, is refused.
func (s *Session) mathRandom(L *lua.LState) int {
	r := s.K.M.Rand()
	arg := func(n int) int64 {
		f := float64(L.CheckNumber(n))
		if math.IsNaN(f) || f >= 0x1p63 || f < -0x1p63 {
			argError(L, n, "random", "number has no integer representation")
		}
		return int64(f)
	}
	switch L.GetTop() {
	case 0:
		L.Push(lua.LNumber(r.Float64()))
	case 1:
		m := arg(1)
		if m < 1 {
			argError(L, 1, "random", "interval is empty")
		}
		L.Push(lua.LNumber(1 + r.Int64N(m)))
	case 2:
		lo, hi := arg(1), arg(2)
		if lo > hi {
			argError(L, 2, "random", "interval is empty")
		}
		span := uint64(hi) - uint64(lo) // exact: hi >= lo
		if span >= math.MaxInt64 {
			argError(L, 2, "random", "interval is too large")
		}
		L.Push(lua.LNumber(lo + r.Int64N(int64(span)+1)))
	default:
		L.RaiseError("wrong number of arguments")
	}
	return 1
}

// strFormat is string.format with Lua 5.1's checks before gopher-lua's
// formatting (Go's fmt): only Lua's conversions, at most 2 digits of width
// and of precision, numbers for the numeric ones, and a result within
// MaxStringRep. %s of a table, function, thread or userdata prints
// tostring's text (a stable name, or __tostring's result). The common
// conversions take fastFormat's path (fastformat.go), to the same bytes.
func (s *Session) strFormat(L *lua.LState) int {
	format := L.CheckString(1)
	top := L.GetTop()
	var stack [256]byte
	if buf, ok := fastFormat(stack[:0], L, format, top); ok {
		L.Push(lua.LString(buf))
		return 1
	}
	return s.strFormatGeneral(L, format, top)
}

// strFormatGeneral is strFormat's path through fmt.Sprintf, for what
// fastFormat does not format itself: it checks the format and the
// arguments, raising Lua 5.1's errors.
func (s *Session) strFormatGeneral(L *lua.LState, format string, top int) int {
	args := make([]any, top-1)
	for i := 2; i <= top; i++ {
		args[i-2] = L.Get(i)
	}
	size := 0.0
	arg := 2
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			size++
			continue
		}
		i++
		if i < len(format) && format[i] == '%' {
			size++
			continue
		}
		start := i
		for i < len(format) && strings.IndexByte("-+ #0", format[i]) >= 0 {
			i++
		}
		if i-start > 5 {
			L.RaiseError("invalid format (repeated flags)")
		}
		width, prec := 0, 0
		digits := func() int {
			d, _, next := fmtDigits(format, i)
			i = next
			if d < 0 { // more than 2 digits
				L.RaiseError("invalid format (width or precision too long)")
			}
			return d
		}
		width = digits()
		if i < len(format) && format[i] == '.' {
			i++
			prec = digits()
		}
		if i >= len(format) {
			L.RaiseError("invalid option '%%' to 'format'")
		}
		verb := format[i]
		if strings.IndexByte("cdiouxXeEfgGqs", verb) < 0 {
			L.RaiseError("invalid option '%%%c' to 'format'", verb)
		}
		var v lua.LValue = lua.LNil
		if arg <= top {
			v = L.Get(arg)
		}
		n := float64(width)
		switch verb {
		case 's', 'q':
			switch v.(type) {
			case *lua.LTable, *lua.LFunction, *lua.LUserData, *lua.LState:
				if arg <= top {
					str := lua.LString(s.ToString(L, v))
					args[arg-2] = str
					v = str
				}
			}
			n += float64(len(v.String()))
			if verb == 'q' {
				n = 4*n + 2 // escapes at most
			}
		default:
			switch v := v.(type) {
			case lua.LNumber:
				n += float64(prec) + 330 // %f of 1e308
			case lua.LString:
				n += float64(prec) + 330 + 2*float64(len(v))
			default:
				if arg <= top {
					argError(L, arg, "format", "number expected, got "+v.Type().String())
				}
			}
		}
		size += n + 16
		arg++
	}
	if size > MaxStringRep {
		argError(L, 1, "format", tooLong(size))
	}
	// gopher-lua's choice of arguments, kept for its output's sake.
	npat := strings.Count(format, "%") - strings.Count(format, "%%")
	L.Push(lua.LString(fmt.Sprintf(format, args[:min(npat, len(args))]...)))
	return 1
}

// patternChunk is how many matches the pattern functions look for between
// two checks of the session's context (and, for gsub, of the result's
// size).
const patternChunk = 1024

// findAll calls each(m) for the matches of pat in src from offset on (at
// most limit of them, limit < 0: all), as gopher-lua's pm.Find finds them,
// a chunk at a time (a bounded number of matches in memory). An
// interrupted session stops it, between chunks or within a match.
func (s *Session) findAll(L *lua.LState, pat, src string, offset, limit int, each func(m *luapm.MatchData)) {
	b := []byte(src)
	if limit == 0 {
		ms, err := luapm.Find(pat, b, offset, 0, s.ctx.Done())
		if err != nil {
			patternError(L, err)
		}
		for _, m := range ms {
			checkCaptures(L, m)
			each(m)
		}
		return
	}
	anchored := strings.HasPrefix(pat, "^")
	for sp := offset; ; {
		s.checkStop(L)
		n := patternChunk
		if limit > 0 {
			n = min(n, limit)
		}
		ms, err := luapm.Find(pat, b, sp, n, s.ctx.Done())
		if err != nil {
			patternError(L, err)
		}
		for _, m := range ms {
			checkCaptures(L, m)
			each(m)
		}
		if anchored || len(ms) < n {
			return
		}
		if limit > 0 {
			if limit -= n; limit == 0 {
				return
			}
		}
		last := ms[len(ms)-1]
		sp = max(last.Capture(0)+1, last.Capture(1))
	}
}

// MaxCaptures bounds the captures of a pattern, as Lua 5.1's
// LUA_MAXCAPTURES (32) does: "too many captures". Each capture is a value
// string.find and string.match return.
const MaxCaptures = 32

func checkCaptures(L *lua.LState, m *luapm.MatchData) {
	if m.CaptureLength()/2-1 > MaxCaptures {
		L.RaiseError("too many captures")
	}
}

// patternError raises a pattern's error: malformed, or stopped while
// matching (wrapErr then names the reason, --timeout say).
func patternError(L *lua.LState, err error) {
	L.RaiseError("%s", err.Error())
}

// checkStop raises the interruption of a session being stopped (by
// --timeout, the memory watchdog, Ctrl-C); wrapErr names the reason.
func (s *Session) checkStop(L *lua.LState) {
	select {
	case <-s.ctx.Done():
		L.RaiseError("stopped: interrupted")
	default:
	}
}

// strGsub is string.gsub with gopher-lua's semantics (%0-%9 and %% in a
// string replacement, table and function replacements, the count), built
// in one pass with the result bounded by MaxStringRep.
func (s *Session) strGsub(L *lua.LState) int {
	str := L.CheckString(1)
	pat := L.CheckString(2)
	L.CheckTypes(3, lua.LTString, lua.LTTable, lua.LTFunction)
	repl := L.CheckAny(3)
	limit := L.OptInt(4, -1)
	var out strings.Builder
	prev, count := 0, 0
	emit := func(start, end int, text string) {
		if float64(out.Len())+float64(start-prev)+float64(len(text))+float64(len(str)-end) > MaxStringRep {
			argError(L, 3, "gsub", fmt.Sprintf("result exceeds the limit of %d MiB", MaxStringRep>>20))
		}
		out.WriteString(str[prev:start])
		out.WriteString(text)
		prev = end
	}
	s.findAll(L, pat, str, 0, limit, func(m *luapm.MatchData) {
		count++
		start, end := m.Capture(0), m.Capture(1)
		switch r := repl.(type) {
		case lua.LString:
			emit(start, end, expandRepl(L, m, str, string(r)))
		case *lua.LTable:
			idx := 0
			if m.CaptureLength() > 2 {
				idx = 2
			}
			var v lua.LValue
			if m.IsPosCapture(idx) {
				v = L.GetTable(r, lua.LNumber(m.Capture(idx)))
			} else {
				v = L.GetField(r, str[m.Capture(idx):m.Capture(idx+1)])
			}
			if !lua.LVIsFalse(v) {
				emit(start, end, lua.LVAsString(v))
			}
		case *lua.LFunction:
			L.Push(r)
			nargs := 0
			if m.CaptureLength() > 2 {
				for i := 2; i < m.CaptureLength(); i += 2 {
					if m.IsPosCapture(i) {
						L.Push(lua.LNumber(m.Capture(i)))
					} else {
						L.Push(lua.LString(capture(L, m, str, i)))
					}
					nargs++
				}
			} else {
				L.Push(lua.LString(capture(L, m, str, 0)))
				nargs++
			}
			L.Call(nargs, 1)
			v := L.Get(-1)
			L.Pop(1)
			if !lua.LVIsFalse(v) {
				emit(start, end, lua.LVAsString(v))
			}
		}
	})
	if count == 0 {
		L.SetTop(1)
		L.Push(lua.LNumber(0))
		return 2
	}
	out.WriteString(str[prev:])
	L.Push(lua.LString(out.String()))
	L.Push(lua.LNumber(count))
	return 2
}

// capture is capture idx (an even index into m's captures) of a match, as
// gopher-lua's gsub reads it: %1 without captures is the whole match.
func capture(L *lua.LState, m *luapm.MatchData, str string, idx int) string {
	if idx > 2 && idx >= m.CaptureLength() {
		L.RaiseError("invalid capture index")
	}
	if idx >= m.CaptureLength() && idx == 2 {
		idx = 0
	}
	if m.IsPosCapture(idx) {
		return fmt.Sprint(m.Capture(idx))
	}
	return str[m.Capture(idx):m.Capture(idx+1)]
}

// expandRepl is a string replacement of gsub for match m: "%%" is "%",
// "%d" capture d, "%" before anything else is itself, as is a final "%".
func expandRepl(L *lua.LState, m *luapm.MatchData, str, repl string) string {
	if strings.IndexByte(repl, '%') < 0 {
		return repl
	}
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '%' || i == len(repl)-1 {
			b.WriteByte(c)
			continue
		}
		i++
		d := repl[i]
		switch {
		case d == '%':
			b.WriteByte('%')
		case d >= '0' && d <= '9':
			b.WriteString(capture(L, m, str, 2*int(d-'0')))
		default:
			b.WriteByte('%')
			b.WriteByte(d)
		}
	}
	return b.String()
}

// strFind is string.find(s, pattern [, init [, plain]]) as gopher-lua has
// it, interruptible (see findAll).
func (s *Session) strFind(L *lua.LState) int {
	str := L.CheckString(1)
	pattern := L.CheckString(2)
	if len(pattern) == 0 {
		L.Push(lua.LNumber(1))
		L.Push(lua.LNumber(0))
		return 2
	}
	init := findInit(L.OptInt(3, 1), len(str))
	plain := false
	if L.GetTop() == 4 {
		plain = lua.LVAsBool(L.Get(4))
	}
	if plain {
		if init > len(str) {
			L.Push(lua.LNil)
			return 1
		}
		pos := strings.Index(str[init:], pattern)
		if pos < 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(init + pos + 1))
		L.Push(lua.LNumber(init + pos + len(pattern)))
		return 2
	}
	var md *luapm.MatchData
	s.findAll(L, pattern, str, init, 1, func(m *luapm.MatchData) { md = m })
	if md == nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LNumber(md.Capture(0) + 1))
	L.Push(lua.LNumber(md.Capture(1)))
	for i := 2; i < md.CaptureLength(); i += 2 {
		if md.IsPosCapture(i) {
			L.Push(lua.LNumber(md.Capture(i)))
		} else {
			L.Push(lua.LString(str[md.Capture(i):md.Capture(i+1)]))
		}
	}
	return md.CaptureLength()/2 + 1
}

// strMatch is string.match(s, pattern [, init]) as gopher-lua has it,
// interruptible.
func (s *Session) strMatch(L *lua.LState) int {
	str := L.CheckString(1)
	pattern := L.CheckString(2)
	offset := L.OptInt(3, 1)
	l := len(str)
	if offset < 0 {
		offset = l + offset + 1
	}
	offset--
	if offset < 0 {
		offset = 0
	}
	var md *luapm.MatchData
	s.findAll(L, pattern, str, offset, 1, func(m *luapm.MatchData) { md = m })
	if md == nil {
		return 0 // gopher-lua's string.match returns nothing, not nil
	}
	nsubs := md.CaptureLength() / 2
	switch nsubs {
	case 1:
		L.Push(lua.LString(str[md.Capture(0):md.Capture(1)]))
		return 1
	default:
		for i := 2; i < md.CaptureLength(); i += 2 {
			if md.IsPosCapture(i) {
				L.Push(lua.LNumber(md.Capture(i)))
			} else {
				L.Push(lua.LString(str[md.Capture(i):md.Capture(i+1)]))
			}
		}
		return nsubs - 1
	}
}

// strGmatch is string.gmatch(s, pattern): an iterator finding one match
// per call (gopher-lua's finds them all on the first call).
func (s *Session) strGmatch(L *lua.LState) int {
	str := L.CheckString(1)
	pattern := L.CheckString(2)
	sp := 0
	L.Push(L.NewFunction(func(L *lua.LState) int {
		var md *luapm.MatchData
		if sp <= len(str) {
			s.findAll(L, pattern, str, sp, 1, func(m *luapm.MatchData) { md = m })
		}
		if md == nil {
			sp = len(str) + 1
			return 0
		}
		sp = max(md.Capture(0)+1, md.Capture(1))
		if strings.HasPrefix(pattern, "^") {
			sp = len(str) + 1 // gopher-lua anchors gmatch's pattern at 0
		}
		if md.CaptureLength() == 2 {
			L.Push(lua.LString(str[md.Capture(0):md.Capture(1)]))
			return 1
		}
		for i := 2; i < md.CaptureLength(); i += 2 {
			if md.IsPosCapture(i) {
				L.Push(lua.LNumber(md.Capture(i)))
			} else {
				L.Push(lua.LString(str[md.Capture(i):md.Capture(i+1)]))
			}
		}
		return md.CaptureLength()/2 - 1
	}))
	return 1
}

// findInit is gopher-lua's translation of string.find's init (1-based,
// negative from the end) to a 0-based offset, at least 0.
func findInit(init, length int) int {
	if init != 0 {
		init--
	}
	if init < 0 {
		init = length + init + 1
	}
	return max(0, init)
}
