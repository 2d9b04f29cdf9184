package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xcallsh/xcallsh/scftorture"
)

func TestTortureCLI(t *testing.T) {
	var out, errb bytes.Buffer
	st := mainArgs([]string{"torture", "--duration", "300ms", "--onoff-interval", "20", "--stat-interval", "100ms"}, nil, &out, &errb)
	if st != exitOK || !strings.Contains(out.String(), "End of test: SUCCESS") {
		t.Fatalf("exit %d\n%s%s", st, out.String(), errb.String())
	}
	m := regexp.MustCompile(`scf_invoked_count VER: (\d+) .* onoff: (\d+)/\d+:(\d+)/\d+ `).FindStringSubmatch(out.String())
	if m == nil || m[1] == "0" || m[2] == "0" || m[3] == "0" {
		t.Errorf("no invocations or no hotplug: %v", m)
	}
	if !regexp.MustCompile(`(?m)^xcallsh torture: [\d.]+ s virtual, \d+ handler invocations in [\d.]+ s host: \d+ invocations per host second$`).MatchString(out.String()) {
		t.Errorf("no speed line:\n%s", out.String())
	}
	out.Reset()
	if st := mainArgs([]string{"torture", "--duration", "2s", "--onoff-interval", "5", "--stutter", "0", "--fix", "dying_flush=off"}, nil, &out, &errb); st != exitFailed {
		t.Errorf("dying_flush off: exit %d, want 1\n%s", st, out.String())
	}
	for _, args := range [][]string{{"torture", "--bogus"}, {"torture", "--fix", "x"}, {"torture", "--ipi-drop", "9:1"}, {"torture", "-m", "vax"}} {
		if st := mainArgs(args, nil, &out, &errb); st != exitBadArgs {
			t.Errorf("%v: exit %d, want 2", args, st)
		}
	}
}

// The speed line: virtual time to the nanosecond, host time to the
// millisecond, the rate rounded; "n/a" if the host took no time at all.
func TestTortureSpeedLine(t *testing.T) {
	r := &scftorture.Result{VirtualTime: 1_000_402_771, Invocations: 1509810}
	if got, want := speedLine(r, 2010*time.Millisecond), "xcallsh torture: 1.000402771 s virtual, 1509810 handler invocations in 2.010 s host: 751149 invocations per host second"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := speedLine(r, 0); !strings.HasSuffix(got, "in 0.000 s host: n/a invocations per host second") {
		t.Errorf("no host time: %q", got)
	}
}
