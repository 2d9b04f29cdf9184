// Package files reads the files xcallsh is given (scripts, reports, sourced
// shell files), refusing one too large, and writes the files it makes.
package files

import (
	"fmt"
	"io"
	"os"
)

// MaxInputSize bounds a script, report or sourced file read from disk: the
// largest built-in scenario is some kilobytes and a report some hundreds,
// so 16 MiB is far beyond any real one, yet reading it costs a fraction of
// a second (and /dev/zero or a huge file is refused, not read forever).
const MaxInputSize = 16 << 20

// Read reads a script or report file, refusing one larger than
// MaxInputSize.
func Read(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxInputSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxInputSize {
		return nil, fmt.Errorf("%s is larger than the limit of %d MiB", name, MaxInputSize>>20)
	}
	return b, nil
}

// Write creates name and writes it with fn.
func Write(name string, fn func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
