package shell

import (
	"fmt"
	"strings"
)

// commandsDoc renders docs/commands.md from the command table. A test
// (TestCommandsDoc) keeps the file current; `go test ./cmd/xcallsh/internal/shell -run
// TestCommandsDoc -update` rewrites it.
func commandsDoc() string {
	var b strings.Builder
	b.WriteString(`# xcallsh shell commands

<!-- Generated from the command table in cmd/xcallsh/internal/shell/commands.go by
     go test ./cmd/xcallsh/internal/shell -run TestCommandsDoc -update
     Do not edit by hand. -->

The shell (` + "`xcallsh [-m MACHINE] [--seed N]`" + `, see [shell.md](shell.md)) reads one line at
a time. A line whose first word is a command (or an alias) runs that command; any
other line is Lua at operator level, and its values are printed. Durations read like
` + "`6s`, `250ms`, `10us`, `100ns`" + `.

`)
	for _, g := range groups {
		fmt.Fprintf(&b, "- %s:", g)
		for _, c := range commands() {
			if c.group == g {
				fmt.Fprintf(&b, " [%s](#%s)", c.name, c.name)
			}
		}
		b.WriteString("\n")
	}
	for _, g := range groups {
		fmt.Fprintf(&b, "\n## %s\n", g)
		for _, c := range commands() {
			if c.group != g {
				continue
			}
			fmt.Fprintf(&b, "\n### %s\n\n    %s\n\n%s\n", c.name, c.usage, c.summary)
			if c.help != "" {
				fmt.Fprintf(&b, "\n%s\n", indentBlock(c.help))
			}
			if len(c.aliases) > 0 {
				fmt.Fprintf(&b, "\nAliases: %s\n", "`"+strings.Join(c.aliases, "`, `")+"`")
			}
		}
	}
	return b.String()
}

// indentBlock turns help text into Markdown: lines that start with two
// spaces (tables in the help) become a code block; the rest is prose.
func indentBlock(s string) string {
	var out []string
	inCode := false
	for _, l := range strings.Split(s, "\n") {
		code := strings.HasPrefix(l, "  ")
		if code && !inCode {
			out = append(out, "")
		}
		if !code && inCode {
			out = append(out, "")
		}
		if code {
			l = "  " + l
		}
		inCode = code
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
