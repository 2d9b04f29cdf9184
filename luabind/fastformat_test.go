package luabind

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// formatBoth formats format with args through fastFormat and through
// strFormat's general path (fmt.Sprintf). fast is "" with fastOK false
// when the fast path gave up; general is the general path's result or
// its error message.
func formatBoth(t testing.TB, s *Session, format string, args []lua.LValue) (fast string, fastOK bool, general string, generalErr bool) {
	L := s.L
	L.SetTop(0)
	L.Push(lua.LString(format))
	for _, a := range args {
		L.Push(a)
	}
	buf, ok := fastFormat(nil, L, format, L.GetTop())
	if ok {
		fast, fastOK = string(buf), true
	}
	fn := L.NewFunction(func(L *lua.LState) int {
		return s.strFormatGeneral(L, L.CheckString(1), L.GetTop())
	})
	L.SetTop(0)
	L.Push(fn)
	L.Push(lua.LString(format))
	for _, a := range args {
		L.Push(a)
	}
	if err := L.PCall(len(args)+1, 1, nil); err != nil {
		return fast, fastOK, err.Error(), true
	}
	general = L.ToString(-1)
	L.SetTop(0)
	return fast, fastOK, general, false
}

func newFormatSession(t testing.TB) *Session {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// The fast path's bytes are the general path's, and it takes the
// conversions scripts use; what it does not take, the general path
// formats (or refuses) as before.
func TestFastFormatMatches(t *testing.T) {
	s := newFormatSession(t)
	n := func(f float64) lua.LValue { return lua.LNumber(f) }
	str := func(x string) lua.LValue { return lua.LString(x) }
	for _, tc := range []struct {
		format string
		args   []lua.LValue
		want   string // "" with fast false: the general path's
		fast   bool   // the fast path must take it
	}{
		{"greet: hello from CPU %d, info=%d", []lua.LValue{n(1), n(42)}, "greet: hello from CPU 1, info=42", true},
		{"t=%dns CPU%d wrote %s = %s", []lua.LValue{n(1500), n(0), str("ICR"), str("0x000000fb")}, "t=1500ns CPU0 wrote ICR = 0x000000fb", true},
		{"%i|%5d|%-5d|%05d|%+d|% d|%.3d|%8.3d|%-08d", []lua.LValue{n(7), n(-7), n(7), n(-7), n(7), n(7), n(-7), n(7), n(7)},
			"7|   -7|7    |-0007|+7| 7|-007|     007|7       ", true},
		{"%x %X %#x %#X %08x %#o %o %#o", []lua.LValue{n(255), n(255), n(255), n(0), n(48879), n(8), n(-8), n(0)},
			"ff FF 0xff 0X0 0000beef 010 -10 0", true},
		{"[%.d][%5.0d][%.0x]", []lua.LValue{n(0), n(0), n(1)}, "[][     ][1]", true},
		{"%d %d %d", []lua.LValue{n(1.9), n(-1.9), n(math.Pow(2, 53))}, "1 -1 9007199254740992", true},
		{"%c%c%5c%-3c|%05c", []lua.LValue{n(65), n(233), n(66), n(67), n(68)}, "Aé    BC  |0000D", true},
		{"%c", []lua.LValue{n(-1)}, "\uFFFD", true},
		{"%s %s %s %s %s %s", []lua.LValue{str("x"), n(3), n(-0.5), lua.LTrue, lua.LNil, n(1e21)}, "x 3 -0.5 true nil 1e+21", true},
		{"%-34s|%28s|%.2s|%5.1s|%05s", []lua.LValue{str("ab"), str("cd"), str("héllo"), str("wxyz"), str("é")},
			"ab                                |                          cd|hé|    w|0000é", true},
		{"%s %s %.1s", []lua.LValue{n(math.Inf(1)), n(math.NaN()), n(123)}, "+Inf NaN 1", true},
		{"100%% %s%%", []lua.LValue{str("done")}, "100% done%", true},
		{"no conversions", nil, "no conversions", true},
		// The general path's: %u is not Go's, a string for %d, %f,
		// missing and extra arguments, the %% count's quirk, errors.
		{"%u", []lua.LValue{n(5)}, "", false},
		{"%d", []lua.LValue{str("42")}, "", false},
		{"%5.2f", []lua.LValue{n(3.14159)}, "", false},
		{"%d %d", []lua.LValue{n(1)}, "", false},
		{"%d", []lua.LValue{n(1), n(2)}, "1", true}, // fmt gets one argument
		{"%%%d", []lua.LValue{n(1), n(2)}, "%1%!(EXTRA", false},
		{"%d", []lua.LValue{lua.LTrue}, "", false},
		{"%s", []lua.LValue{&lua.LTable{}}, "", false},
		{"%100d", []lua.LValue{n(1)}, "", false},
		{"%5", nil, "", false},
		{"%------d", []lua.LValue{n(1)}, "", false},
	} {
		fast, ok, general, gerr := formatBoth(t, s, tc.format, tc.args)
		if ok != tc.fast {
			t.Errorf("%q: fast path took it: %v, want %v", tc.format, ok, tc.fast)
		}
		if ok && (gerr || fast != general) {
			t.Errorf("%q: fast %q, general %q (error %v)", tc.format, fast, general, gerr)
		}
		if tc.want != "" && !strings.HasPrefix(general, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.format, general, tc.want)
		}
	}
}

