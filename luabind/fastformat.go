package luabind

// string.format's fast path. strFormat hands the format and its Lua
// arguments to fmt.Sprintf, and gopher-lua's LNumber and LString format
// themselves by building a second format string and calling fmt again
// (LNumber.Format, defaultFormat), for every conversion. fastFormat
// produces the same bytes for the common conversions directly, following
// Go's fmt (fmt/format.go: fmtInteger, fmtC, fmtS, pad): %d %i %o %x %X
// %c of a number, %s of a string, number, boolean or nil, and %%, with
// any of Lua's flags, widths and precisions. Anything else (%e %f %g %q
// %u, a string given to %d, a table given to %s, a missing or an extra
// argument, a format strFormat would reject, a result past MaxStringRep)
// makes it give up, before any side effect, and strFormat takes its
// general path, which formats or raises the error as before.
// TestFastFormatMatches and FuzzFastFormat compare the two.

import (
	"strconv"
	"strings"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

const (
	fmtLower = "0123456789abcdefx"
	fmtUpper = "0123456789ABCDEFX"
)

// fmtSpec is one conversion's flags, width and precision, as fmt's
// parser (fmt/print.go: doPrintf) reads them.
type fmtSpec struct {
	minus, plus, sharp, space, zero bool
	wid, prec                       int
	widPresent, precPresent         bool
}

// fastFormat appends string.format(format, args...) to buf, the
// arguments being L's values from index 2 to top; ok false: the general
// path must format it (buf's contents are then undefined).
func fastFormat(buf []byte, L *lua.LState, format string, top int) (_ []byte, ok bool) {
	nargs := top - 1
	// fmt.Sprintf gets min(npat, nargs) arguments (strFormat): with more
	// than the conversions use, fmt appends %!(EXTRA ...).
	npat := strings.Count(format, "%") - strings.Count(format, "%%")
	passed := min(npat, nargs)
	size := 0.0 // strFormat's estimate, checked against MaxStringRep
	arg := 2
	for i := 0; i < len(format); {
		j := strings.IndexByte(format[i:], '%')
		if j < 0 {
			buf = append(buf, format[i:]...)
			size += float64(len(format) - i)
			break
		}
		buf = append(buf, format[i:i+j]...)
		size += float64(j)
		i += j + 1
		if i < len(format) && format[i] == '%' {
			buf = append(buf, '%')
			size++
			i++
			continue
		}
		var sp fmtSpec
		start := i
	flags:
		for ; i < len(format); i++ {
			switch format[i] {
			case '-':
				sp.minus = true
			case '+':
				sp.plus = true
			case '#':
				sp.sharp = true
			case ' ':
				sp.space = true
			case '0':
				sp.zero = true
			default:
				break flags
			}
		}
		if i-start > 5 {
			return buf, false
		}
		sp.wid, sp.widPresent, i = fmtDigits(format, i)
		if sp.wid < 0 {
			return buf, false
		}
		if i < len(format) && format[i] == '.' {
			sp.prec, _, i = fmtDigits(format, i+1)
			if sp.prec < 0 {
				return buf, false
			}
			sp.precPresent = true
		}
		if i >= len(format) || arg-2 >= passed {
			return buf, false
		}
		verb := format[i]
		i++
		v := L.Get(arg)
		arg++
		switch verb {
		case 'd', 'i', 'o', 'x', 'X', 'c':
			n, isNum := v.(lua.LNumber)
			if !isNum {
				return buf, false
			}
			size += float64(sp.wid+sp.prec) + 330 + 16
			u := uint64(int64(n))
			switch verb {
			case 'd', 'i':
				buf = sp.integer(buf, u, 10, fmtLower)
			case 'o':
				buf = sp.integer(buf, u, 8, fmtLower)
			case 'x':
				buf = sp.integer(buf, u, 16, fmtLower)
			case 'X':
				buf = sp.integer(buf, u, 16, fmtUpper)
			case 'c':
				r := rune(u)
				if u > utf8.MaxRune {
					r = utf8.RuneError
				}
				var b [utf8.UTFMax]byte
				buf = sp.pad(buf, utf8.AppendRune(b[:0], r), 1, sp.zero)
			}
		case 's':
			var str string
			switch v := v.(type) {
			case lua.LString:
				str = string(v)
			case lua.LNumber:
				if float64(v) == float64(int64(v)) { // gopher-lua's isInteger
					var b [24]byte
					d := strconv.AppendInt(b[:0], int64(v), 10)
					size += float64(sp.wid+len(d)) + 16
					if sp.precPresent && sp.prec < len(d) {
						d = d[:sp.prec]
					}
					buf = sp.pad(buf, d, len(d), sp.zero)
					continue
				}
				str = v.String()
			case lua.LBool:
				str = v.String()
			case *lua.LNilType:
				str = "nil"
			default:
				return buf, false
			}
			size += float64(sp.wid+len(str)) + 16
			if size > MaxStringRep {
				return buf, false
			}
			if sp.precPresent { // fmt truncates to prec runes
				n := sp.prec
				for k := range str {
					n--
					if n < 0 {
						str = str[:k]
						break
					}
				}
			}
			buf = sp.padString(buf, str, sp.zero)
		default:
			return buf, false
		}
	}
	if arg-2 != passed || size > MaxStringRep {
		return buf, false
	}
	return buf, true
}

// fmtDigits reads the at most 2 digits of a width or a precision at
// format[i:]: their value (-1 for more than 2), whether there were any,
// and the index after them.
func fmtDigits(format string, i int) (int, bool, int) {
	d, n := 0, 0
	for i < len(format) && format[i] >= '0' && format[i] <= '9' {
		d = d*10 + int(format[i]-'0')
		i++
		n++
	}
	if n > 2 {
		return -1, true, i
	}
	return d, n > 0, i
}

// integer appends u, an int64's bits, in base as fmt's fmtInteger does
// for a signed value.
func (sp *fmtSpec) integer(buf []byte, u uint64, base uint64, digits string) []byte {
	negative := int64(u) < 0
	if negative {
		u = -u
	}
	prec := 0
	if sp.precPresent {
		prec = sp.prec
		if prec == 0 && u == 0 { // nothing but the padding, of spaces
			return sp.padding(buf, sp.wid, false)
		}
	} else if sp.zero && !sp.minus && sp.widPresent {
		prec = sp.wid
		if negative || sp.plus || sp.space {
			prec-- // room for the sign
		}
	}
	var b [3 + 99 + 99 + 64]byte
	i := len(b)
	for u >= base {
		i--
		b[i] = digits[u%base]
		u /= base
	}
	i--
	b[i] = digits[u]
	for i > 0 && prec > len(b)-i {
		i--
		b[i] = '0'
	}
	if sp.sharp {
		switch base {
		case 8:
			if b[i] != '0' {
				i--
				b[i] = '0'
			}
		case 16:
			i--
			b[i] = digits[16]
			i--
			b[i] = '0'
		}
	}
	if negative {
		i--
		b[i] = '-'
	} else if sp.plus {
		i--
		b[i] = '+'
	} else if sp.space {
		i--
		b[i] = ' '
	}
	return sp.pad(buf, b[i:], len(b)-i, false)
}

// padString appends s padded to the width on the left, or on the right
// with '-', as fmt's padString does; zero: fmt's zero flag as it stands
// then.
func (sp *fmtSpec) padString(buf []byte, s string, zero bool) []byte {
	if !sp.widPresent || sp.wid == 0 {
		return append(buf, s...)
	}
	n := sp.wid - utf8.RuneCountInString(s)
	if !sp.minus {
		buf = sp.padding(buf, n, zero)
		return append(buf, s...)
	}
	buf = append(buf, s...)
	return sp.padding(buf, n, zero)
}

// pad is padString for s of runes runes, as fmt's pad (fmtInteger
// clears the zero flag before it).
func (sp *fmtSpec) pad(buf []byte, s []byte, runes int, zero bool) []byte {
	if !sp.widPresent || sp.wid == 0 {
		return append(buf, s...)
	}
	n := sp.wid - runes
	if !sp.minus {
		buf = sp.padding(buf, n, zero)
		return append(buf, s...)
	}
	buf = append(buf, s...)
	return sp.padding(buf, n, zero)
}

func (sp *fmtSpec) padding(buf []byte, n int, zero bool) []byte {
	c := byte(' ')
	if zero && !sp.minus {
		c = '0'
	}
	for ; n > 0; n-- {
		buf = append(buf, c)
	}
	return buf
}
