package explore

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/xcallsh/xcallsh/luabind"
	"github.com/xcallsh/xcallsh/scripts"
)

// BenchmarkRunLostIPI: one op is one run of `xcallsh explore
// scripts/lost_ipi.lua` (in process): a scenario with a CSD-lock timeout,
// whose virtual time is long (docs/performance.md, "A session's set-up").
func BenchmarkRunLostIPI(b *testing.B) {
	benchRun(b, "lost_ipi")
}

// BenchmarkRunHello: one op is one run of scripts/hello.lua, in process.
func BenchmarkRunHello(b *testing.B) {
	benchRun(b, "hello")
}

func benchRun(b *testing.B, name string) {
	sc, ok := scripts.Lookup(name)
	if !ok {
		b.Fatalf("no built-in scenario %s", name)
	}
	s := Scenario{Name: "scripts/" + name + ".lua", Source: sc.Source}
	proto, err := luabind.Compile(s.Name, s.Source)
	if err != nil {
		b.Fatal(err)
	}
	s.compiled = proto
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Run(s, Schedule{Seed: uint64(i + 1), Strategy: "random", Depth: 3})
	}
}

// BenchmarkServeLostIPI: one op is one run of scripts/lost_ipi.lua in an
// explore worker (Serve): the schedule read from JSON, the run, the
// result written as JSON.
func BenchmarkServeLostIPI(b *testing.B) {
	sc, ok := scripts.Lookup("lost_ipi")
	if !ok {
		b.Fatal("no built-in scenario lost_ipi")
	}
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	enc.Encode(wireScenario{Name: "scripts/lost_ipi.lua", Source: sc.Source, Timeout: time.Minute})
	for i := 0; i < b.N; i++ {
		enc.Encode(Schedule{Seed: uint64(i + 1), Strategy: "random", Depth: 3})
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := Serve(&in, io.Discard); err != nil {
		b.Fatal(err)
	}
}
