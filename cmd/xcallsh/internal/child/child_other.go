//go:build !linux

package child

import "syscall"

// supported: elsewhere there is no /proc to read a child's memory from and
// no parent-death signal (and on Windows no extra file descriptors to hand
// a child), so Start refuses and runs stay in the process, with the
// in-process limits only.
const supported = false

func setupOS() {}

func sysProcAttr() *syscall.SysProcAttr { return nil }
