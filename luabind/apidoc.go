package luabind

import (
	"fmt"
	"strings"
)

// docs/api.md's reference part, between these two lines, is generated from
// the binding table (api.go); the rest of the page is written by hand.
// TestAPIDoc keeps it current: `go test ./luabind -run TestAPIDoc -update`
// rewrites it.
const (
	apiDocBegin = "<!-- BEGIN generated from the binding table in luabind/api.go by\n" +
		"     go test ./luabind -run TestAPIDoc -update\n" +
		"     Do not edit by hand up to the END line. -->\n"
	apiDocEnd = "<!-- END generated -->\n"
)

// apiReference renders the reference part of docs/api.md: the operator
// functions, the kernel functions and the constants, in the table's order.
func apiReference() string {
	var b strings.Builder
	b.WriteString(apiDocBegin)
	b.WriteString(`
## Operator functions (top level)

| call | result |
|---|---|
`)
	for _, f := range bindings {
		if f.section == operatorSection {
			fmt.Fprintf(&b, "| `%s` | %s |\n", f.usage(), f.doc)
		}
	}
	fmt.Fprintf(&b, `
Operator functions reject a CPU outside `+"`0..nr_cpu_ids-1`"+`:
`+"`bad argument #1 to 'spawn' (cpu 9 out of range 0-3)`"+`. %s raise
`+"`spawn: operator function, not available in kernel code (tasks and cross-called functions)`"+`
when called from kernel code; the others work there too.

## Kernel functions (in tasks and cross-called functions)

Names, arguments and return values are the kernel's. `+"`func`"+` is a Lua function
called as `+"`func(info)`"+` on the target CPU; `+"`info`"+` is any Lua value. A mask is a
cpumask value, a string such as `+"`\"0-3,6\"`"+`, or an array of CPU numbers; a cpumask
value has `+"`:test(cpu)`, `:weight()`, `:cpus()`"+`, and `+"`tostring()`"+` gives `+"`\"0-3,6\"`"+`.
Functions that return `+"`int`"+` return 0 or a negative errno (the constants below
are positive). A CPU number is never an argument error for a kernel function: out
of range or negative gives the kernel's answer (-ENXIO, or -EINVAL for
`+"`cpu_down`/`cpu_up`"+`); only a wrong type raises `+"`bad argument`"+`. `+"`nr_cpu_ids`"+` is a
global number.

| call | result |
|---|---|
`, names(operatorSection, operatorOnly))
	for _, f := range bindings {
		if f.section == kernelSection {
			fmt.Fprintf(&b, "| `%s` | %s |\n", f.usage(), f.doc)
		}
	}
	b.WriteString("\n| constant | value | |\n|---|---|---|\n")
	for _, c := range constants {
		fmt.Fprintf(&b, "| `%s` | %d | %s |\n", c.name, c.value, c.doc)
	}
	fmt.Fprintf(&b, `
`+"`wait`"+` is a boolean or 0/1. `+"`cond_func(cpu, info)`"+` returns a boolean. %s work at
top level too; the others raise
`+"`smp_call_function_single: must be called from a task or a cross-called function (it needs a CPU; use spawn)`"+`.
Functions that sleep (`+"`msleep`, `smp_call_on_cpu`, `cpu_down`, `cpu_up`"+`) raise a
"sleeping function called from invalid context" error when called with
interrupts or preemption disabled or from a handler.

`, names(kernelSection, anywhere))
	b.WriteString(apiDocEnd)
	return b.String()
}

// usage is how the docs show a binding's call: "smp_call_function_single(cpu,
// func, info, wait) -> int".
func (b *binding) usage() string {
	u := b.name + "(" + b.args + ")"
	if b.ret != "" {
		u += " -> " + b.ret
	}
	return u
}

// names lists, for the docs, the bindings of section sec callable w:
// "`machine`, `spawn` and `run`".
func names(sec section, w where) string {
	var out []string
	for _, b := range bindings {
		if b.section == sec && b.where == w {
			out = append(out, "`"+b.name+"`")
		}
	}
	if len(out) < 2 {
		return strings.Join(out, "")
	}
	return strings.Join(out[:len(out)-1], ", ") + " and " + out[len(out)-1]
}

// withapiReference returns page (docs/api.md) with its generated part
// replaced by ref, or false if page lacks the BEGIN and END lines.
func withapiReference(page, ref string) (string, bool) {
	i := strings.Index(page, apiDocBegin)
	j := strings.Index(page, apiDocEnd)
	if i < 0 || j < i {
		return "", false
	}
	return page[:i] + ref + page[j+len(apiDocEnd):], true
}
