package kiln_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// vault: members keep scanned documents of up to 64 MB, readable only by their owner.
const vault = `roles: [admin, member]
auth:
  account: members
  signup: open
  default_role: member
  admin_roles: [admin]
resources:
  members:
    fields:
      name: string
    access: {list: [admin], view: [admin], create: [admin], update: [admin], delete: [admin]}
  documents:
    fields:
      title: {type: string, required: true}
      owner: {type: relation, to: members, default: auth.id, write: [admin]}
      scans: {type: file, max_size: 64MB, max_files: 3}
    access:
      list: "record.owner == auth.id"
      view: "record.owner == auth.id"
      create: [member, admin]
      update: "record.owner == auth.id"
      delete: "record.owner == auth.id"
`

// patterned yields n bytes that do not compress (a repeated 64 KiB random block) and
// hashes what it gave.
type patterned struct {
	block []byte
	left  int64
	sum   interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func newPatterned(n int64) *patterned {
	block := make([]byte, 64<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range block {
		block[i] = byte(r.Uint32())
	}
	return &patterned{block: block, left: n, sum: sha256.New()}
}

func (p *patterned) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.block[(int64(len(p.block))-p.left%int64(len(p.block)))%int64(len(p.block)):])
	n = int(min(int64(n), p.left))
	p.left -= int64(n)
	p.sum.Write(b[:n])
	return n, nil
}

// heapPeak samples the heap in use until stop is closed and returns its peak.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return out
}

