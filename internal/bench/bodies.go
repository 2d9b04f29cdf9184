package bench

import (
	"errors"
	"fmt"
	"io"

	lua "github.com/yuin/gopher-lua"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/luabind"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/scftorture"
	"github.com/xcallsh/xcallsh/scripts"
	"github.com/xcallsh/xcallsh/xcall"
)

// The benchmarks of docs/performance.md, by name. Setup (booting) is
// outside the timing where a body says so.

// BroadcastSizes are the machine sizes of BenchmarkBroadcast.
var BroadcastSizes = []int{64, 512, 4096, 8192}

// BootSizes are the machine sizes of BenchmarkBoot.
var BootSizes = []int{4, 64, 512, 8192}

// SizeName names the sub-benchmark of a machine of n CPUs ("cpus=64").
func SizeName(n int) string { return fmt.Sprintf("cpus=%d", n) }

// runTask boots spec, runs body as a task on CPU 0 until it returns, and
// times only that (the register-write log is off).
func runTask(h Harness, spec *machines.Spec, body func(k *xcall.Kernel, c *emu.Context)) error {
	return runTaskMem(h, spec, spec.Memory, 0, body)
}

// nop is the Go callback of the benchmarks.
var nop = &xcall.Func{Name: "nop", Fn: func(*emu.Context, any) error { return nil }, NoWait: xcall.NeverWaits}

// CallSingleSync: one op = one smp_call_function_single(wait=1) from CPU 0
// to CPU 1 of x86-4, Go callback, otherwise idle machine.
func CallSingleSync(n int, h Harness) error { return callSingleSync(n, h, nil) }

// CallSingleSyncNoCost is CallSingleSync on a machine whose timed steps
// cost nothing (noCost).
func CallSingleSyncNoCost(n int, h Harness) error { return callSingleSync(n, h, noCost) }

func callSingleSync(n int, h Harness, tweak func(*machines.Spec)) error {
	spec, err := machines.Builtin("x86-4")
	if err != nil {
		return err
	}
	if tweak != nil {
		tweak(spec)
	}
	return runTask(h, spec, func(k *xcall.Kernel, c *emu.Context) {
		for range n {
			k.SmpCallFunctionSingle(c, 1, nop, nil, true)
		}
	})
}

// Broadcast returns the benchmark of one smp_call_function(wait=1) from
// CPU 0 on an x2APIC-cluster machine of cpus CPUs; it reports ns/target.
func Broadcast(cpus int) Body { return broadcast(cpus, nil) }

// BroadcastNoCost is Broadcast on a machine whose timed steps cost
// nothing (noCost).
func BroadcastNoCost(cpus int) Body { return broadcast(cpus, noCost) }

func broadcast(cpus int, tweak func(*machines.Spec)) Body {
	return func(n int, h Harness) error {
		spec := machines.Synthetic(machines.ArchX86, "x2apic", "cluster", cpus, 0)
		if tweak != nil {
			tweak(spec)
		}
		err := runTask(h, spec, func(k *xcall.Kernel, c *emu.Context) {
			for range n {
				k.SmpCallFunction(c, nop, nil, true)
			}
		})
		h.ReportMetric(float64(h.Elapsed().Nanoseconds())/float64(n)/float64(cpus-1), "ns/target")
		return err
	}
}

// noCost makes every timed step of spec free: interrupt entry and exit,
// the callback, the csd set-up, the register write and the wake-up
// latency cost 0 ns (the IPI's latency stays). No step then spends time,
// so none of the events that end such a step is made: what is left is
// the kernel model's work and the events that no merging could remove
// (the IPI's arrival, the sender's wait). docs/performance.md uses the
// NoCost benchmarks to bound what fewer events could buy.
func noCost(spec *machines.Spec) {
	t := &spec.Timing
	t.IRQEntry, t.IRQExit, t.Callback = 0, 0, 0
	t.CSDSetup, t.RegWrite, t.WakeLatency = 0, 0, 0
}

// Stall: one op = a 60 s irq-off stall of one CPU with a synchronous
// caller waiting on it, csdlock_debug on, the default timeout. The op
// includes booting and closing the 4-CPU machine (a few microseconds):
// stopping the timer around them would cost more than they do.
func Stall(n int, h Harness) error {
	spec, err := machines.Builtin("x86-4")
	if err != nil {
		return err
	}
	for range n {
		k, err := xcall.Boot(spec, 0)
		if err != nil {
			return err
		}
		k.CSDLockDebug = true
		k.RecordWrites = false
		k.M.Spawn(1, "stall", func(c *emu.Context) {
			saved := k.LocalIRQSave(c)
			c.Delay(60e9, "stall")
			k.LocalIRQRestore(c, saved)
		})
		k.M.Spawn(0, "caller", func(c *emu.Context) {
			k.SmpCallFunctionSingle(c, 1, xcall.DoNothing, nil, true)
		})
		k.M.RunUntil(61e9)
		if k.Stats.Reports == 0 {
			k.Close()
			return errors.New("no report")
		}
		k.Close()
	}
	return nil
}

// Boot returns the benchmark of booting a machine of cpus CPUs.
func Boot(cpus int) Body {
	return func(n int, h Harness) error {
		spec := machines.Synthetic(machines.ArchX86, "x2apic", "cluster", cpus, 0)
		for range n {
			k, err := xcall.Boot(spec, 0)
			if err != nil {
				return err
			}
			k.Close()
		}
		return nil
	}
}

// ChannelRoundTrip is the yardstick: one round trip of an unbuffered
// channel between two goroutines.
func ChannelRoundTrip(n int, h Harness) error {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
		close(pong)
	}()
	for i := range n {
		ping <- i
		<-pong
	}
	close(ping)
	return nil
}

// LuaCallSingleSync: one op = one smp_call_function_single(wait=1) from
// CPU 0 to CPU 1 of x86-4, driven from a Lua task with a Lua callback
// that does nothing (a function that calls nothing runs on the handler's
// own stack: luabind's neverWaits).
func LuaCallSingleSync(n int, h Harness) error {
	return luaCallSingle(n, h, "local function cb() end")
}

// LuaCallSingleSyncWork: LuaCallSingleSync with a callback that calls a
// binding (smp_processor_id), as most scripts' callbacks do, so that it
// runs in a coroutine of its own.
func LuaCallSingleSyncWork(n int, h Harness) error {
	return luaCallSingle(n, h, "local function cb() local _ = smp_processor_id() end")
}

func luaCallSingle(n int, h Harness, callback string) error {
	s, err := luabind.New(luabind.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	s.K.RecordWrites = false
	s.L.SetGlobal("N", lua.LNumber(n))
	h.ResetTimer()
	_, err = s.Exec("bench.lua", callback+`
local t = spawn(0, function()
  for i = 1, N do smp_call_function_single(1, cb, nil, 1) end
end)
while not t:done() do run(s(1)) end
`)
	h.StopTimer()
	return err
}

// Torture: one op = one scftorture handler invocation on x86-4 with the
// default mix and the module's defaults, no hotplug. The torture runs
// until n handlers ran; it reports invocations per host second and the
// virtual time per invocation.
func Torture(n int, h Harness) error {
	spec, err := machines.Builtin("x86-4")
	if err != nil {
		return err
	}
	p := scftorture.DefaultParams()
	p.Duration = 0
	res, err := scftorture.Run(spec, 0, p, nil, scftorture.WithStopAfter(int64(n)))
	if err != nil {
		return err
	}
	if res.Verdict != "SUCCESS" {
		return fmt.Errorf("verdict %q", res.Verdict)
	}
	h.ReportMetric(float64(res.Invocations)/h.Elapsed().Seconds(), "invocations/s")
	h.ReportMetric(float64(res.VirtualTime)/float64(res.Invocations), "virtual-ns/invocation")
	return nil
}

// SessionNew: one op = a new Lua session on x86-4 (the sandboxed
// libraries, the API's globals, the booted machine), closed again: the
// fixed cost of every explore run before its script starts.
func SessionNew(n int, h Harness) error {
	for range n {
		s, err := luabind.New(luabind.Options{})
		if err != nil {
			return err
		}
		s.Close()
	}
	return nil
}

// ExploreRun: one op = one run of `xcallsh explore scripts/hello.lua -j 1`:
// a session with the validator attached, the scenario compiled once and
// run, and the verdict (error, panic, stuck, validator) read, as explore's
// Run does for every seed.
func ExploreRun(n int, h Harness) error {
	sc, ok := scripts.Lookup("hello")
	if !ok {
		return errors.New("no built-in scenario hello")
	}
	proto, err := luabind.Compile("scripts/hello.lua", sc.Source)
	if err != nil {
		return err
	}
	h.ResetTimer()
	for i := range n {
		var v *xcall.Validator
		s, err := luabind.New(luabind.Options{Seed: uint64(i), Stdout: io.Discard, Recycle: true,
			Setup: func(k *xcall.Kernel) {
				v = xcall.NewValidator()
				k.Events = append(k.Events, v)
			}})
		if err != nil {
			return err
		}
		_, err = s.ExecCompiled(proto)
		k := s.K
		switch {
		case err != nil:
		case k.Panicked() != "":
			err = errors.New(k.Panicked())
		case k.Stuck() != "":
			err = errors.New(k.Stuck())
		default:
			if errs := v.Errors(); len(errs) > 0 {
				err = errors.New(errs[0])
			}
		}
		s.Close()
		if err != nil {
			return fmt.Errorf("run %d: %v", i, err)
		}
	}
	return nil
}

// The memory-model benchmarks (docs/memory.md#the-measured-goals): the
// single call and the 64-CPU broadcast under a memory model (machines'
// MemorySC or MemoryNative) at a seed. At seed 0 native draws nothing (it
// is the sc run, plus its bookkeeping); at another seed every queueing
// store is delayed a drawn time and, every fix being on, drained by the
// barrier before the IPI write, as ties and jitter are drawn for sc too.

// runTaskMem is runTask on a kernel booted at seed under memory.
func runTaskMem(h Harness, spec *machines.Spec, memory string, seed uint64, body func(k *xcall.Kernel, c *emu.Context)) error {
	s := *spec
	s.Memory = memory
	k, err := xcall.Boot(&s, seed)
	if err != nil {
		return err
	}
	defer k.Close()
	k.RecordWrites = false
	done := false
	k.M.Spawn(0, "bench", func(c *emu.Context) {
		body(k, c)
		done = true
	})
	h.ResetTimer()
	defer h.StopTimer()
	for !done {
		next, ok := k.M.NextEventTime()
		if !ok {
			return errors.New("the machine ran out of events")
		}
		k.M.RunUntil(next + 1e9)
	}
	return nil
}

// CallSingleSyncMem is CallSingleSync under memory at seed.
func CallSingleSyncMem(memory string, seed uint64) Body {
	return func(n int, h Harness) error {
		spec, err := machines.Builtin("x86-4")
		if err != nil {
			return err
		}
		return runTaskMem(h, spec, memory, seed, func(k *xcall.Kernel, c *emu.Context) {
			for range n {
				k.SmpCallFunctionSingle(c, 1, nop, nil, true)
			}
		})
	}
}

// BroadcastMem is Broadcast(cpus) under memory at seed.
func BroadcastMem(cpus int, memory string, seed uint64) Body {
	return func(n int, h Harness) error {
		spec := machines.Synthetic(machines.ArchX86, "x2apic", "cluster", cpus, 0)
		err := runTaskMem(h, spec, memory, seed, func(k *xcall.Kernel, c *emu.Context) {
			for range n {
				k.SmpCallFunction(c, nop, nil, true)
			}
		})
		h.ReportMetric(float64(h.Elapsed().Nanoseconds())/float64(n)/float64(cpus-1), "ns/target")
		return err
	}
}
