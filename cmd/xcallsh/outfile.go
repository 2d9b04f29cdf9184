package main

import (
	"errors"
	"fmt"
	"os"
)

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
