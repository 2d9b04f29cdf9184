//go:build linux

package child

import "syscall"

// supported: Linux has what the backstop needs (/proc to read a child's
// resident memory, a parent-death signal, extra file descriptors).
const supported = true

// setupOS turns core dumps off: the parent reports a crash.
func setupOS() { syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}) }

// sysProcAttr puts the child in its own process group, so that Ctrl-C
// reaches the parent only, which decides; and kills it with the parent.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
