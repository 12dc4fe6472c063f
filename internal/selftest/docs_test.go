package selftest

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// The test-file examples in docs/testing.md parse: one written as a flow mapping with a
// {placeholder} inside it did not (a helper copied it), and nothing read the docs' examples.
// A block without cases gets one, as a file needs them.
func TestDocsExamplesParse(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docs/testing.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range yamlBlock.FindAllStringSubmatch(string(raw), -1) {
		src := m[1]
		if !strings.HasPrefix(src, "endpoint:") {
			continue
		}
		if !strings.Contains(src, "test_cases:") {
			src += "test_cases:\n  one:\n    expected:\n      status: 200\n"
		}
		if _, err := ParseFile("docs/testing.md", []byte(src)); err != nil {
			t.Errorf("an example of docs/testing.md does not parse: %v\n%s", err, m[1])
		}
		n++
	}
	if n < 2 {
		t.Fatalf("found %d examples of a test file in docs/testing.md", n)
	}
}
