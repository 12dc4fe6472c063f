package storage

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// S3 keeps the download name as the object's Content-Disposition, encoded as Kiln serves
// it from local storage, and a presigned GET names the file the same way.
func TestS3KeepsTheDownloadName(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string]string{} // path → Content-Disposition of the PUT
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got[r.URL.Path] = r.Header.Get("Content-Disposition")
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	s, err := NewS3(S3Config{Bucket: "b", Region: "us-east-1", Endpoint: srv.URL, PathStyle: true, AccessKey: "a", SecretKey: "s"})
	require.NoError(t, err)
	ctx := context.Background()
	name := "Rechnung für \"Müller\".pdf"
	require.NoError(t, s.Put(ctx, testKey, strings.NewReader("%PDF"), 4, PutOpts{ContentType: "application/pdf", Filename: name}))
	require.NoError(t, s.Put(ctx, testKey+"_10x10", strings.NewReader("t"), 1, PutOpts{ContentType: "image/png"}))
	want := ContentDisposition("application/pdf", name)
	require.Equal(t, map[string]string{"/b/" + testKey: want, "/b/" + testKey + "_10x10": "inline"}, got)

	u, err := s.PresignGet(ctx, testKey, time.Minute, name, "application/pdf")
	require.NoError(t, err)
	pu, err := url.Parse(u)
	require.NoError(t, err)
	require.Equal(t, want, pu.Query().Get("response-content-disposition"))
}
