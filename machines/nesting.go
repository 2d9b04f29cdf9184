package machines

import "fmt"

// MaxNesting is how deeply the tables and arrays of a machine file may nest.
// The deepest valid machine file nests 4 levels (irqchip = {apic_ids = [0]}:
// a table, an inline table, a key, an array); 16 leaves room for a file that
// is merely wrong to get a precise message about its key or type, while the
// TOML decoder's cost, which grows with the square of the nesting (it copies
// the path of keys at every level), stays negligible. An 80 KB line of 20,000
// nested inline tables would otherwise take the decoder past 6 GiB.
const MaxNesting = 16

// checkNesting scans text, before the TOML decoder sees it, for tables and
// arrays nested deeper than MaxNesting. Every level counts: each part of a
// [table] header's key (and one more for an [[array of tables]]), each part of
// a dotted key, each inline table and each array. Strings of the four kinds
// and comments are skipped as TOML defines them.
//
// The scan never counts fewer levels than the decoder builds: it reads any
// text (valid TOML or not) and, where it cannot tell a key from a value,
// still counts every bracket. On text the decoder rejects it may count more,
// but only past the decoder's first syntax error, which the decoder reports.
func checkNesting(text string) *Error {
	n := &nestScanner{tomlScanner: tomlScanner{s: text, line: 1}}
	return n.scan()
}

// nestScanner counts the nesting of one text.
type nestScanner struct {
	tomlScanner
	stack []nestFrame // the open inline tables and arrays of the current value
}

// nestFrame is an open inline table ('{') or array ('['), at depth.
type nestFrame struct {
	kind  byte
	depth int
}

func (n *nestScanner) scan() *Error {
	base := 0 // the depth of the current [table]
	for n.i < len(n.s) {
		switch n.s[n.i] {
		case '\n':
			n.line++
			n.i++
		case ' ', '\t', '\r':
			n.i++
		case '#':
			n.skipComment()
		case '[':
			n.i++
			array := n.i < len(n.s) && n.s[n.i] == '['
			if array {
				n.i++
			}
			base = n.keyParts()
			if array {
				base++
			}
			if base > MaxNesting {
				return n.tooDeep()
			}
			// The rest of the line holds "]" or "]]" and perhaps a comment;
			// anything else is a syntax error, but it is scanned as a value
			// all the same.
			if err := n.value(base); err != nil {
				return err
			}
		default:
			depth := base + max(n.keyParts(), 1)
			if depth > MaxNesting {
				return n.tooDeep()
			}
			n.skipBlanks()
			if n.i < len(n.s) && n.s[n.i] == '=' {
				n.i++
			}
			if err := n.value(depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// value scans a value whose key is at depth, up to the newline that ends it
// (a newline inside an array or inline table does not).
func (n *nestScanner) value(depth int) *Error {
	n.stack = n.stack[:0]
	cur := depth // the depth of the value being read
	for n.i < len(n.s) {
		switch c := n.s[n.i]; c {
		case '\n':
			if len(n.stack) == 0 {
				return nil
			}
			n.line++
			n.i++
		case '#':
			n.skipComment()
		case '"':
			if len(n.s)-n.i >= 3 && n.s[n.i:n.i+3] == `"""` {
				n.skipMultiline(`"""`, true)
			} else {
				n.skipBasic()
			}
		case '\'':
			if len(n.s)-n.i >= 3 && n.s[n.i:n.i+3] == "'''" {
				n.skipMultiline("'''", false)
			} else {
				n.skipLiteral()
			}
		case '[', '{':
			n.i++
			cur++
			if cur > MaxNesting {
				return n.tooDeep()
			}
			n.stack = append(n.stack, nestFrame{c, cur})
			if c == '{' {
				var err *Error
				if cur, err = n.inlineKey(cur); err != nil {
					return err
				}
			}
		case ',':
			n.i++
			if k := len(n.stack); k > 0 && n.stack[k-1].kind == '{' {
				var err *Error
				if cur, err = n.inlineKey(n.stack[k-1].depth); err != nil {
					return err
				}
			}
		case ']', '}':
			n.i++
			if k := len(n.stack); k > 0 {
				cur = n.stack[k-1].depth - 1
				n.stack = n.stack[:k-1]
			}
		default:
			n.i++
		}
	}
	return nil
}

// inlineKey reads the key of an inline table's entry, if one follows, and
// returns the depth of its value; the table is at depth.
func (n *nestScanner) inlineKey(depth int) (int, *Error) {
	// Blank lines and comments are skipped too, in case the decoder allows
	// an inline table to span lines.
	for n.i < len(n.s) {
		switch n.s[n.i] {
		case '\n':
			n.line++
			n.i++
			continue
		case ' ', '\t', '\r':
			n.i++
			continue
		case '#':
			n.skipComment()
			continue
		}
		break
	}
	depth += n.keyParts()
	if depth > MaxNesting {
		return 0, n.tooDeep()
	}
	return depth, nil
}

// keyParts reads a key, dotted or not, and returns the number of its parts.
// A part is a "basic" or 'literal' string or a run of bytes that cannot end
// a key, so that a key the decoder might accept (bare keys of any bytes
// included) is counted in full.
func (n *nestScanner) keyParts() int {
	parts := 0
	for {
		n.skipBlanks()
		if n.i >= len(n.s) {
			return parts
		}
		switch n.s[n.i] {
		case '"':
			n.skipBasic()
		case '\'':
			n.skipLiteral()
		default:
			start := n.i
			for n.i < len(n.s) && !endsKey(n.s[n.i]) {
				n.i++
			}
			if n.i == start {
				return parts
			}
		}
		parts++
		n.skipBlanks()
		if n.i >= len(n.s) || n.s[n.i] != '.' {
			return parts
		}
		n.i++
	}
}

// endsKey reports whether c cannot be part of a bare key.
func endsKey(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '.', '=', '[', ']', '{', '}', ',', '#', '"', '\'':
		return true
	}
	return false
}

// tooDeep reports nesting past MaxNesting on the current line: inside an
// inline table or array, or at a key outside any.
func (n *nestScanner) tooDeep() *Error {
	if len(n.stack) > 0 {
		return &Error{Line: n.line, Msg: fmt.Sprintf("inline tables and arrays nested deeper than %d", MaxNesting)}
	}
	return &Error{Line: n.line, Msg: fmt.Sprintf("tables nested deeper than %d (each part of a dotted key or a [table] header is a table)", MaxNesting)}
}
