package litmus

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/xcallsh/xcallsh/emu/memory"
)

// FuzzLitmus: any input is parsed, compiled and run without a panic, and
// an error is always an *Error naming the file.
func FuzzLitmus(f *testing.F) {
	paths, _ := filepath.Glob("../../../../scripts/litmus/*.litmus")
	for _, p := range paths {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte(sbSrc))
	f.Add([]byte("C k\n{ atomic_t v = ATOMIC_INIT(1); }\nP0(int *x, atomic_t *v, spinlock_t *s) { int a = READ_ONCE(*x); *x = a; (void)atomic_add_unless(v, 1, 0); r1 = spin_trylock(s); if (*x == 1) WRITE_ONCE(*x, 2); }\nlocations [x;]\nfilter (0:r1=1)\nexists (x=1)\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		test, err := Parse("f.litmus", src)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%T %v", err, err)
			}
			return
		}
		for _, x86 := range []bool{true, false} {
			c, err := Compile(test, x86)
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("%T %v", err, err)
				}
				return
			}
			if len(c.Prog.Threads) > 4 || len(src) > 2000 {
				continue
			}
			for _, m := range []memory.Model{memory.SC, memory.TSO, memory.ARMv8} {
				if _, err := Run(test, c, Options{Model: m, Runs: 3, Seed: 1}); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
