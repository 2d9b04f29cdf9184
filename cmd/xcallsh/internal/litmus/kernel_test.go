package litmus

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xcallsh/xcallsh/emu/memory"
)

// The kernel's own litmus tests (tools/memory-model/litmus-tests in the
// kernel's tree) state LKMM's verdict in a "Result: Never|Sometimes|
// Always" line. They are GPL files of the kernel and are not in this
// repository: TestKernelLitmus runs them from the directory the
// environment variable XCALLSH_KERNEL_LITMUS names.
const kernelLitmusEnv = "XCALLSH_KERNEL_LITMUS"

var resultRE = regexp.MustCompile(`Result: (Never|Sometimes|Always)\b`)

// archVerdicts are the published architecture verdicts of the kernel's
// tests, compiled as the kernel compiles them (docs/memory.md "How the
// macros map"): x86-TSO after Owens, Sarkar and Sewell (TPHOLs 2009),
// ARMv8 after Pulte et al. (POPL 2018). Only these outcomes are allowed;
// every other test of the set is Never on both (a test not listed is
// checked against LKMM's Result alone).
var archVerdicts = map[string][2]string{
	// x86-TSO lets a load pass the thread's earlier stores, nothing else.
	"SB+poonceonces":             {"Sometimes", "Sometimes"},
	"SB+rfionceonce-poonceonces": {"Sometimes", "Sometimes"},
	"R+poonceonces":              {"Sometimes", "Sometimes"},
	// ARMv8 also reorders unordered loads and stores to different
	// locations.
	"MP+poonceonces":            {"Never", "Sometimes"},
	"LB+poonceonces":            {"Never", "Sometimes"},
	"S+poonceonces":             {"Never", "Sometimes"},
	"WRC+poonceonces+Once":      {"Never", "Sometimes"},
	"ISA2+poonceonces":          {"Never", "Sometimes"},
	"IRIW+poonceonces+OnceOnce": {"Never", "Sometimes"},
	// The lock's acquire orders only its read of the lock word.
	"MP+polockonce+poacquiresilsil": {"Never", "Sometimes"},
	// Forbidden by both architectures though LKMM allows them: locks and
	// release-acquire are multicopy-atomic and RCsc on both, x86's locked
	// instructions full barriers.
	"Z6.0+pooncelock+pooncelock+pombonce":                 {"Never", "Never"},
	"Z6.0+pooncerelease+poacquirerelease+fencembonceonce": {"Never", "Never"},
	"Z6.0+pooncerelease+poacquirerelease+mbonceonce":      {"Never", "Never"},
}

// kernelVerdict is one test of the set, as run.
type kernelVerdict struct {
	name, lkmm string
	ours       [2]string // x86-TSO, ARMv8
}

// checkKernelDir runs every *.litmus in dir under x86-TSO (x86's mapping)
// and ARMv8 (arm64's), every execution, and lists the disagreements:
// where LKMM says Never or Always, both verdicts must be the same (the
// architectures are stronger than LKMM); where a published architecture
// verdict is known, ours must be it.
func checkKernelDir(dir string) ([]kernelVerdict, []string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.litmus"))
	if err != nil {
		return nil, nil, err
	}
	if len(paths) == 0 {
		return nil, nil, fmt.Errorf("%s: no *.litmus files", dir)
	}
	var out []kernelVerdict
	var bad []string
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, err
		}
		m := resultRE.FindStringSubmatch(string(src))
		if m == nil {
			bad = append(bad, fmt.Sprintf("%s: no Result: line", p))
			continue
		}
		test, err := Parse(p, src)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		v := kernelVerdict{name: test.Name, lkmm: m[1]}
		for k, model := range []memory.Model{memory.TSO, memory.ARMv8} {
			c, err := Compile(test, model == memory.TSO)
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			r, err := Run(test, c, Options{Model: model})
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			v.ours[k] = observation(r)
			if r.Stuck != 0 {
				bad = append(bad, fmt.Sprintf("%s under %v: %d executions stuck", test.Name, model, r.Stuck))
			}
			if (v.lkmm == "Never" || v.lkmm == "Always") && v.ours[k] != v.lkmm {
				bad = append(bad, fmt.Sprintf("%s under %v: %s, but LKMM says %s", test.Name, model, v.ours[k], v.lkmm))
			}
			if want, ok := archVerdicts[test.Name]; ok && v.ours[k] != want[k] {
				bad = append(bad, fmt.Sprintf("%s under %v: %s, but the architecture's verdict is %s", test.Name, model, v.ours[k], want[k]))
			}
		}
		out = append(out, v)
	}
	return out, bad, nil
}

