package childproc

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// GoBinary is a Go program built once, on first use, into a directory of its
// own: for tests that run the product (or a tool) as a child process. Its
// zero value with Name, Dir and Args set is ready; Remove deletes what it
// built (call it from TestMain).
type GoBinary struct {
	// Name is the binary's file name.
	Name string
	// Dir is where `go build` runs: the module's root, relative to the
	// test's package.
	Dir string
	// Args are `go build`'s arguments after "-o PATH": flags, then the
	// package.
	Args []string

	once sync.Once
	path string
	err  error
}

// Path builds the binary the first time it is called and returns its path,
// or the build's error with the end of its output.
func (b *GoBinary) Path() (string, error) {
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "quicpush-"+b.Name)
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, b.Name)
		logPath := filepath.Join(dir, "build.log")
		p, err := Start("go", append([]string{"build", "-o", b.path}, b.Args...), b.Dir, logPath)
		if err == nil {
			err = p.Err()
		}
		if err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", b.Name, err, TailFile(logPath, 40))
		}
	})
	return b.path, b.err
}

// Remove deletes the directory the binary was built in, if it was.
func (b *GoBinary) Remove() {
	if b.path != "" {
		_ = os.RemoveAll(filepath.Dir(b.path))
	}
}
