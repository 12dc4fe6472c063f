package selftest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrNoTestFiles means the paths FindFiles was given hold no test file.
var ErrNoTestFiles = errors.New("no test files (*.yaml) found")

// FindFiles expands paths into test files: a file as given, a folder as every *.yaml and
// *.yml below it. The result is sorted; finding none is an error.
func FindFiles(paths []string) ([]string, error) {
	var out []string
	for _, a := range paths {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("test files: %w", err)
		}
		if !fi.IsDir() {
			out = append(out, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				out = append(out, p)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, ErrNoTestFiles
	}
	return out, nil
}