// TestKernelLitmus runs the kernel's own litmus tests: set
// XCALLSH_KERNEL_LITMUS to the kernel's tools/memory-model/litmus-tests.
func TestKernelLitmus(t *testing.T) {
	dir := os.Getenv(kernelLitmusEnv)
	if dir == "" {
		t.Skip(kernelLitmusEnv + " is unset: set it to a kernel tree's tools/memory-model/litmus-tests to check every test's Result line against the x86-TSO and ARMv8 verdicts")
	}
	verdicts, bad, err := checkKernelDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range verdicts {
		t.Logf("%-55s LKMM %-9s x86-TSO %-9s ARMv8 %s", v.name, v.lkmm, v.ours[0], v.ours[1])
	}
	for _, b := range bad {
		t.Error(b)
	}
	t.Logf("%d tests, %d disagreements", len(verdicts), len(bad))
}

// TestKernelCheck: the check itself, on tests of our own in the kernel's
// shape: it passes the right verdicts and names every wrong one.
func TestKernelCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, result, body string) {
		t.Helper()
		src := "C " + name + "\n\n(*\n * Result: " + result + "\n *)\n\n{}\n\n" + body
		if err := os.WriteFile(filepath.Join(dir, name+".litmus"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sb := `P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); FENCE r0 = READ_ONCE(*y); }
P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 1); FENCE r0 = READ_ONCE(*x); }
exists (0:r0=0 /\ 1:r0=0)
`
	mp := `P0(int *x, int *y) { WRITE_ONCE(*x, 1); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*y); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ 1:r1=0)
`
	write("SB+poonceonces", "Sometimes", strings.ReplaceAll(sb, "FENCE", ""))
	write("SB+fencembonceonces", "Never", strings.ReplaceAll(sb, "FENCE", "smp_mb();"))
	write("MP+poonceonces", "Sometimes", mp)
	verdicts, bad, err := checkKernelDir(dir)
	if err != nil || len(bad) != 0 || len(verdicts) != 3 {
		t.Fatalf("right verdicts: %d tests, %v, %v", len(verdicts), bad, err)
	}
	// LKMM's Never where the architectures allow it; an architecture
	// verdict ours cannot meet (SB without a fence claimed Never).
	write("SB+fencembonceonces", "Never", strings.ReplaceAll(sb, "FENCE", ""))
	write("Z6.0+pooncerelease+poacquirerelease+mbonceonce", "Sometimes", strings.ReplaceAll(sb, "FENCE", ""))
	write("NoResult", "Unknown", mp)
	_, bad, err = checkKernelDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(bad)
	want := []string{
		filepath.Join(dir, "NoResult.litmus") + ": no Result: line",
		"SB+fencembonceonces under ARMv8: Sometimes, but LKMM says Never",
		"SB+fencembonceonces under x86-TSO: Sometimes, but LKMM says Never",
		"Z6.0+pooncerelease+poacquirerelease+mbonceonce under ARMv8: Sometimes, but the architecture's verdict is Never",
		"Z6.0+pooncerelease+poacquirerelease+mbonceonce under x86-TSO: Sometimes, but the architecture's verdict is Never",
	}
	if !slices.Equal(bad, want) {
		t.Errorf("disagreements:\n%s\nwant:\n%s", strings.Join(bad, "\n"), strings.Join(want, "\n"))
	}
	if _, _, err := checkKernelDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no *.litmus files") {
		t.Errorf("empty directory: %v", err)
	}
}
