package xcall

import (
	"fmt"
	"testing"

	"github.com/xcallsh/xcallsh/emu"
	"github.com/xcallsh/xcallsh/machines"
)

// The emulator's own speed, as benchmark bodies shared by `go test -bench`
// (bench_test.go) and `xcallsh bench`. They measure host time only.

// RunTaskBench boots spec, runs body as a task on CPU 0 until it returns,
// and times only that (the register-write log is off).
func RunTaskBench(b *testing.B, spec *machines.Spec, body func(k *Kernel, c *emu.Context)) {
	k, err := Boot(spec, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	k.RecordWrites = false
	done := false
	k.M.Spawn(0, "bench", func(c *emu.Context) {
		body(k, c)
		done = true
	})
	b.ResetTimer()
	for !done {
		next, ok := k.M.NextEventTime()
		if !ok {
			b.Fatal("the machine ran out of events")
		}
		k.M.RunUntil(next + 1e9)
	}
	b.StopTimer()
}

// nopFunc is the Go callback of the benchmarks.
var nopFunc = &Func{Name: "nop", Fn: func(*emu.Context, any) error { return nil }, NoWait: NeverWaits}

// PerfCallSingleSync: one op = one smp_call_function_single(wait=1) from
// CPU 0 to CPU 1 of x86-4, Go callback, otherwise idle machine.
func PerfCallSingleSync(b *testing.B) {
	b.ReportAllocs()
	spec, _ := machines.Builtin("x86-4")
	RunTaskBench(b, spec, func(k *Kernel, c *emu.Context) {
		for i := 0; i < b.N; i++ {
			k.SmpCallFunctionSingle(c, 1, nopFunc, nil, true)
		}
	})
}

// PerfBroadcast returns the benchmark of one smp_call_function(wait=1)
// from CPU 0 on an x2APIC-cluster machine of n CPUs; it reports ns/target.
func PerfBroadcast(n int) func(b *testing.B) {
	return func(b *testing.B) {
		b.ReportAllocs()
		spec := machines.Synthetic(machines.ArchX86, "x2apic", "cluster", n, 0)
		RunTaskBench(b, spec, func(k *Kernel, c *emu.Context) {
			for i := 0; i < b.N; i++ {
				k.SmpCallFunction(c, nopFunc, nil, true)
			}
		})
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n-1), "ns/target")
	}
}

// PerfStall: one op = a 60 s irq-off stall of one CPU with a synchronous
// caller waiting on it, csdlock_debug on, the default timeout. The op
// includes booting and closing the 4-CPU machine (a few microseconds):
// stopping the timer around them would cost more than they do.
func PerfStall(b *testing.B) {
	b.ReportAllocs()
	spec, _ := machines.Builtin("x86-4")
	for i := 0; i < b.N; i++ {
		k, _ := Boot(spec, 0)
		k.CSDLockDebug = true
		k.RecordWrites = false
		k.M.Spawn(1, "stall", func(c *emu.Context) {
			saved := k.LocalIRQSave(c)
			c.Delay(60e9, "stall")
			k.LocalIRQRestore(c, saved)
		})
		k.M.Spawn(0, "caller", func(c *emu.Context) {
			k.SmpCallFunctionSingle(c, 1, DoNothing, nil, true)
		})
		k.M.RunUntil(61e9)
		if k.Stats.Reports == 0 {
			b.Fatal("no report")
		}
		k.Close()
	}
}

// PerfBoot returns the benchmark of booting a machine of n CPUs.
func PerfBoot(n int) func(b *testing.B) {
	return func(b *testing.B) {
		b.ReportAllocs()
		spec := machines.Synthetic(machines.ArchX86, "x2apic", "cluster", n, 0)
		for i := 0; i < b.N; i++ {
			k, err := Boot(spec, 0)
			if err != nil {
				b.Fatal(err)
			}
			k.Close()
		}
	}
}

// PerfChannelRoundTrip is the yardstick: one round trip of an unbuffered
// channel between two goroutines.
func PerfChannelRoundTrip(b *testing.B) {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
		close(pong)
	}()
	for i := 0; i < b.N; i++ {
		ping <- i
		<-pong
	}
	close(ping)
}

// BroadcastSizes are the machine sizes of BenchmarkBroadcast.
var BroadcastSizes = []int{64, 512, 4096, 8192}

// BootSizes are the machine sizes of BenchmarkBoot.
var BootSizes = []int{4, 64, 512, 8192}

func sizeName(n int) string { return fmt.Sprintf("cpus=%d", n) }
