// Package bench holds the emulator's benchmarks of docs/performance.md and
// the loop that times them. Each body takes the op count n and a Harness;
// the Go benchmarks (go test -bench) pass b.N and their *testing.B, and
// `xcallsh bench` passes its own timer from Measure, so the shipped binary
// runs the same code without package testing. They measure host time only.
package bench

import (
	"runtime"
	"time"
)

// Harness is what a benchmark body asks of whoever times it: *testing.B
// in a Go benchmark, Measure's timer in `xcallsh bench`.
type Harness interface {
	// ResetTimer zeroes the time and allocations counted so far (the
	// setup before it is not measured).
	ResetTimer()
	// StopTimer stops counting (the teardown after it is not measured).
	StopTimer()
	// Elapsed is the time counted so far.
	Elapsed() time.Duration
	// ReportMetric adds a result of the body's own, per unit.
	ReportMetric(n float64, unit string)
}

// Body is one benchmark: n ops, timed through h. An error ends it.
type Body func(n int, h Harness) error

// Result is one run of a Body: N ops in T, with the allocations made
// while the timer ran.
type Result struct {
	N      int
	T      time.Duration
	Allocs uint64 // mallocs while the timer ran
	Bytes  uint64 // bytes allocated while the timer ran
	// Metrics are the body's own (ReportMetric), by unit.
	Metrics map[string]float64
}

// NsPerOp is the host time of one op.
func (r Result) NsPerOp() float64 {
	if r.N <= 0 {
		return 0
	}
	return float64(r.T.Nanoseconds()) / float64(r.N)
}

// AllocsPerOp is the allocations of one op, rounded down as go test does.
func (r Result) AllocsPerOp() int64 {
	if r.N <= 0 {
		return 0
	}
	return int64(r.Allocs) / int64(r.N)
}

// BytesPerOp is the bytes allocated by one op, rounded down.
func (r Result) BytesPerOp() int64 {
	if r.N <= 0 {
		return 0
	}
	return int64(r.Bytes) / int64(r.N)
}

// timer is Measure's Harness. It counts as testing.B does: the host
// clock and runtime.MemStats read when the timer starts and stops.
type timer struct {
	running       bool
	start         time.Time
	startAllocs   uint64
	startBytes    uint64
	elapsed       time.Duration
	allocs, bytes uint64
	metrics       map[string]float64
	memStats      runtime.MemStats
}

func (t *timer) startTimer() {
	if t.running {
		return
	}
	runtime.ReadMemStats(&t.memStats)
	t.startAllocs, t.startBytes = t.memStats.Mallocs, t.memStats.TotalAlloc
	t.start = time.Now()
	t.running = true
}

func (t *timer) StopTimer() {
	if !t.running {
		return
	}
	t.elapsed += time.Since(t.start)
	runtime.ReadMemStats(&t.memStats)
	t.allocs += t.memStats.Mallocs - t.startAllocs
	t.bytes += t.memStats.TotalAlloc - t.startBytes
	t.running = false
}

func (t *timer) ResetTimer() {
	if t.running {
		runtime.ReadMemStats(&t.memStats)
		t.startAllocs, t.startBytes = t.memStats.Mallocs, t.memStats.TotalAlloc
		t.start = time.Now()
	}
	t.elapsed, t.allocs, t.bytes = 0, 0, 0
}

func (t *timer) Elapsed() time.Duration {
	if t.running {
		return t.elapsed + time.Since(t.start)
	}
	return t.elapsed
}

func (t *timer) ReportMetric(n float64, unit string) { t.metrics[unit] = n }

// runN runs f once with n ops, after a garbage collection so that the
// previous run's garbage is not charged to this one.
func runN(f Body, n int) (Result, error) {
	runtime.GC()
	t := &timer{metrics: map[string]float64{}}
	t.startTimer()
	err := f(n, t)
	t.StopTimer()
	return Result{N: n, T: t.elapsed, Allocs: t.allocs, Bytes: t.bytes, Metrics: t.metrics}, err
}

// maxN bounds the op count, as go test does.
const maxN = 1_000_000_000

// Measure runs f with n = 1 and then with larger n, until a run takes at
// least d, and returns that run: the loop of go test -benchtime d. Each
// next n aims at d from the last run's time per op, with 20% to spare,
// and grows at least by one and at most a hundredfold.
func Measure(f Body, d time.Duration) (Result, error) {
	n := 1
	for {
		r, err := runN(f, n)
		if err != nil {
			return r, err
		}
		if r.T >= d || n >= maxN {
			return r, nil
		}
		prev := int64(n)
		ns := max(r.T.Nanoseconds(), 1)
		next := int64(float64(d.Nanoseconds()) * float64(prev) / float64(ns))
		next += next / 5
		next = min(next, 100*prev)
		next = max(next, prev+1)
		n = int(min(next, maxN))
	}
}
