package main

import (
	"os"
	"strings"

	"github.com/xcallsh/xcallsh/cmd/xcallsh/internal/traces"
)

// timelineFlag is --timeline, alone (the whole run) or with a range,
// FROM..TO, as --timeline=FROM..TO or as the next argument (timelineArgs).
type timelineFlag struct {
	on  *bool
	r   *traces.Range
	err *error // a bad range, reported after parsing (the flag package calls any error of a bool flag a bad boolean)
}

func (f timelineFlag) IsBoolFlag() bool { return true }

func (f timelineFlag) String() string {
	if f.on == nil || !*f.on {
		return "false"
	}
	return f.r.String()
}

func (f timelineFlag) Set(s string) error {
	switch s {
	case "true", "false":
		*f.on, *f.r = s == "true", traces.Range{}
		return nil
	}
	r, err := traces.ParseRange(s)
	*f.on, *f.r, *f.err = true, r, err
	return nil
}

// timelineArgs joins "--timeline FROM..TO" into "--timeline=FROM..TO": the
// argument after --timeline is its range when it has ".." in it and is not
// a script (no path separator, no .lua).
func timelineArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if (a == "--timeline" || a == "-timeline") && i+1 < len(args) {
			next := args[i+1]
			if strings.Contains(next, "..") && !strings.ContainsAny(next, "/"+string(os.PathSeparator)) && !strings.HasSuffix(next, ".lua") {
				out = append(out, a+"="+next)
				i++
				continue
			}
		}
		out = append(out, a)
	}
	return out
}
