package machines

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that Parse, on any input, returns either a valid Spec or
// an *Error, never both and never a panic; and that a Spec it returns
// re-validates and decodes again, from its Source, to an equal Spec.
func FuzzParse(f *testing.F) {
	for _, i := range Builtins() {
		s, _ := Builtin(i.Name)
		f.Add([]byte(s.Source))
	}
	f.Add([]byte(x86File))
	f.Add([]byte(armFile + "kind = \"gicv3\"\ncluster_size = 2\n[[node]]\ncpus = \"0-3\"\n[[node]]\ncpus = \"4-7\"\n"))
	// Hostile inputs: nesting that would take the decoder gigabytes, names
	// that would forge a report's header, numbers out of every range.
	rest := x86File[strings.Index(x86File, "\n")+1:]
	for _, s := range []string{
		"x = " + strings.Repeat("{a=", 20000) + "1" + strings.Repeat("}", 20000) + "\n",
		"x = " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n",
		"x" + strings.Repeat(".a", 20000) + " = 1\n",
		"[x" + strings.Repeat(".a", 20000) + "]\n",
		"[[x" + strings.Repeat(".a", 15) + "]]\n",
		"x = [\n" + strings.Repeat("[ # [[[[\n", 17) + "\n",
		"x = \"\"\"\n[[[[[[[[[[[[[[[[[[[[\n\"\"\"\ny = '''[[[[[[[[[[[[[[[[[[[['''\n",
		`name = "a\n--! seed: 99"` + "\n" + rest,
		`name = "` + strings.Repeat("n", 65) + `"` + "\n" + rest,
		strings.Replace(x86File, "cpus = 8", "cpus = 9223372036854775808", 1),
		strings.Replace(x86File, "cpus = 8", "cpus = 9223372036854775807", 1),
		strings.Replace(x86File, "cpus = 8", "cpus = -1", 1),
		strings.Replace(x86File, "cpus = 8", "cpus = nan", 1),
		strings.Replace(x86File, "cpus = 8", "cpus = inf", 1),
		strings.Replace(x86File, "cpus = 8", "cpus = 1e300", 1),
		x86File + "apic_ids = [0, 1, 2, 3, 4, 5, 6, 9223372036854775807]\n",
		x86File + "apic_ids = [0, 1, 2, 3, 4, 5, 6, -1]\n",
		x86File + "[timing]\nipi_latency = 9223372036854775807\njitter = -1\n",
		x86File + "[kernel]\ncsd_lock_timeout = 2147483648\npanic_on_ipistall = nan\n",
		x86File + "online = \"0-9223372036854775807\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.toml", data)
		if (s == nil) == (err == nil) {
			t.Fatalf("Parse = %v, %v: want exactly one", s, err)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *Error: %v", err, err)
			}
			if e.File != "fuzz.toml" || e.Msg == "" {
				t.Fatalf("incomplete error %+v", e)
			}
			if e.Line < 0 || e.Line > bytes.Count(data, []byte("\n"))+1 {
				t.Fatalf("error line %d is outside the input: %v", e.Line, e)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Spec from Parse does not validate: %v", err)
		}
		again, err := Parse("again.toml", []byte(s.Source))
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("re-parse differs: %v", err)
		}
	})
}
