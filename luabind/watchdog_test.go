package luabind

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// The process's memory watchdog watches exactly the sessions that run:
// one whose limit the heap passes is stopped, one with a higher limit
// running at the same time is not, and the goroutine ends once nothing
// runs.
func TestWatchdogPerSession(t *testing.T) {
	small, err := New(Options{MemoryLimit: 1}) // any heap passes 1 byte
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	big, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	var wg sync.WaitGroup
	var errSmall, errBig error
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, errSmall = small.Exec("small.lua", "local x = 0\nwhile true do x = x + 1 end")
	}()
	go func() {
		defer wg.Done()
		// Runs for several of the watchdog's periods, then ends by itself.
		_, errBig = big.Exec("big.lua", "local x = 0\nfor i = 1, 3e6 do x = x + 1 end")
	}()
	wg.Wait()
	if errSmall == nil || !strings.Contains(errSmall.Error(), "small.lua:2: stopped: the run used more than 0 MiB of memory (the limit)") {
		t.Errorf("small: %v", errSmall)
	}
	if errBig != nil {
		t.Errorf("big: %v", errBig)
	}
	// Nested arming counts: the session stays watched until the outer
	// run ends.
	memWatch.arm(big)
	memWatch.arm(big)
	memWatch.disarm(big)
	memWatch.Lock()
	watched := len(memWatch.running) == 1 && memWatch.running[0] == big
	memWatch.Unlock()
	memWatch.disarm(big)
	if !watched {
		t.Error("a nested run's end stopped watching the session")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		memWatch.Lock()
		n, on := len(memWatch.running), memWatch.watching
		memWatch.Unlock()
		if n == 0 && !on {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with no session running, the watchdog still watches %d and runs: %v", n, on)
		}
		time.Sleep(memWatchPeriod)
	}
}
