//go:build linux

package main

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// isTTY reports whether w is a terminal: a file for which the terminal
// ioctl (TCGETS) succeeds.
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}
