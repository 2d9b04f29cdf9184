package machines

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
)

// Default is the name of the machine used when none is given.
const Default = "x86-4"

// builtinFS holds the built-in machines, one file per machine, named after it.
//
//go:embed builtin/*.toml
var builtinFS embed.FS

// Info names a built-in machine.
type Info struct {
	Name        string
	Description string
}

// builtins parses every built-in machine once. The files are part of the
// program, and a test parses them all, so an error here is a bug.
var builtins = sync.OnceValues(func() (map[string]*Spec, error) {
	entries, err := builtinFS.ReadDir("builtin")
	if err != nil {
		return nil, err
	}
	specs := make(map[string]*Spec, len(entries))
	for _, e := range entries {
		file := path.Join("builtin", e.Name())
		data, err := builtinFS.ReadFile(file)
		if err != nil {
			return nil, err
		}
		s, err := Parse(file, data)
		if err != nil {
			return nil, err
		}
		if name := strings.TrimSuffix(e.Name(), ".toml"); s.Name != name {
			return nil, fmt.Errorf("%s: name %q does not match the file name", file, s.Name)
		}
		specs[s.Name] = s
	}
	return specs, nil
})

// builtinSpecs returns the parsed built-ins, panicking if one is broken (a
// bug caught by the package's tests).
func builtinSpecs() map[string]*Spec {
	specs, err := builtins()
	if err != nil {
		panic("machines: bad built-in machine: " + err.Error())
	}
	return specs
}

// Builtins lists the built-in machines, sorted by name.
func Builtins() []Info {
	specs := builtinSpecs()
	infos := make([]Info, 0, len(specs))
	for _, s := range specs {
		infos = append(infos, Info{Name: s.Name, Description: s.Description})
	}
	slices.SortFunc(infos, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return infos
}

// builtinNames returns "arm64-256, arm64-8, ..." for messages.
func builtinNames() string {
	var names []string
	for _, i := range Builtins() {
		names = append(names, i.Name)
	}
	return strings.Join(names, ", ")
}

// Builtin returns the built-in machine called name. The Spec is the
// caller's own: changing it changes no other Spec.
func Builtin(name string) (*Spec, error) {
	s, ok := builtinSpecs()[name]
	if !ok {
		return nil, fmt.Errorf("unknown built-in machine %q (built-in machines: %s)", name, builtinNames())
	}
	return s.Clone(), nil
}

// Load returns the machine nameOrPath names: a built-in machine if there is
// one by that name, else the TOML file at that path (so ./x86-4 loads a file
// that shares a built-in's name). Errors reading the file read `loading
// machine "x.toml": ...` and wrap the underlying error; errors in its content
// are *Error.
func Load(nameOrPath string) (*Spec, error) {
	if _, ok := builtinSpecs()[nameOrPath]; ok {
		return Builtin(nameOrPath)
	}
	data, err := readFile(nameOrPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !strings.ContainsRune(nameOrPath, os.PathSeparator) &&
			!strings.Contains(nameOrPath, "/") && !strings.HasSuffix(nameOrPath, ".toml") {
			return nil, &notFoundError{
				msg: fmt.Sprintf("loading machine %q: no built-in machine or file by that name (built-in machines: %s)", nameOrPath, builtinNames()),
				err: err,
			}
		}
		return nil, fmt.Errorf("loading machine %q: %w", nameOrPath, err)
	}
	return Parse(nameOrPath, data)
}

// readFile reads a machine file, refusing one larger than MaxFileSize
// without reading all of it (the path might be /dev/zero).
func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, MaxFileSize)
	}
	return data, nil
}

// notFoundError reports a machine that is neither built in nor a file. It
// wraps the file system's error (fs.ErrNotExist) without repeating its text.
type notFoundError struct {
	msg string
	err error
}

func (e *notFoundError) Error() string { return e.msg }
func (e *notFoundError) Unwrap() error { return e.err }
