package luabind

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// TestAPIDoc keeps docs/api.md's reference part in step with the binding
// table: -update rewrites it.
func TestAPIDoc(t *testing.T) {
	path := filepath.Join("..", "docs", "api.md")
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, ok := withapiReference(string(page), apiReference())
	if !ok {
		t.Fatalf("%s has no generated part (the lines %q and %q)", path, apiDocBegin, apiDocEnd)
	}
	// -update is scenario_test.go's flag (package luabind_test, the same
	// test binary).
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if string(page) != want {
		t.Errorf("%s is stale: the binding table changed; run\n\tgo test ./luabind -run TestAPIDoc -update", path)
	}
}

// Every binding has what registration and the docs need, and no name is
// taken twice.
func TestBindingTable(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range bindings {
		if b.name == "" || b.doc == "" || b.fn == nil {
			t.Errorf("binding %q is incomplete", b.name)
		}
		if seen[b.name] {
			t.Errorf("binding %q twice", b.name)
		}
		seen[b.name] = true
	}
	for _, c := range constants {
		if seen[c.name] {
			t.Errorf("constant %q is also a binding", c.name)
		}
		seen[c.name] = true
	}
}