// randomFormat draws a format of literals and conversions, most of them
// valid, some not, and arguments for it (sometimes one too few or too
// many), from r.
func randomFormat(r *rand.Rand) (string, []lua.LValue) {
	var b strings.Builder
	var args []lua.LValue
	pieces := r.IntN(5)
	for range pieces {
		switch r.IntN(6) {
		case 0:
			b.WriteString([]string{"a", "héllo ", " ", "=", "\x00", "\xff", "t=", "%%", "é"}[r.IntN(9)])
		case 1:
			b.WriteString("%%")
		default:
			b.WriteByte('%')
			for range r.IntN(7) {
				if r.IntN(3) == 0 {
					break
				}
				b.WriteByte("-+ #0"[r.IntN(5)])
			}
			switch r.IntN(5) {
			case 0:
				b.WriteString([]string{"1", "5", "9", "12", "34", "99", "100", "007"}[r.IntN(8)])
			case 1:
				b.WriteString("10")
			}
			if r.IntN(4) == 0 {
				b.WriteString([]string{".", ".0", ".1", ".3", ".05", ".99", ".123"}[r.IntN(7)])
			}
			if r.IntN(20) > 0 {
				b.WriteByte("cdiouxXeEfgGqsdddsssxz%*"[r.IntN(24)])
			}
			args = append(args, randomArg(r))
		}
	}
	switch r.IntN(8) {
	case 0:
		args = append(args, randomArg(r))
	case 1:
		if len(args) > 0 {
			args = args[:len(args)-1]
		}
	}
	return b.String(), args
}

var formatNumbers = []float64{0, 1, -1, 7, 42, 255, -255, 65, 233, 0x10FFFF, 0x110000, 0xD800, 1.5, -2.5, 0.1, -0.0,
	1e21, 1e300, -1e300, 1 << 53, -(1 << 53), 1 << 63, -(1 << 63), 1 << 64, 123456789012, math.MaxInt32, math.MinInt32,
	math.Inf(1), math.Inf(-1), math.NaN(), 5e-324, 1e15 + 0.5}

func randomArg(r *rand.Rand) lua.LValue {
	switch r.IntN(10) {
	case 0, 1, 2, 3:
		return lua.LNumber(formatNumbers[r.IntN(len(formatNumbers))])
	case 4:
		return lua.LNumber(r.Int64N(1<<40) - 1<<39)
	case 5, 6:
		return lua.LString([]string{"", "x", "ICR", "héllo wörld", "42", " 0x10", "1e3", "\xff\xfe", strings.Repeat("ab", 40)}[r.IntN(9)])
	case 7:
		return lua.LBool(r.IntN(2) == 0)
	case 8:
		return lua.LNil
	default:
		return &lua.LTable{}
	}
}

// Over many random formats and arguments, whatever the fast path
// formats, it formats to the general path's bytes; and it takes a good
// share of them, or the comparison would prove little.
func TestFastFormatProperty(t *testing.T) {
	s := newFormatSession(t)
	r := rand.New(rand.NewPCG(1, 2))
	cases := 100000
	if testing.Short() {
		cases = 10000
	}
	taken := 0
	for range cases {
		format, args := randomFormat(r)
		fast, ok, general, gerr := formatBoth(t, s, format, args)
		if !ok {
			continue
		}
		taken++
		if gerr || fast != general {
			t.Fatalf("string.format(%q, %v): fast %q, general %q (error %v)", format, args, fast, general, gerr)
		}
	}
	if taken < cases/5 {
		t.Errorf("the fast path took %d of %d formats", taken, cases)
	}
}

// FuzzFastFormat: a format and arguments drawn from the input's bytes.
func FuzzFastFormat(f *testing.F) {
	f.Add("%d %s %x", []byte{0, 1, 2})
	f.Add("%-5.2s|%+05d|%#o|%c", []byte{5, 9, 30, 40})
	f.Add("%%%d%%", []byte{1, 1})
	s := newFormatSession(f)
	f.Fuzz(func(t *testing.T, format string, sel []byte) {
		if len(format) > 200 || len(sel) > 20 {
			return
		}
		var args []lua.LValue
		for _, c := range sel {
			r := rand.New(rand.NewPCG(uint64(c), 0))
			args = append(args, randomArg(r))
		}
		fast, ok, general, gerr := formatBoth(t, s, format, args)
		if ok && (gerr || fast != general) {
			t.Fatalf("string.format(%q, %v): fast %q, general %q (error %v)", format, args, fast, general, gerr)
		}
	})
}
