package machines

import (
	"bytes"
	"errors"
	"reflect"
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
