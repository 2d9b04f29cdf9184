package machines

import (
	"strconv"
	"strings"
)

// Error is a problem with a machine description: a TOML syntax error, an
// unknown key, a value of the wrong type or one that breaks a rule. Its text
// reads "FILE: line N: key K: what is wrong"; the parts that are not known
// are left out (a key missing from the file has no line; a Spec built in Go
// and checked with Validate has neither file nor line).
//
// Every error Parse, Load, Builtin and Validate return for a bad description
// is an *Error; test for it with errors.As.
type Error struct {
	File    string // file name as given to Parse; "" for Spec.Validate
	Line    int    // 1-based line of the key (or of its table), 0 if unknown
	Key     string // dotted key, "irqchip.kind"; an array table's element is "node[1]"
	Msg     string // what is wrong, no trailing period
	Excerpt string // the source line, trimmed, when Line is known
	Err     error  // the underlying error, if any (a toml.ParseError, a CPU list error)
}

// Error returns "FILE: line N: key K: MSG".
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString("key ")
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }
