package storage

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const testKey = "products/image/0192f0a0-0000-7000-8000-000000000001"

func TestLocalPutGetDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, err := NewLocal(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, l.Put(ctx, testKey, strings.NewReader("hello"), 5, PutOpts{ContentType: "text/plain", Filename: "hello.txt"}))
	require.NoError(t, l.Put(ctx, testKey+"_10x10", bytes.NewReader([]byte("t")), 1, PutOpts{ContentType: "image/png"}))
	rc, err := l.Get(ctx, testKey)
	require.NoError(t, err)
	b, _ := io.ReadAll(rc)
	_ = rc.Close()
	require.Equal(t, "hello", string(b))
	require.Error(t, l.Put(ctx, testKey, strings.NewReader("short"), 9, PutOpts{ContentType: "text/plain"}), "a short body is not stored")
	rc, err = l.Get(ctx, testKey)
	require.NoError(t, err)
	b, _ = io.ReadAll(rc)
	_ = rc.Close()
	require.Equal(t, "hello", string(b), "the failed put left the object as it was")
	require.Equal(t, "hello.txt", l.Filename(testKey), "and its name")
	require.Empty(t, l.Filename(testKey+"_10x10"), "stored without a name")
	require.Empty(t, l.Filename("../x"))
	entries, _ := os.ReadDir(filepath.Join(l.Dir(), "products", "image"))
	require.Len(t, entries, 3, "the objects and one name; no temporary file left")

	require.NoError(t, l.Delete(ctx, []string{testKey, testKey + "_10x10", testKey[:len(testKey)-1] + "9"}))
	_, err = l.Get(ctx, testKey)
	require.ErrorIs(t, err, ErrNotFound)
	entries, _ = os.ReadDir(filepath.Join(l.Dir(), "products", "image"))
	require.Empty(t, entries, "names go with their objects")
}

// A name is replaced, or removed, with its object.
func TestLocalPutReplacesName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, err := NewLocal(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, l.Put(ctx, testKey, strings.NewReader("a"), 1, PutOpts{Filename: "a.txt"}))
	require.NoError(t, l.Put(ctx, testKey, strings.NewReader("b"), 1, PutOpts{Filename: "Bericht über b.txt"}))
	require.Equal(t, "Bericht über b.txt", l.Filename(testKey))
	require.NoError(t, l.Put(ctx, testKey, strings.NewReader("c"), 1, PutOpts{}))
	require.Empty(t, l.Filename(testKey))
}

func TestKeysAreOnlyKilnsOwn(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"../etc/passwd", "products/image/../../x", "/abs/key", "products/image/not-a-uuid",
		"Products/image/0192f0a0-0000-7000-8000-000000000001", testKey + "_big", testKey + "/x"} {
		require.False(t, ValidKey(bad), bad)
	}
	require.True(t, ValidKey(testKey+"_400x400"))
	l, err := NewLocal(t.TempDir())
	require.NoError(t, err)
	require.Error(t, l.Put(context.Background(), "../x", strings.NewReader(""), 0, PutOpts{}))
	_, err = l.Get(context.Background(), "../x")
	require.Error(t, err)
}

// A Put whose name cannot be written fails whole: the object it wrote goes too, since the
// caller (files.put) discards only the keys whose Put succeeded.
func TestLocalPutThatFailsLeavesNoObject(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, err := NewLocal(t.TempDir())
	require.NoError(t, err)
	blocker := filepath.Join(l.Dir(), filepath.FromSlash(testKey)+nameSuffix)
	require.NoError(t, os.MkdirAll(filepath.Join(blocker, "x"), 0o750)) // the name cannot be written or removed
	for _, opts := range []PutOpts{{Filename: "a.txt"}, {}} {
		require.Error(t, l.Put(ctx, testKey, strings.NewReader("a"), 1, opts))
		_, err = l.Open(testKey)
		require.ErrorIs(t, err, ErrNotFound, "no orphaned object (%+v)", opts)
	}
}
