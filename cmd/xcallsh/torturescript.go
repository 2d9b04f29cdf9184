package main

// A torture run that is traced or reported runs as a script: one call of
// the torture(...) binding, which `run` gives every script it runs. The run
// then has run's trace sinks, report and summary line, and its report
// replays as any report does (`xcallsh run REPORT`): the machine and the
// seed are the report's, and the torture(...) line in it carries the
// module's parameters. luabind does not know of scftorture (neither
// imports the other), so the binding lives here, with the two commands
// that use it.

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/luabind"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/scftorture"
)

// tortureChunk is the chunk name of a torture run's script.
const tortureChunk = "torture.lua"

// tortureScript is the script of a torture run with a's module flags.
func tortureScript(a *tortureArgs) string {
	var b strings.Builder
	b.WriteString("-- scftorture (docs/torture.md) with the flags `xcallsh torture` was given;\n" +
		"-- the machine and the seed are the run's. It prints what the module logs\n" +
		"-- and fails unless the test ends in SUCCESS.\n" +
		"torture(")
	for i, f := range a.moduleFlags() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(luaQuote(f))
	}
	b.WriteString(")\n")
	return b.String()
}

// luaQuote is s as a Lua 5.1 string literal.
func luaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c >= 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tortureRecorded is `xcallsh torture` with --trace or --report: the
// torture script, run as `run` runs a script, on a's machine and seed.
func tortureRecorded(a *tortureArgs, spec *machines.Spec, stdout *errWriter, stderr io.Writer) int {
	var res *scftorture.Result
	cmd := strings.TrimPrefix(a.rerunLine(spec.Name), fmt.Sprintf("xcallsh torture: seed %d; run it again with: ", a.seed))
	f := runFlags{machine: a.machine, seed: a.seed, seedSet: true, trace: a.trace, report: a.report,
		madeBy: "`" + cmd + "`", onTorture: func(r *scftorture.Result) { res = r }}
	start := time.Now()
	status := runScript(tortureChunk, tortureScript(a), f, stdout, stderr)
	if res != nil {
		fmt.Fprintln(stdout, speedLine(res, time.Since(start)))
	}
	if stdout.err != nil {
		fmt.Fprintf(stderr, "xcallsh torture: writing the output: %v\n", stdout.err)
		return exitFailed
	}
	return status
}

// registerTorture gives sess's scripts torture("--flag=value", ...):
// scftorture on the session's machine, booted with the run's seed, with
// torture's module flags (not -m, --seed, --trace or --report: those are
// the run's). It prints the module's log on stdout, returns the verdict,
// and raises an error unless it is SUCCESS. done, if set, gets the result.
func registerTorture(sess *luabind.Session, stdout io.Writer, done func(*scftorture.Result)) {
	used := false
	sess.L.SetGlobal("torture", sess.L.NewFunction(func(L *lua.LState) int {
		if sess.K.M.Current() != nil {
			L.RaiseError("torture: only at top level (the operator loads the module)")
		}
		if used {
			L.RaiseError("torture: once per run (the module runs from boot to rmmod)")
		}
		var args []string
		for i := 1; i <= L.GetTop(); i++ {
			args = append(args, L.CheckString(i))
		}
		a, pos, _, err := parseTorture(args, io.Discard)
		switch {
		case err != nil:
			L.RaiseError("torture: %v", err)
		case len(pos) > 0:
			L.RaiseError("torture: unexpected argument %q (flags only, as --name=value)", pos[0])
		}
		for _, g := range a.given {
			if runOwn[g.name] {
				spelled := "--" + g.name
				if len(g.name) == 1 {
					spelled = "-" + g.name
				}
				L.RaiseError("torture: %s is the run's, not the module's (xcallsh run -m, --seed, --trace, --report)", spelled)
			}
		}
		opts, err := a.options(sess.Spec())
		if err != nil {
			L.RaiseError("torture: %v", err)
		}
		used = true
		res, err := scftorture.RunKernel(sess.K, a.p, stdout, opts...)
		if errors.Is(err, emu.ErrInterrupted) {
			L.RaiseError("stopped: interrupted") // luabind says why
		}
		if err != nil {
			L.RaiseError("%v", err)
		}
		if done != nil {
			done(res)
		}
		if res.Verdict != "SUCCESS" {
			v := res.Verdict
			if v == "" {
				v = "none (the module printed no End line)"
			}
			L.RaiseError("torture: End of test: %s", v)
		}
		L.Push(lua.LString(res.Verdict))
		return 1
	}))
}
