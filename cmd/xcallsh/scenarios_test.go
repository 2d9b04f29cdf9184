package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/scripts"
	"github.com/xcallsh/xcallsh/xcall"
)

// The catalogue of kernel bugs (scripts.Bugs) names real scenarios and
// real fixes with their commits, every fix has a scenario, docs/fixes.md
// names each scenario, and `xcallsh scenarios` lists each.
func TestScenariosCatalogue(t *testing.T) {
	doc, err := os.ReadFile("../../docs/fixes.md")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if rc := cmdScenarios(nil, &out, &errb); rc != exitOK {
		t.Fatalf("scenarios: exit %d: %s", rc, errb.String())
	}
	_, listing, ok := strings.Cut(out.String(), "\nKernel bugs they reproduce (docs/fixes.md):\n")
	if !ok {
		t.Fatalf("no catalogue section:\n%s", out.String())
	}
	covered := map[string]bool{}
	for _, b := range scripts.Bugs() {
		if _, ok := scripts.Lookup(b.Scenario); !ok {
			t.Errorf("%s: no such built-in scenario", b.Scenario)
		}
		if !bytes.Contains(doc, []byte("`scripts/"+b.Scenario+".lua`")) {
			t.Errorf("docs/fixes.md does not name scripts/%s.lua", b.Scenario)
		}
		if !strings.Contains(listing, b.Scenario+" ") || !strings.Contains(listing, b.Bug) {
			t.Errorf("the listing lacks %s: %s", b.Scenario, b.Bug)
		}
		if strings.HasPrefix(b.Switch, "caller: ") || strings.HasPrefix(b.Switch, "machine: ") {
			if b.Commit != "" {
				t.Errorf("%s: a commit without a fix switch", b.Scenario)
			}
			continue
		}
		f, ok := xcall.LookupFix(b.Switch)
		if !ok {
			t.Errorf("%s: %q is not a fix", b.Scenario, b.Switch)
			continue
		}
		if got := xcall.Fixes[f].Commit; got != b.Commit {
			t.Errorf("%s: commit %s, the fix %s says %s", b.Scenario, b.Commit, b.Switch, got)
		}
		covered[b.Switch] = true
	}
	for _, f := range xcall.Fixes {
		if !covered[f.Name] {
			t.Errorf("the fix %s has no scenario in the catalogue", f.Name)
		}
	}
	if _, ok := scripts.BugOf("hello"); ok {
		t.Errorf("hello is not a bug")
	}
}
