package kiln_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/jobs"
)

// testPNG is a w×h gradient, encoded as PNG.
func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 120, 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

const testPDF = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

// upload posts content as the part "file" of a multipart body.
func (b *testBundle) upload(path, name string, content []byte, headers ...string) response {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("file", name)
	require.NoError(b.t, err)
	_, err = part.Write(content)
	require.NoError(b.t, err)
	require.NoError(b.t, mw.Close())
	return b.do("POST", path, body.Bytes(), append([]string{"Content-Type", mw.FormDataContentType()}, headers...)...)
}

// fetch GETs a URL the API gave (a path on the test server, or absolute) without credentials.
func (b *testBundle) fetch(u string) (*http.Response, []byte) {
	b.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = b.srv.URL + u
	}
	res, err := http.Get(u)
	require.NoError(b.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	return res, raw
}

// runJobs works the app's jobs until the test ends.
func (b *testBundle) runJobs() {
	b.t.Helper()
	require.NoError(b.t, b.app.Jobs.Start(context.Background()))
	b.t.Cleanup(func() { require.NoError(b.t, b.app.Jobs.Stop(context.Background())) })
}

func (b *testBundle) waitJobsDone(kind string) {
	b.t.Helper()
	waitFor(b.t, func() bool {
		list, err := b.app.Jobs.List(context.Background(), jobs.ListOpts{Kind: kind, Limit: 100})
		require.NoError(b.t, err)
		for _, j := range list {
			if j.State != jobs.StateCompleted {
				return false
			}
		}
		return len(list) > 0
	})
}

func storedFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(dir, "files")
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".name") { // not the download names kept beside them
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

// A product image goes to local disk with its thumbnails, is served to anyone (the field is
// public), is checked for type and size, and its files go when it is replaced or removed.
func TestFilesProductImageOnLocalDisk(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, "")
		b.runJobs()
		staff := bearer(b.token("staff"))
		product := b.create("products", map[string]any{"name": "Lamp", "price": "20.00"})
		path := "/api/products/" + product + "/files/image"

		res := b.upload(path, "lamp.png", testPNG(t, 1200, 800), staff...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		img := res.body["image"].(map[string]any)
		require.Equal(t, "lamp.png", img["name"])
		require.Equal(t, "image/png", img["type"])
		require.Equal(t, "1200", img["width"].(json.Number).String())
		first := img["id"].(string)
		require.Len(t, storedFiles(t, b.dataDir), 3, "the image and two thumbnails")

		thumb := img["thumbnails"].(map[string]any)["100x100"].(string)
		got, raw := b.fetch(thumb)
		require.Equal(t, http.StatusOK, got.StatusCode)
		require.Equal(t, "image/png", got.Header.Get("Content-Type"))
		require.Equal(t, "inline; filename=lamp_100x100.png", got.Header.Get("Content-Disposition"), "named after its file")
		cfg, err := png.DecodeConfig(bytes.NewReader(raw))
		require.NoError(t, err)
		require.Equal(t, [2]int{100, 66}, [2]int{cfg.Width, cfg.Height}, "fit inside 100x100, aspect kept")
		got, raw = b.fetch(img["url"].(string))
		require.Equal(t, http.StatusOK, got.StatusCode)
		require.Equal(t, testPNG(t, 1200, 800), raw)
		require.Equal(t, "inline; filename=lamp.png", got.Header.Get("Content-Disposition"), "the name it was uploaded with")

		// A public URL carries no signature: a name added to it is nobody's to choose.
		for _, u := range []string{img["url"].(string) + "?name=evil.html", thumb + "?name=", img["url"].(string) + "?expires=1&name=lamp.png"} {
			got, raw = b.fetch(u)
			require.Equal(t, http.StatusBadRequest, got.StatusCode, u)
			var problem map[string]any
			require.NoError(t, json.Unmarshal(raw, &problem), string(raw))
			require.Equal(t, "malformed_request", problem["error"], u)
			require.Equal(t, map[string]string{"name": "unknown_parameter"}, fieldCodes(problem), u)
		}

		// Type sniffed from the content, not the name or header; size bounded; roles apply.
		require.Equal(t, http.StatusUnsupportedMediaType, b.upload(path, "evil.png", []byte("<html><script>alert(1)</script>"), staff...).status)
		big := append(testPNG(t, 10, 10), make([]byte, 5<<20)...)
		require.Equal(t, http.StatusRequestEntityTooLarge, b.upload(path, "big.png", big, staff...).status)
		require.Equal(t, http.StatusForbidden, b.upload(path, "x.png", testPNG(t, 5, 5), bearer(b.token("customer"))...).status)
		require.Equal(t, http.StatusNotFound, b.upload("/api/products/01920000-0000-7000-8000-000000000000/files/image", "x.png", testPNG(t, 5, 5), staff...).status)
		require.Len(t, storedFiles(t, b.dataDir), 3, "refused uploads leave nothing behind")
		for body, want := range map[string]map[string]string{
			`{"name":"x.png","size":10,"mime":"image/png"}`: {"mime": "unknown_field"},
			`{"name":7,"size":"10"}`:                        {"name": "type", "size": "type"},
			`{"name":"x.png","size":1.5}`:                   {"size": "type"},
		} {
			bad := b.do("POST", path+"/uploads", json.RawMessage(body), staff...)
			require.Equal(t, http.StatusBadRequest, bad.status, body)
			require.Equal(t, want, fieldCodes(bad.body), body)
		}
		bad := b.do("POST", path+"/uploads/complete", map[string]any{"token": "t", "id": "x"}, staff...)
		require.Equal(t, http.StatusBadRequest, bad.status)
		require.Equal(t, map[string]string{"id": "unknown_field"}, fieldCodes(bad.body))
		direct := b.do("POST", path+"/uploads", map[string]any{"name": "x.png", "size": 10}, staff...)
		require.Equal(t, http.StatusConflict, direct.status)
		require.Equal(t, "direct_upload_unavailable", direct.body["error"])

		// Replacing: the old image and thumbnails are deleted by a job after the commit.
		// Its name is not ASCII, and tries to add a header: it is served encoded (RFC 6266).
		evil := url.QueryEscape("Schreibtisch \"groß\"\r\nX-Evil: 1.png")
		res = b.do("POST", path+"?name="+evil, testPNG(t, 300, 300), append([]string{"Content-Type", "image/png"}, staff...)...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		second := res.body["image"].(map[string]any)["id"].(string)
		got, _ = b.fetch(res.body["image"].(map[string]any)["url"].(string))
		require.Equal(t, http.StatusOK, got.StatusCode)
		require.Equal(t, `inline; filename="Schreibtisch gro_X-Evil: 1.png"; filename*=UTF-8''Schreibtisch%20gro%C3%9FX-Evil%3A%201.png`,
			got.Header.Get("Content-Disposition"))
		require.Empty(t, got.Header.Get("X-Evil"))
		b.waitJobsDone("kiln.files.delete")
		for _, f := range storedFiles(t, b.dataDir) {
			require.NotContains(t, f, first)
		}
		require.Len(t, storedFiles(t, b.dataDir), 3)

		res = b.do("DELETE", path+"/"+second, nil, staff...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		require.Nil(t, res.body["image"])
		waitFor(t, func() bool { return len(storedFiles(t, b.dataDir)) == 0 })

		// Deleting the record deletes its files.
		require.Equal(t, http.StatusCreated, b.upload(path, "lamp.png", testPNG(t, 50, 50), staff...).status)
		require.Equal(t, http.StatusNoContent, b.do("DELETE", "/api/products/"+product, nil).status)
		waitFor(t, func() bool { return len(storedFiles(t, b.dataDir)) == 0 })
	})
}

// shopWithURLTTL is the shop whose signed file URLs live ttl.
func shopWithURLTTL(t *testing.T, ttl string) string {
	t.Helper()
	src, err := os.ReadFile("examples/shop/kiln.yaml")
	require.NoError(t, err)
	out := strings.Replace(string(src), "url_ttl: 15m", "url_ttl: "+ttl, 1)
	require.NotEqual(t, string(src), out)
	return out
}

// placeOrder has a new customer place an order; it returns the order id and the customer's
// credentials.
func (b *testBundle) placeOrder() (string, []string) {
	b.t.Helper()
	product := b.create("products", map[string]any{"name": "Pen " + b.t.Name(), "price": "2.00", "stock": 10})
	customer := bearer(b.token("customer"))
	res := b.do("POST", "/api/orders", map[string]any{"items": []any{map[string]any{"product": product, "quantity": 1}}}, customer...)
	require.Equal(b.t, http.StatusCreated, res.status, string(res.raw))
	return res.body["id"].(string), customer
}

// An order's invoice is protected: its customer reads it through the signed URL the order
// gives; another customer gets neither the order nor a URL; a tampered or expired URL is
// refused.
func TestFilesProtectedInvoiceThroughSignedURLs(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setup(t, dialect, shopWithURLTTL(t, "1s"))
		order, customer := b.placeOrder()
		path := "/api/orders/" + order + "/files/invoice"
		require.Equal(t, http.StatusForbidden, b.upload(path, "invoice.pdf", []byte(testPDF), customer...).status, "staff upload invoices")
		res := b.upload(path, "invoice.pdf", []byte(testPDF), bearer(b.token("staff"))...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))

		mine := b.do("GET", "/api/orders/"+order, nil, customer...)
		require.Equal(t, http.StatusOK, mine.status)
		u := mine.body["invoice"].(map[string]any)["url"].(string)
		require.Contains(t, u, "signature=")
		got, raw := b.fetch(u)
		require.Equal(t, http.StatusOK, got.StatusCode)
		require.Equal(t, testPDF, string(raw))
		require.Equal(t, "application/pdf", got.Header.Get("Content-Type"))
		require.Contains(t, got.Header.Get("Content-Disposition"), `filename=invoice.pdf`)
		require.Equal(t, "default-src 'none'; sandbox; frame-ancestors 'none'", got.Header.Get("Content-Security-Policy"),
			"a served file, a PDF rendered inline here, is never framed by another site")

		require.Equal(t, http.StatusNotFound, b.do("GET", "/api/orders/"+order, nil, bearer(b.token("customer"))...).status)
		require.Equal(t, http.StatusForbidden, b.do("DELETE", path+"/"+mine.body["invoice"].(map[string]any)["id"].(string), nil, customer...).status)
		unsigned, _, _ := strings.Cut(u, "?")
		renamed := strings.Replace(u, "name=invoice.pdf", "name=evil.html", 1)
		require.NotEqual(t, u, renamed, u)
		for _, bad := range []string{unsigned, strings.Replace(u, "signature=", "signature=0", 1), strings.Replace(u, "expires=", "expires=9", 1), renamed} {
			got, raw := b.fetch(bad)
			require.Equal(t, http.StatusForbidden, got.StatusCode, bad)
			require.Contains(t, string(raw), "signed_url_invalid")
		}
		waitFor(t, func() bool {
			got, raw := b.fetch(u)
			return got.StatusCode == http.StatusForbidden && strings.Contains(string(raw), "signed_url_expired")
		})
		fresh := b.do("GET", "/api/orders/"+order, nil, customer...).body["invoice"].(map[string]any)["url"].(string)
		require.NotEqual(t, u, fresh)
		got, _ = b.fetch(fresh)
		require.Equal(t, http.StatusOK, got.StatusCode, "reading the record again gives a fresh URL")
	})
}

