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
	require.NoError(t, l.Put(ctx, testKey, strings.NewReader("hello"), 5, "text/plain"))
	require.NoError(t, l.Put(ctx, testKey+"_10x10", bytes.NewReader([]byte("t")), 1, "image/png"))
	rc, err := l.Get(ctx, testKey)
	require.NoError(t, err)
	b, _ := io.ReadAll(rc)
	_ = rc.Close()
	require.Equal(t, "hello", string(b))
	require.Error(t, l.Put(ctx, testKey, strings.NewReader("short"), 9, "text/plain"), "a short body is not stored")
	rc, err = l.Get(ctx, testKey)
	require.NoError(t, err)
	b, _ = io.ReadAll(rc)
	_ = rc.Close()
	require.Equal(t, "hello", string(b), "the failed put left the object as it was")
	entries, _ := os.ReadDir(filepath.Join(l.Dir(), "products", "image"))
	require.Len(t, entries, 2, "no temporary file left")

	require.NoError(t, l.Delete(ctx, []string{testKey, testKey + "_10x10", testKey[:len(testKey)-1] + "9"}))
	_, err = l.Get(ctx, testKey)
	require.ErrorIs(t, err, ErrNotFound)
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
	require.Error(t, l.Put(context.Background(), "../x", strings.NewReader(""), 0, ""))
	_, err = l.Get(context.Background(), "../x")
	require.Error(t, err)
}
