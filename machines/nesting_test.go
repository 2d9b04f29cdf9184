package machines

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	tooDeepInline = "inline tables and arrays nested deeper than 16"
	tooDeepTables = "tables nested deeper than 16 (each part of a dotted key or a [table] header is a table)"
)

// TestNesting checks the nesting limit: how each kind of level counts, that
// strings and comments do not count, and the exact message and line.
func TestNesting(t *testing.T) {
	dotted := func(n int) string { return "a" + strings.Repeat(".a", n-1) }
	brackets := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	inline := func(n int) string { return strings.Repeat("{a=", n) + "1" + strings.Repeat("}", n) }
	for _, tc := range []struct {
		name, text, want string
	}{
		// The decoder would take gigabytes on this one.
		{"20000 inline tables", "x = " + inline(20000) + "\n", "x.toml: line 1: " + tooDeepInline},
		{"20000 arrays", "x = " + brackets(20000) + "\n", "x.toml: line 1: " + tooDeepInline},
		{"20000 dotted", dotted(20000) + " = 1\n", "x.toml: line 1: " + tooDeepTables},
		{"20000 header", "[" + dotted(20000) + "]\n", "x.toml: line 1: " + tooDeepTables},
		// Exactly the limit: the decoder runs and names the key.
		{"16 levels: key and arrays", "x = " + brackets(15) + "\n", "x.toml: line 1: key x: unknown key"},
		{"17 levels: key and arrays", "x = " + brackets(16) + "\n", "x.toml: line 1: " + tooDeepInline},
		{"16 dotted", dotted(16) + " = 1\n", "x.toml: line 1: key " + dotted(16) + ": unknown key"},
		{"17 dotted", dotted(17) + " = 1\n", "x.toml: line 1: " + tooDeepTables},
		{"16 header", "[" + dotted(16) + "]\n", "x.toml: line 1: key " + dotted(16) + ": unknown key"},
		{"17 header", "[" + dotted(17) + "]\n", "x.toml: line 1: " + tooDeepTables},
		{"16 array header", "[[" + dotted(15) + "]]\n", "x.toml: line 1: key " + dotted(15) + "[0]: unknown key"},
		{"17 array header", "[[" + dotted(16) + "]]\n", "x.toml: line 1: " + tooDeepTables},
		{"header and key", "[" + dotted(8) + "]\n" + dotted(8) + " = 1\n", "x.toml: line 1: key " + dotted(8) + ": unknown key"},
		{"header and key 17", "[" + dotted(8) + "]\n" + dotted(9) + " = 1\n", "x.toml: line 2: " + tooDeepTables},
		{"header and arrays 17", "[" + dotted(8) + "]\nb = " + brackets(8) + "\n", "x.toml: line 2: " + tooDeepInline},
		{"inline dotted 16", "x = {" + dotted(14) + " = 1}\n", "x.toml: line 1: key x: unknown key"},
		{"inline dotted 17", "x = {" + dotted(15) + " = 1}\n", "x.toml: line 1: " + tooDeepInline},
		{"second inline key 17", "x = {b = 1, " + dotted(15) + " = 1}\n", "x.toml: line 1: " + tooDeepInline},
		{"quoted key parts", `"a".'b'.c` + strings.Repeat(`."d"`, 14) + " = 1\n", "x.toml: line 1: " + tooDeepTables},
		// Closing brackets end levels: siblings do not add up.
		{"siblings", "x = [" + strings.Repeat(brackets(14)+", ", 100) + "]\n", "x.toml: line 1: key x: unknown key"},
		{"tables in an array", "x = [" + strings.Repeat("{"+dotted(12)+" = [1]}, ", 100) + "]\n", "x.toml: line 1: key x: unknown key"},
		// A multi-line array: the line of the bracket too deep.
		{"line", "name = \"t\"\nx = [\n  [\n" + strings.Repeat("[", 20) + "\n", "x.toml: line 4: " + tooDeepInline},
		// Brackets in strings and comments do not count; lines in strings do.
		{"basic string", `x = "[[[[[[[[[[[[[[[[[[[[ \" [[[[[[[[[[[[[[[[[[[[ it's"` + "\n", "x.toml: line 1: key x: unknown key"},
		{"literal string", `x = '[[[[[[[[[[[[[[[[[[[[ "[[[[[[[[[[[[[[[[[[[[ \'` + "\n", "x.toml: line 1: key x: unknown key"},
		{"multi-line basic", "x = \"\"\"\n[[[[[[[[[[[[[[[[[[[[\n\\\"\"\" [[[[[[[[[[[[[[[[[[[[ ''' \"\"\"\"\"\n" + dotted(17) + " = 1\n", "x.toml: line 4: " + tooDeepTables},
		{"multi-line literal", "x = '''\n[[[[[[[[[[[[[[[[[[[[\n\"\"\" [[[[[[[[[[[[[[[[[[[[ \\'''''\n" + dotted(17) + " = 1\n", "x.toml: line 4: " + tooDeepTables},
		{"comments", "# [[[[[[[[[[[[[[[[[[[[\nx = [ # [[[[[[[[[[[[[[[[[[[[\n 1, # {{{{{{{{{{{{{{{{{{{{\n]\n", "x.toml: line 2: key x: unknown key"},
		{"quoted keys", `"[[[[[[[[[[[[[[[[[[[[" = 1` + "\n" + `['{{{{{{{{{{{{{{{{{{{{']` + "\n", `x.toml: line 1: key "[[[[[[[[[[[[[[[[[[[[": unknown key`},
		{"string in an array", `x = [ "]]]]]]]]]]]]]]]]]]]]", ` + brackets(16) + "]\n", "x.toml: line 1: " + tooDeepInline},
		// The scan counts levels even where the text is not TOML.
		{"no equals sign", "x " + brackets(17) + "\n", "x.toml: line 1: " + tooDeepInline},
		{"stray closers", "x = ]]]]]]]]]] " + brackets(17) + "\n", "x.toml: line 1: " + tooDeepInline},
		{"after a header", "[a] " + brackets(16) + "\n", "x.toml: line 1: " + tooDeepInline},
		{"unicode key", "é" + strings.Repeat(".é", 16) + " = 1\n", "x.toml: line 1: " + tooDeepTables},
		{"unterminated", "x = \"abc\ny = " + brackets(17) + "\n", "x.toml: line 2: " + tooDeepInline},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse("x.toml", []byte(tc.text))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Parse:\n got %v\nwant %s", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%T is not an *Error", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Parse took %v", d)
			}
		})
	}
}