// A file field's write: roles hold for uploads and removals as for any field.
func TestFilesWriteRoles(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("examples/shop/kiln.yaml")
	require.NoError(t, err)
	src := string(raw)
	limited := strings.Replace(src, "invoice: {type: file,", "invoice: {type: file, write: [admin],", 1)
	require.NotEqual(t, src, limited)
	b := setup(t, "sqlite", limited)
	order, _ := b.placeOrder()
	path := "/api/orders/" + order + "/files/invoice"
	require.Equal(t, http.StatusForbidden, b.upload(path, "i.pdf", []byte(testPDF), bearer(b.token("staff"))...).status)
	require.Equal(t, http.StatusCreated, b.upload(path, "i.pdf", []byte(testPDF)).status, "the admin may")
}

// A short jobs.rescue_after starts: Kiln's own job kinds (a webhook delivery, 30 s; a stored
// file's deletion, 2 min) take half of it when that is shorter, as a trigger without a timeout
// does. The shop with rescue_after: 45s passed kiln spec validate, then refused to start
// ("kind kiln.files.delete: timeout 2m0s must be shorter than rescue_after 45s") after its dev
// migration was applied (a trial found it).
func TestShortRescueAfterStarts(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("examples/shop/kiln.yaml")
	require.NoError(t, err)
	out := strings.Replace(string(src), "jobs:\n  queues: {mail: 2}", "jobs:\n  rescue_after: 45s\n  queues: {mail: 2}", 1)
	require.NotEqual(t, string(src), out)
	b := setup(t, "sqlite", out)
	require.Equal(t, http.StatusOK, b.do("GET", "/api/products", nil).status)
}
