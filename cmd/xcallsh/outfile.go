package main

import (
	"bufio"
	"errors"
	"fmt"

	"os"
)

// outHold is how much an outFile holds in memory before it opens its file.
// A run that turns out to be a bad invocation (an invalid machine in the
// script, found when it runs) stops long before this, and must not have
// truncated the file.
const outHold = 1 << 20

// outFile is an output file written as a run goes (the ftrace text): it
// opens (and truncates) the file only once it holds more than outHold bytes
// or is closed, and remembers the first error, which fails the run.
type outFile struct {
	name string
	f    *os.File
	w    *bufio.Writer
	held []byte
	err  error
}

func (o *outFile) Write(p []byte) (int, error) {
	if o.err != nil {
		return len(p), nil
	}
	if o.f == nil {
		if len(o.held)+len(p) <= outHold {
			o.held = append(o.held, p...)
			return len(p), nil
		}
		if !o.open() {
			return len(p), nil
		}
	}
	if _, err := o.w.Write(p); err != nil {
		o.err = err
	}
	return len(p), nil
}

func (o *outFile) open() bool {
	f, err := os.Create(o.name)
	if err != nil {
		o.err = err
		return false
	}
	o.f, o.w = f, bufio.NewWriterSize(f, 64<<10)
	if _, err := o.w.Write(o.held); err != nil {
		o.err = err
	}
	o.held = nil
	return o.err == nil
}

// Truncate starts the file over (a reboot of the run's machine); a file
// that cannot be truncated (a device, a pipe) just goes on.
func (o *outFile) Truncate(int64) error {
	if o.f == nil {
		o.held = o.held[:0]
		return nil
	}
	if o.err == nil {
		if err := o.w.Flush(); err != nil {
			o.err = err
		}
	}
	o.f.Truncate(0)
	return nil
}

func (o *outFile) Seek(off int64, whence int) (int64, error) {
	if o.f == nil {
		return 0, nil
	}
	o.f.Seek(off, whence)
	return 0, nil
}

// Close writes what is held and closes the file; its error is the first
// one the file met.
func (o *outFile) Close() error {
	if o.f == nil && o.err == nil {
		o.open()
	}
	if o.f != nil {
		if o.err == nil {
			o.err = o.w.Flush()
		}
		if err := o.f.Close(); err != nil && o.err == nil {
			o.err = err
		}
		o.f = nil
	}
	return o.err
}

// Discard drops what is held without touching the file (if it was not
// opened yet).
func (o *outFile) Discard() {
	if o.f != nil {
		o.Close()
	}
	o.held = nil
}

// checkWritable checks, before a run, that an output file can be written,
// without truncating or leaving behind a file that was not there.
func checkWritable(flagName, name string) error {
	f, err := os.OpenFile(name, os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		if f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666); err == nil {
			f.Close()
			return os.Remove(name)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", flagName, err)
	}
	return f.Close()
}
