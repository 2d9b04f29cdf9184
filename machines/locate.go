package machines

import (
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// The TOML decoder keeps the position of each key only by its dotted name, so
// the second [[node]]'s cpus would share a line with the last one. Errors
// therefore find their line with a locator: a small scanner over text that the
// decoder has already accepted, which records the line of every table header
// and every key, naming the elements of arrays of tables by index ("node[1]").
// It runs only when an error is reported.

// keyPos is one key as it appears in the text.
type keyPos struct {
	plain string // as toml.Key.String() spells it: "node.cpus"
	key   string // with array-table indices: "node[1].cpus"
	line  int
}

// locator knows where the keys of one TOML text are.
type locator struct {
	lines  []string       // the text's lines, for excerpts
	keys   []keyPos       // headers and keys, in document order
	byKey  map[string]int // key (and each of its prefixes) -> line of first appearance
	arrays map[string]int // plain name of an array of tables -> elements so far
}

// newLocator scans text, which must be TOML the decoder accepted; on other
// text it still terminates without panicking, it may just miss keys.
func newLocator(text string) *locator {
	text = strings.TrimPrefix(text, "\ufeff")
	l := &locator{
		lines:  strings.Split(text, "\n"),
		byKey:  map[string]int{},
		arrays: map[string]int{},
	}
	sc := &tomlScanner{s: text, line: 1}
	var table []string // the current [table] or [[array]]
	for sc.i < len(sc.s) {
		switch c := sc.s[sc.i]; c {
		case '\n':
			sc.line++
			sc.i++
		case ' ', '\t', '\r':
			sc.i++
		case '#':
			sc.skipComment()
		case '[':
			isArray := strings.HasPrefix(sc.s[sc.i:], "[[")
			sc.i++
			if isArray {
				sc.i++
			}
			table = sc.keyParts()
			if isArray {
				l.arrays[toml.Key(table).String()]++
			}
			l.record(table, sc.line)
			sc.skipLine()
		default:
			start := sc.i
			parts := sc.keyParts()
			sc.skipBlanks()
			if sc.i == start || sc.i >= len(sc.s) || sc.s[sc.i] != '=' {
				sc.skipLine() // not TOML the decoder accepted; resynchronize
				continue
			}
			sc.i++
			l.record(append(table[:len(table):len(table)], parts...), sc.line)
			sc.skipValue()
		}
	}
	return l
}

// record notes that the key parts appears at line.
func (l *locator) record(parts []string, line int) {
	if len(parts) == 0 {
		return
	}
	var key strings.Builder
	for k := range parts {
		if k > 0 {
			key.WriteByte('.')
		}
		key.WriteString(toml.Key{parts[k]}.String())
		plain := toml.Key(parts[:k+1]).String()
		if n := l.arrays[plain]; n > 0 {
			l.note(key.String(), line) // the whole array: "node"
			key.WriteString("[" + strconv.Itoa(n-1) + "]")
		}
		l.note(key.String(), line)
	}
	l.keys = append(l.keys, keyPos{plain: toml.Key(parts).String(), key: key.String(), line: line})
}

// note records the first line key appears on.
func (l *locator) note(key string, line int) {
	if _, ok := l.byKey[key]; !ok {
		l.byKey[key] = line
	}
}

// line returns the line of key ("node[1].cpus") or, if key is absent, of its
// nearest enclosing table that is present; 0 if none is.
func (l *locator) line(key string) int {
	for key != "" {
		if n, ok := l.byKey[key]; ok {
			return n
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// find returns the first appearance of the plain key ("node.cpus").
func (l *locator) find(plain string) (keyPos, bool) {
	for _, kp := range l.keys {
		if kp.plain == plain {
			return kp, true
		}
	}
	return keyPos{}, false
}

// excerpt returns line n of the text, trimmed ("" if out of range).
func (l *locator) excerpt(n int) string {
	if n < 1 || n > len(l.lines) {
		return ""
	}
	return strings.TrimSpace(l.lines[n-1])
}

// tomlScanner walks TOML text byte by byte, counting lines.
type tomlScanner struct {
	s    string
	i    int
	line int
}

// skipBlanks skips spaces and tabs.
func (sc *tomlScanner) skipBlanks() {
	for sc.i < len(sc.s) && (sc.s[sc.i] == ' ' || sc.s[sc.i] == '\t') {
		sc.i++
	}
}

// skipComment skips to the end of the line, leaving the newline.
func (sc *tomlScanner) skipComment() {
	if j := strings.IndexByte(sc.s[sc.i:], '\n'); j >= 0 {
		sc.i += j
	} else {
		sc.i = len(sc.s)
	}
}

// skipLine skips the rest of a header line (a header cannot span lines).
func (sc *tomlScanner) skipLine() { sc.skipComment() }

// keyParts reads a dotted key: bare, "basic" or 'literal' parts separated by
// dots, with blanks around the dots. It stops at the first byte that cannot
// continue the key ('=' or ']').
func (sc *tomlScanner) keyParts() []string {
	var parts []string
	for {
		sc.skipBlanks()
		if sc.i >= len(sc.s) {
			return parts
		}
		start := sc.i
		switch sc.s[sc.i] {
		case '"':
			sc.skipBasic()
			raw := sc.s[start:sc.i]
			if k, err := strconv.Unquote(raw); err == nil {
				parts = append(parts, k)
			} else {
				parts = append(parts, strings.Trim(raw, `"`))
			}
		case '\'':
			sc.skipLiteral()
			parts = append(parts, strings.Trim(sc.s[start:sc.i], "'"))
		default:
			for sc.i < len(sc.s) && isBareKeyByte(sc.s[sc.i]) {
				sc.i++
			}
			if sc.i == start {
				return parts
			}
			parts = append(parts, sc.s[start:sc.i])
		}
		sc.skipBlanks()
		if sc.i >= len(sc.s) || sc.s[sc.i] != '.' {
			return parts
		}
		sc.i++
	}
}

// isBareKeyByte reports whether c may appear in a bare key.
func isBareKeyByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// skipValue skips the value of a key/value pair, up to the newline that ends
// it: strings of the four kinds, and arrays and inline tables that may span
// lines and hold comments.
func (sc *tomlScanner) skipValue() {
	depth := 0
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case '\n':
			if depth == 0 {
				return
			}
			sc.line++
			sc.i++
		case '#':
			sc.skipComment()
		case '"':
			if strings.HasPrefix(sc.s[sc.i:], `"""`) {
				sc.skipMultiline(`"""`, true)
			} else {
				sc.skipBasic()
			}
		case '\'':
			if strings.HasPrefix(sc.s[sc.i:], "'''") {
				sc.skipMultiline("'''", false)
			} else {
				sc.skipLiteral()
			}
		case '[', '{':
			depth++
			sc.i++
		case ']', '}':
			if depth > 0 {
				depth--
			}
			sc.i++
		default:
			sc.i++
		}
	}
}

// skipBasic skips a one-line "basic string", escapes included.
func (sc *tomlScanner) skipBasic() {
	sc.i++ // opening quote
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case '\\':
			sc.i += 2
		case '"':
			sc.i++
			return
		case '\n':
			return
		default:
			sc.i++
		}
	}
	sc.i = min(sc.i, len(sc.s))
}

// skipLiteral skips a one-line 'literal string'.
func (sc *tomlScanner) skipLiteral() {
	sc.i++ // opening quote
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case '\'':
			sc.i++
			return
		case '\n':
			return
		}
		sc.i++
	}
}

// skipMultiline skips a multi-line string opened by delim: three double
// quotes for a basic string (escapes true), three single quotes for a literal
// one. A closing delimiter may be followed by up to two more quotes, which
// belong to the string.
func (sc *tomlScanner) skipMultiline(delim string, escapes bool) {
	sc.i += len(delim)
	for sc.i < len(sc.s) {
		switch {
		case escapes && sc.s[sc.i] == '\\':
			if sc.i+1 < len(sc.s) && sc.s[sc.i+1] == '\n' {
				sc.line++
			}
			sc.i += 2
		case sc.s[sc.i] == '\n':
			sc.line++
			sc.i++
		case strings.HasPrefix(sc.s[sc.i:], delim):
			sc.i += len(delim)
			for extra := 0; extra < 2 && sc.i < len(sc.s) && sc.s[sc.i] == delim[0]; extra++ {
				sc.i++
			}
			return
		default:
			sc.i++
		}
	}
	sc.i = min(sc.i, len(sc.s))
}
