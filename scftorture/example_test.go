package scftorture_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/xcallsh/xcallsh/machines"
	"github.com/xcallsh/xcallsh/scftorture"
)

// Run loads the module on a booted machine, lets it run for the virtual
// Duration, unloads it and returns the verdict and the counters. Its log
// is the kernel's dmesg; here only the End line is printed.
func ExampleRun() {
	spec, err := machines.Builtin("x86-4")
	if err != nil {
		fmt.Println(err)
		return
	}
	p := scftorture.DefaultParams()
	p.Duration = 20_000_000 // 20 ms of virtual time
	p.OnoffInterval = 5 * scftorture.Jiffy
	var log strings.Builder
	res, err := scftorture.Run(spec, 0, p, &log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, "End of test") {
			fmt.Println(strings.TrimSpace(l[:strings.Index(l, "verbose=")]))
		}
	}
	fmt.Printf("%s: %d handler invocations, %d of %d offline attempts succeeded\n",
		res.Verdict, res.Invocations, res.Onoff.OfflineSuccesses, res.Onoff.OfflineAttempts)
	// Output:
	// [    0.020212] scftorture: --- End of test: SUCCESS:
	// SUCCESS: 22147 handler invocations, 1 of 1 offline attempts succeeded
}
