//go:build !linux

package main

import (
	"io"
	"os"
)

// isTTY reports whether w is a terminal: elsewhere than on Linux, a
// character device other than the null device.
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}
