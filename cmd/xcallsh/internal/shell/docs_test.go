package shell

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/commands.md from the command table")

// TestCommandsDoc keeps docs/commands.md in step with the command table.
func TestCommandsDoc(t *testing.T) {
	path := filepath.Join("..", "..", "..", "..", "docs", "commands.md")
	want := commandsDoc()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/xcallsh/internal/shell -run TestCommandsDoc -update writes it)", err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: the command table changed; run\n\tgo test ./cmd/xcallsh/internal/shell -run TestCommandsDoc -update", path)
	}
}

// Every command has what help and the reference need, and no name or
// alias is taken twice.
func TestCommandTable(t *testing.T) {
	seen := map[string]string{}
	inGroup := map[string]bool{}
	for _, g := range groups {
		inGroup[g] = true
	}
	for _, c := range commands() {
		if c.summary == "" || c.usage == "" || c.fn == nil || !inGroup[c.group] {
			t.Errorf("command %q is incomplete", c.name)
		}
		for _, n := range append([]string{c.name}, c.aliases...) {
			if other, dup := seen[n]; dup {
				t.Errorf("%q names both %s and %s", n, other, c.name)
			}
			seen[n] = c.name
		}
	}
	for _, must := range []string{"help", "machines", "boot", "cpus", "on", "run", "stall", "offline", "online",
		"param", "drop", "fix", "dmesg", "trace", "timeline", "report", "source", "quit"} {
		if findCommand(must) == nil {
			t.Errorf("no command %q", must)
		}
	}
}
