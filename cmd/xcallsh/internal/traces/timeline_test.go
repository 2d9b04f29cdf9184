package traces

import "testing"

func TestParseRange(t *testing.T) {
	for _, c := range []struct {
		in       string
		from, to int64
		now      int64
		want     string // Resolve's error, or ""
	}{
		{"1ms..1.5ms", 1000000, 1500000, 2000000, ""},
		{"..2us", 0, 2000, 5000, ""},
		{"3us..", 3000, 5000, 5000, ""},
		{"..", 0, 5000, 5000, ""},
		{"0..100ns", 0, 100, 5000, ""},
		{"10s..", 0, 0, 5000, "the time range 10s.. starts after the end of the run (0.000005000s)"},
		{"1ms..20ms", 1000000, 20000000, 5000000, ""}, // past the end: drawn as asked
	} {
		r, err := ParseRange(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		from, to, err := r.Resolve(c.now)
		switch {
		case c.want != "":
			if err == nil || err.Error() != c.want {
				t.Errorf("%q: Resolve error %v, want %q", c.in, err, c.want)
			}
		case err != nil || from != c.from || to != c.to:
			t.Errorf("%q: %d..%d (%v), want %d..%d", c.in, from, to, err, c.from, c.to)
		}
	}
	for in, want := range map[string]string{
		"1ms":        `bad time range "1ms": want FROM..TO with units, e.g. 1ms..1.5ms (either side may be left out)`,
		"1..2ms":     `bad time range "1..2ms": duration "1" needs a unit (ns, us, ms, s, m, h)`,
		"1ms..x":     `bad time range "1ms..x": bad duration "x" (use e.g. 6s, 250ms, 10us, 100ns)`,
		"2ms..1ms":   `bad time range "2ms..1ms": it ends before it starts (want FROM < TO)`,
		"1ms..1ms":   `bad time range "1ms..1ms": it ends before it starts (want FROM < TO)`,
		"-1ms..":     `bad time range "-1ms..": negative duration "-1ms"`,
		"1ms...2ms":  `bad time range "1ms...2ms": want FROM..TO with units, e.g. 1ms..1.5ms (either side may be left out)`,
		"1ms..2ms..": `bad time range "1ms..2ms..": want FROM..TO with units, e.g. 1ms..1.5ms (either side may be left out)`,
	} {
		if _, err := ParseRange(in); err == nil || err.Error() != want {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}
