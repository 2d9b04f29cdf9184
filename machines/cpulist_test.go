package machines

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestParseCPUList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
	}{
		{"", nil},
		{"   ", nil},
		{"0", []int{0}},
		{"0-3,6", []int{0, 1, 2, 3, 6}},
		{" 1 , 3-4 ", []int{1, 3, 4}},
		{"1 - 3", []int{1, 2, 3}},
		{"6,0-3", []int{0, 1, 2, 3, 6}},
		{"2,2,1-2", []int{1, 2}},
		{"5-5", []int{5}},
		{"8191", []int{8191}},
		{"007", []int{7}},
	} {
		got, err := ParseCPUList(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseCPUList(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseCPUListErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"3-1", `invalid CPU list "3-1": range 3-1 ends before it starts`},
		{"a", `invalid CPU list "a": "a" is not a CPU number`},
		{"-1", `invalid CPU list "-1": missing CPU number`},
		{"1-", `invalid CPU list "1-": missing CPU number`},
		{"1,,2", `invalid CPU list "1,,2": empty element`},
		{"1,", `invalid CPU list "1,": empty element`},
		{"1-2-3", `invalid CPU list "1-2-3": "2-3" is not a CPU number`},
		{"+1", `invalid CPU list "+1": "+1" is not a CPU number`},
		{"0x1", `invalid CPU list "0x1": "0x1" is not a CPU number`},
		{"8192", `invalid CPU list "8192": CPU 8192 is out of range 0-8191`},
		{"0-99999999999999999999999", `invalid CPU list "0-99999999999999999999999": CPU 99999999999999999999999 is out of range 0-8191`},
		{"0-7:2/4", `invalid CPU list "0-7:2/4": "7:2/4" is not a CPU number`},
	} {
		got, err := ParseCPUList(tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParseCPUList(%q) = %v, %v; want error %q", tc.in, got, err, tc.want)
		}
	}
}

func TestFormatCPUList(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		want string
	}{
		{nil, ""},
		{[]int{}, ""},
		{[]int{0}, "0"},
		{[]int{0, 1, 2, 3, 6}, "0-3,6"},
		{[]int{0, 2, 4}, "0,2,4"},
		{[]int{1, 2, 5, 6, 7, 9}, "1-2,5-7,9"},
		{[]int{6, 0, 3, 1, 2, 2}, "0-3,6"}, // unsorted, duplicated
	} {
		in := slices.Clone(tc.in)
		if got := FormatCPUList(tc.in); got != tc.want {
			t.Errorf("FormatCPUList(%v) = %q, want %q", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("FormatCPUList modified its argument: %v, was %v", tc.in, in)
		}
	}
}

// TestCPUListRoundTrip formats random CPU sets and parses them back.
func TestCPUListRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		n := 1 + r.IntN(300)
		var cpus []int
		for c := range n {
			if r.IntN(3) > 0 {
				cpus = append(cpus, c)
			}
		}
		s := FormatCPUList(cpus)
		got, err := ParseCPUList(s)
		if err != nil || !slices.Equal(got, cpus) {
			t.Fatalf("ParseCPUList(FormatCPUList(%v) = %q) = %v, %v", cpus, s, got, err)
		}
		if again := FormatCPUList(got); again != s {
			t.Fatalf("format is not canonical: %q then %q", s, again)
		}
	}
}

func TestCPUListText(t *testing.T) {
	var l CPUList
	if err := l.UnmarshalText([]byte("4-5, 0")); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l, CPUList{0, 4, 5}) || l.String() != "0,4-5" {
		t.Errorf("CPUList = %v (%q)", []int(l), l.String())
	}
	if b, _ := l.MarshalText(); string(b) != "0,4-5" {
		t.Errorf("MarshalText = %q", b)
	}
	if err := l.UnmarshalText([]byte("x")); err == nil || !strings.Contains(err.Error(), "not a CPU number") {
		t.Errorf("UnmarshalText(x) = %v", err)
	}
}