// TestNestingValid checks that the scan accepts every valid machine, with
// comments and strings that hold brackets, and the nesting a file may use.
func TestNestingValid(t *testing.T) {
	for _, text := range []string{
		"# [[[[[[[[[[[[[[[[[[[[[[\n" + x86File + "apic_ids = [ # [[[[[[[[[[[[[[[[[[[[[[\n 0, 1, 2, 3,\n 4, 5, 6, 7, # ]\n]\n",
		`name = "t"
description = "[[[[[[[[[[[[[[[[[[ {{{{{{{{{{{{{{{{{{{{ \" '"
arch = "x86_64"
cpus = 4
irqchip = {kind = "x2apic", apic_ids = [0, 1, 2, 3]}
node = [{cpus = "0-1"}, {cpus = "2-3"}]
`,
		armFile + "kind = 'gicv3' # {{{{{{{{{{{{{{{{{{{{{{{{{{\n[[node]]\ncpus = \"0-3\"\n[[node]]\n\"cpus\" = '4-7'\n",
	} {
		if _, err := Parse("x.toml", []byte(text)); err != nil {
			t.Errorf("Parse(%q): %v", text, err)
		}
	}
	for _, i := range Builtins() {
		s, err := Builtin(i.Name)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkNesting(s.Source); err != nil {
			t.Errorf("%s: %v", i.Name, err)
		}
	}
}

// TestSizeLimit checks that the size cap, not the decoder, stops huge lists
// and strings, whatever the machine's text comes from.
func TestSizeLimit(t *testing.T) {
	ids := []byte(x86File + "apic_ids = [")
	for i := 0; i < 10_000_000; i++ {
		ids = append(strconv.AppendInt(ids, int64(i), 10), ',')
	}
	ids = append(ids, "]\n"...)
	for _, tc := range []struct {
		name, file string
		text       []byte
	}{
		{"10^7 APIC IDs", "x.toml", ids},
		{"10 MB string", "inline TOML", []byte(x86File + `description = "` + strings.Repeat("a", 10<<20) + "\"\n")},
		{"10^6 keys", "inline TOML", []byte(x86File + strings.Repeat("a = 1\n", 1<<20))},
		{"one byte too many", "x.toml", []byte(x86File + "#" + strings.Repeat("x", MaxFileSize-len(x86File)-1) + "\n")},
	} {
		_, err := Parse(tc.file, tc.text)
		want := fmt.Sprintf("%s: file is too large (%d bytes, at most 1048576)", tc.file, len(tc.text))
		if err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %s", tc.name, err, want)
		}
	}
	// The largest file allowed still parses.
	text := x86File + "#" + strings.Repeat("x", MaxFileSize-len(x86File)-2) + "\n"
	if _, err := Parse("x.toml", []byte(text)); err != nil || len(text) != MaxFileSize {
		t.Errorf("a file of %d bytes: %v", len(text), err)
	}
}
