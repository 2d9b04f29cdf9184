package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// hostileBlocks are the pieces FuzzLimits builds scripts from: each tries
// one way of exhausting time or memory, crashing the process, or making
// the output depend on the host. {N} stands for a number the fuzzer
// chooses from hostileNumbers.
var hostileBlocks = []string{
	`local s = string.rep("x", {N}) while true do s = s .. s end`,
	`print(string.find(("a"):rep({N}), ".-.-.-.-b"))`,
	`print(select("#", unpack({}, 1, {N})))`,
	`local t = {} for i = 1, 40 do t[i] = string.rep("x", {N}) end print(#table.concat(t))`,
	`print(#string.gsub(string.rep("x", 2^16), "x", string.rep("y", {N})))`,
	`print(string.format("%" .. {N} .. "d", 1))`,
	`print(pcall(loadstring, "return " .. ("not "):rep({N}) .. "1"))`,
	`error({})`,
	`error(nil)`,
	`print(tostring({}), tostring(print), function() end, coroutine.create(print))`,
	`local k = {} for n in pairs(_G) do k[#k+1] = n end print(table.concat(k, ","))`,
	`param("csd_lock_timeout", {N}) spawn(0, function() local_irq_disable() mdelay(100) end) run(s(30))`,
	`ipi_delay(1, {N}) spawn(0, function() smp_call_function_single(1, function() end, nil, 1) end) run(ms(1))`,
	`spawn(0, function() mdelay({N}) end) run(ms(10))`,
	`spawn(2, function() while true do smp_call_function_single(3, function() end, nil, 1) end end) run({N})`,
	`while true do end`,
	`while true do pcall(function() while true do end end) end`,
	`print(math.random({N}, -({N})), math.random({N}))`,
	`machine("x = " .. ("{a="):rep({N}) .. "1" .. ("}"):rep({N}))`,
	`local t = {} while true do t[#t+1] = {} end`,
	`spawn(0, function() while true do printk("%s", ("x"):rep({N})) end end) run(s(1))`,
	`print(#string.rep(("x"):rep({N}), {N}))`,
	`local function f(n) return f(n + 1) + 1 end f(1)`,
	`print(pcall(string.rep, "x", {N}))`,
	`param("panic_on_ipistall", {N}) print(run({N}))`,
	`print(#(("x"):rep({N}):upper():reverse()))`,
}

// hostileNumbers are the arguments blocks get: the ends of every range.
var hostileNumbers = []string{
	"0", "1", "-1", "7", "200", "8000", "1e6", "2^20", "2^26", "2^31", "2^53", "2^62", "2^63", "-2^63",
	"1/0", "-1/0", "0/0", "1.5",
}

// hostileScript turns fuzz bytes into a script: each pair of bytes is a
// block and its number, the high bit of the first wrapping the block in
// pcall (a script that catches its own errors).
func hostileScript(data []byte) string {
	var b strings.Builder
	for i := 0; i+1 < len(data) && i < 8; i += 2 {
		block := hostileBlocks[int(data[i]&0x7f)%len(hostileBlocks)]
		num := hostileNumbers[int(data[i+1])%len(hostileNumbers)]
		code := strings.ReplaceAll(block, "{N}", num)
		if data[i]&0x80 != 0 {
			code = "print(pcall(function() " + code + " end))"
		}
		b.WriteString(code + "\n")
	}
	return b.String()
}

// located is how every error of a run begins: where it was, or (stopped
// from outside, where the script was is not known) the script's name.
var located = regexp.MustCompile(`^\S+\.lua(:\d+)?: `)

// heapAddr is what a Go heap address looks like when printed.
var heapAddr = regexp.MustCompile(`0x[cC]0[0-9a-fA-F]{8}`)

// FuzzLimits runs hostile scripts as `xcallsh run` does, under a small
// --timeout and --memory-limit, twice each. Every run must end within the
// timeout plus a margin, exit 0 or 1 (or 2 for an invalid machine given to
// machine()), and say what stopped it in one
// located message, never a Go panic or stack dump; a run that no limit
// stopped must repeat itself byte for byte.
func FuzzLimits(f *testing.F) {
	for _, seed := range [][]byte{
		{7, 0},     // error({})
		{9, 0},     // addresses
		{10, 0},    // pairs(_G)
		{0x8f, 12}, // pcall(ipi_delay(2^63))
		{2, 6},     // unpack 1e6
		{1, 5},     // a pattern that takes minutes: the timeout
		{0, 8},     // doubling: the memory limit
		{6, 6, 18, 8, 0x95, 3},
	} {
		f.Add(seed)
	}
	const timeout = time.Second
	f.Fuzz(func(t *testing.T, data []byte) {
		script := hostileScript(data)
		if script == "" {
			return
		}
		path := tempFile(t, "hostile.lua", script)
		var outs [2]string
		var limited bool
		for i := range outs {
			start := time.Now()
			st, out, errOut := xcallsh(t, "", "run", path, "--timeout", timeout.String(), "--memory-limit", "256MiB")
			// The promise is the timeout plus one second; the margin
			// beyond is for a loaded machine running the fuzzer's workers.
			if d := time.Since(start); d > timeout+6*time.Second {
				t.Errorf("run %d took %v with a --timeout of %v\n%s", i, d, timeout, script)
			}
			badMachine := st == exitBadArgs && strings.Contains(errOut, ": machine: ")
			if st != exitOK && st != exitFailed && !badMachine {
				t.Errorf("run %d: exit %d\n%s\n%s", i, st, script, errOut)
			}
			for _, bad := range []string{"goroutine ", "panic:", "fatal error", "internal error"} {
				if strings.Contains(errOut, bad) {
					t.Errorf("run %d: %q on stderr:\n%s\n%s", i, bad, script, errOut)
				}
			}
			if a := heapAddr.FindString(out + errOut); a != "" {
				t.Errorf("run %d: a heap address (%s) in the output:\n%s\n%s%s", i, a, script, out, errOut)
			}
			if st != exitOK && !located.MatchString(errOut) {
				t.Errorf("run %d: the error is not located:\n%s\n%s", i, script, errOut)
			}
			if strings.Contains(errOut, "stopped:") {
				limited = true
			}
			outs[i] = out + "\x00" + errOut
		}
		if !limited && outs[0] != outs[1] {
			t.Errorf("two runs of the same script differ:\n%s\n--- first\n%s\n--- second\n%s", script, outs[0], outs[1])
		}
	})
}
