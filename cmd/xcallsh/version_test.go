package main

import (
	"regexp"
	"testing"
)

// `xcallsh version` and `xcallsh --version` print the same identity line
// and exit 0. Tests build without VCS stamping (-buildvcs=false), so the
// version may be "devel".
func TestVersion(t *testing.T) {
	st1, out1, err1 := xcallsh(t, "", "version")
	st2, out2, err2 := xcallsh(t, "", "--version")
	if st1 != exitOK || st2 != exitOK || err1 != "" || err2 != "" {
		t.Fatalf("exit %d and %d, stderr %q and %q", st1, st2, err1, err2)
	}
	if out1 != out2 {
		t.Errorf("version: %q, --version: %q", out1, out2)
	}
	re := regexp.MustCompile(`^xcallsh (devel|v\S+)( rev [0-9a-f]+(\+dirty)?)? \(go\S+\)\n$`)
	if !re.MatchString(out1) {
		t.Errorf("version: %q, want a line like %q", out1, "xcallsh devel (go1.26.8)")
	}
	if st, _, _ := xcallsh(t, "", "version", "extra"); st != exitBadArgs {
		t.Errorf("version extra: exit %d, want %d", st, exitBadArgs)
	}
}
