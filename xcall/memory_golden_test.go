package xcall_test

// The store buffers of memory.go against the reference of
// memory_ref_test.go (their first implementation, one list scanned whole)
// on whole scenarios under the native memory model: every built-in
// scenario, at many seeds, must give the same record (the buffered and
// drained stores included), kernel log, output and end with either.

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"strings"
	"testing"
	"time"

	"github.com/xcallsh/xcallsh/luabind"
	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/scripts"
	"github.com/xcallsh/xcallsh/xcall"
)

// runNative runs src under the native memory model at seed, with the
// reference store buffers if ref. It returns the record's "N lines, hash
// H" (and how many of its lines are buffered or drained stores) and the
// rest of what the run showed.
func runNative(t *testing.T, seed uint64, src string, ref bool) (trace, rest string, stores int) {
	t.Helper()
	var (
		h   *traceHash
		out bytes.Buffer
	)
	sess, err := luabind.New(luabind.Options{
		Seed:    seed,
		Timeout: time.Minute,
		Stdout:  &out,
		Setup: func(k *xcall.Kernel) {
			if err := k.SetMemory(machines.MemoryNative); err != nil {
				t.Fatal(err)
			}
			h = &traceHash{hash: fnv.New64a(), keep: true}
			k.M.AddRecorder(h)
			if ref {
				xcall.UseReferenceStores(k)
			}
		},
	})
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	defer sess.Close()
	_, err = sess.Exec("script.lua", src)
	text := h.text.String()
	stores = strings.Count(text, " store_buffered ") + strings.Count(text, " store_visible ")
	return fmt.Sprintf("%d lines, hash %016x", h.lines, h.hash.Sum64()), endText(sess, out.String(), err), stores
}

func TestReferenceStores(t *testing.T) {
	seeds := uint64(16)
	if testing.Short() {
		seeds = 4
	}
	total := 0
	for _, sc := range scripts.All() {
		t.Run(sc.Name, func(t *testing.T) {
			for seed := uint64(0); seed < seeds; seed++ {
				trace, rest, n := runNative(t, seed, sc.Source, false)
				rtrace, rrest, _ := runNative(t, seed, sc.Source, true)
				if trace != rtrace {
					t.Errorf("seed %d: record: memory.go gives %s, the reference %s", seed, trace, rtrace)
				}
				if rest != rrest {
					t.Errorf("seed %d: log, output or end differ:\n memory.go:\n%s\n reference:\n%s", seed, rest, rrest)
				}
				total += n
			}
		})
	}
	// The comparison means something only if the runs buffer stores.
	if total < 1000 {
		t.Errorf("only %d buffered or drained stores in the record", total)
	}
	t.Logf("%d buffered or drained stores compared", total)
}
