package machines_test

import (
	"fmt"

	"github.com/xcallsh/xcallsh/machines"
)

// Load takes a built-in machine's name or a TOML file; Parse reads TOML
// text and names the file, line and key of what is wrong.
func ExampleParse() {
	spec, err := machines.Load("arm64-8")
	if err != nil {
		panic(err)
	}
	fmt.Println(spec.Name, spec.CPUs, spec.IsX86())

	_, err = machines.Parse("my.toml", []byte("name = \"my\"\narch = \"x86_64\"\ncpus = 9000\n"))
	fmt.Println(err)
	// Output:
	// arm64-8 8 false
	// my.toml: line 3: key cpus: 9000 is out of range 1-8192
}