// A 50 MB upload is streamed: multipart, chunked, through the size check and the sniffing
// to the store, with the heap staying flat; the stored file is byte for byte what was sent.
func TestFilesUploadOf50MBIsStreamed(t *testing.T) {
	b := setup(t, "sqlite", vault)
	owner := bearer(b.token("member"))
	res := b.do("POST", "/api/documents", map[string]any{"title": "Deed"}, owner...)
	require.Equal(t, http.StatusCreated, res.status, string(res.raw))
	doc := res.body["id"].(string)

	const size = 50 << 20
	src := newPatterned(size)
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", "deed.bin")
		if err == nil {
			_, err = io.Copy(part, src)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest("POST", b.srv.URL+"/api/documents/"+doc+"/files/scans", pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set(owner[0], owner[1])

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := make(chan struct{})
	peak := heapPeak(stop)
	got, err := http.DefaultClient.Do(req)
	close(stop)
	require.NoError(t, err)
	raw, _ := io.ReadAll(got.Body)
	_ = got.Body.Close()
	require.Equal(t, http.StatusCreated, got.StatusCode, string(raw))
	grew := int64(<-peak) - int64(before.HeapInuse)
	t.Logf("heap in use before %d MiB, peak growth %d KiB for a %d MiB upload", before.HeapInuse>>20, grew>>10, size>>20)
	require.Less(t, grew, int64(8<<20), "the heap must not grow with the file")

	var rec struct {
		Scans []struct {
			ID   string `json:"id"`
			Size int64  `json:"size"`
		} `json:"scans"`
	}
	require.NoError(t, json.Unmarshal(raw, &rec))
	require.Len(t, rec.Scans, 1)
	require.EqualValues(t, size, rec.Scans[0].Size)
	f, err := os.Open(filepath.Join(b.dataDir, "files", "documents", "scans", rec.Scans[0].ID))
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	require.Equal(t, hex.EncodeToString(src.sum.Sum(nil)), hex.EncodeToString(h.Sum(nil)))
	entries, err := os.ReadDir(filepath.Join(b.dataDir, "uploads"))
	require.NoError(t, err)
	require.Empty(t, entries, "no temporary file is left")
}

// A field of several files: concurrent uploads all land (a write that raced another is
// retried on the record's new version), the limit holds, one file is removed by its id,
// and only the owner may upload.
func TestFilesManyPerFieldUnderConcurrentUploads(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, vault)
		owner := bearer(b.token("member"))
		res := b.do("POST", "/api/documents", map[string]any{"title": "Lease"}, owner...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		require.Equal(t, []any{}, res.body["scans"], "a list of files without a file is [], as the OpenAPI document says (it was null)")
		path := "/api/documents/" + res.body["id"].(string) + "/files/scans"
		for _, method := range []string{"POST", "DELETE"} {
			wrong := strings.TrimSuffix(path, "scans") + "title"
			if method == "DELETE" {
				wrong += "/0192f0a0-0000-7000-8000-000000000001"
			}
			res := b.do(method, wrong, nil, owner...)
			require.Equal(t, http.StatusNotFound, res.status, string(res.raw))
			require.Equal(t, `"title" is not a file field of documents (its file fields: scans)`, res.body["detail"], "it said: no such resource or route")
		}
		require.Equal(t, http.StatusNotFound, b.upload(path, "x.pdf", []byte(testPDF), bearer(b.token("member"))...).status,
			"another member does not see the document")

		statuses := make(chan int, 3)
		for i := range 3 {
			go func() {
				statuses <- b.upload(path, "page"+string(rune('1'+i))+".pdf", []byte(testPDF), owner...).status
			}()
		}
		for range 3 {
			require.Equal(t, http.StatusCreated, <-statuses)
		}
		doc := b.do("GET", path[:len(path)-len("/files/scans")], nil, owner...)
		scans := doc.body["scans"].([]any)
		require.Len(t, scans, 3)
		full := b.upload(path, "page4.pdf", []byte(testPDF), owner...)
		require.Equal(t, http.StatusConflict, full.status)
		require.Equal(t, "too_many_files", full.body["error"])

		gone := scans[1].(map[string]any)["id"].(string)
		res = b.do("DELETE", path+"/"+gone, nil, owner...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Len(t, res.body["scans"].([]any), 2)
		require.Equal(t, http.StatusNotFound, b.do("DELETE", path+"/"+gone, nil, owner...).status)
		require.Len(t, storedFiles(t, b.dataDir), 3, "the removed file waits for its deletion job (no worker runs here)")
		for _, f := range res.body["scans"].([]any) {
			res = b.do("DELETE", path+"/"+f.(map[string]any)["id"].(string), nil, owner...)
			require.Equal(t, http.StatusOK, res.status, string(res.raw))
		}
		require.Equal(t, []any{}, res.body["scans"], "the last file removed leaves []")
	})
}

// Concurrent uploads into one single-file field all land, one after the other, as concurrent
// PATCHes do: on PostgreSQL 4 to 8 of 20 answered 412 "If-Match does not match" without an
// If-Match, once the retries on the record's new version ran out (a trial found it). The
// field holds one of the uploads.
func TestFilesConcurrentUploadsIntoOneFieldAllLand(t *testing.T) {
	t.Parallel()
	src := strings.Replace(vault, "      scans: {type: file, max_size: 64MB, max_files: 3}\n",
		"      scans: {type: file, max_size: 64MB, max_files: 3}\n      cover: {type: file, max_size: 1MB}\n", 1)
	require.NotEqual(t, vault, src)
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, src)
		owner := bearer(b.token("member"))
		res := b.do("POST", "/api/documents", map[string]any{"title": "Lease"}, owner...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		doc := "/api/documents/" + res.body["id"].(string)
		const n = 20
		statuses := make(chan int, n)
		for i := range n {
			go func() {
				statuses <- b.upload(doc+"/files/cover", "c"+strconv.Itoa(i)+".pdf", []byte(testPDF), owner...).status
			}()
		}
		for range n {
			require.Equal(t, http.StatusCreated, <-statuses)
		}
		got := b.do("GET", doc, nil, owner...)
		require.Equal(t, http.StatusOK, got.status, string(got.raw))
		require.NotNil(t, got.body["cover"], string(got.raw))
		require.True(t, strings.HasPrefix(got.header.Get("ETag"), `"`+strconv.Itoa(1+n)+`-`), "each upload a version of its own: %s", got.header.Get("ETag"))
	})
}

// A soft-deleted record keeps its files (it may be restored); purging it deletes them.
func TestFilesOfSoftDeletedRecordsGoWhenPurged(t *testing.T) {
	t.Parallel()
	soft := strings.Replace(vault, "      scans: {type: file, max_size: 64MB, max_files: 3}\n",
		"      scans: {type: file, max_size: 64MB, max_files: 3}\n    soft_delete: true\n    retention: 24h\n", 1)
	require.NotEqual(t, vault, soft)
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, soft)
		b.runJobs()
		owner := bearer(b.token("member"))
		res := b.do("POST", "/api/documents", map[string]any{"title": "Will"}, owner...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		id := res.body["id"].(string)
		require.Equal(t, http.StatusCreated, b.upload("/api/documents/"+id+"/files/scans", "will.pdf", []byte(testPDF), owner...).status)
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/documents/"+id, nil, owner...).status)
		time.Sleep(300 * time.Millisecond)
		require.Len(t, storedFiles(t, b.dataDir), 1, "kept while the record may be restored")
		n, err := b.app.Service.Purge(context.Background(), time.Now().Add(25*time.Hour), 100)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		waitFor(t, func() bool { return len(storedFiles(t, b.dataDir)) == 0 })
	})
}
