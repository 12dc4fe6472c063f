package kiln_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// library starts the second example, a lending library.
func library(t *testing.T, dialect string) *testBundle {
	t.Helper()
	src, err := os.ReadFile("examples/library/kiln.yaml")
	require.NoError(t, err)
	return setup(t, dialect, string(src))
}

var barcodes atomic.Int64

// copies creates a book and n copies of it (as a librarian) and returns the copies' ids.
func (b *testBundle) copies(n int) []string {
	b.t.Helper()
	book := b.create("books", map[string]any{"title": "Dune"})
	out := make([]string, n)
	for i := range out {
		out[i] = b.create("copies", map[string]any{"book": book, "barcode": fmt.Sprintf("C%d", barcodes.Add(1))})
	}
	return out
}

// Twenty loans at once for one member: exactly five are made (the limit), on both dialects.
func TestLibraryLoanLimitHoldsUnderConcurrency(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := library(t, dialect)
		copies := b.copies(20)
		tok := bearer(b.token("member"))
		counts := statusCounts(len(copies), func(i int) int {
			return b.do("POST", "/api/loans", map[string]any{"copy": copies[i]}, tok...).status
		})
		require.Equal(t, map[int]int{http.StatusCreated: 5, http.StatusConflict: 15}, counts)
		require.EqualValues(t, 5, b.count("loans"))
	})
}

// Twenty members borrowing the same copy at once: it is lent once.
func TestLibraryCopyIsNotLentTwice(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := library(t, dialect)
		c := b.copies(1)[0]
		tokens := make([][]string, 20)
		for i := range tokens {
			tokens[i] = bearer(b.token("member"))
		}
		counts := statusCounts(len(tokens), func(i int) int {
			return b.do("POST", "/api/loans", map[string]any{"copy": c}, tokens[i]...).status
		})
		require.Equal(t, map[int]int{http.StatusCreated: 1, http.StatusConflict: 19}, counts)
	})
}

// A loan is due 14 days later; returning it is one step that, when late, charges a fine
// (0.50 per started day); a member returns their own loans only.
func TestLibraryReturnChargesALateFine(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := library(t, dialect)
		cs := b.copies(2)
		ann, bob := b.account("member"), bearer(b.token("member"))
		annTok := bearer(b.tokenFor(ann))
		onTime := b.do("POST", "/api/loans", map[string]any{"copy": cs[0]}, annTok...)
		require.Equal(t, http.StatusCreated, onTime.status, string(onTime.raw))
		loaned, err := time.Parse(time.RFC3339Nano, onTime.body["loaned_at"].(string))
		require.NoError(t, err)
		due, err := time.Parse(time.RFC3339Nano, onTime.body["due_at"].(string))
		require.NoError(t, err)
		require.Equal(t, 14*24*time.Hour, due.Sub(loaned))
		id := onTime.body["id"].(string)
		require.Equal(t, http.StatusNotFound, b.do("POST", "/api/loans/"+id+"/return", nil, bob...).status, "someone else's loan")
		back := b.do("POST", "/api/loans/"+id+"/return", nil, annTok...)
		require.Equal(t, http.StatusOK, back.status, string(back.raw))
		require.Equal(t, "returned", back.body["status"])
		require.EqualValues(t, 0, b.count("fines"), "on time: no fine")

		late := b.create("loans", map[string]any{"copy": cs[1], "member": ann,
			"loaned_at": time.Now().Add(-20 * 24 * time.Hour).UTC().Format(time.RFC3339)})
		res := b.do("POST", "/api/loans/"+late+"/return", nil, annTok...)
		require.Equal(t, http.StatusOK, res.status, string(res.raw))
		fines := b.do("GET", "/api/fines?filter="+urlEncode(`loan == "`+late+`"`), nil)
		require.Len(t, fines.body["items"], 1)
		require.Equal(t, json.Number("3.5"), fines.body["items"].([]any)[0].(map[string]any)["amount"], "6 days late and a started one: 7 × 0.50")

		early := b.do("PATCH", "/api/loans/"+late, map[string]any{"returned_at": "2000-01-01T00:00:00Z"})
		require.Equal(t, http.StatusBadRequest, early.status)
		require.Equal(t, map[string]string{"returned_at": "before_loan"}, fieldCodes(early.body))
	})
}

// A book's cover: a librarian uploads it, anyone reads its thumbnail; a member may not upload.
func TestLibraryBookCover(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := library(t, dialect)
		book := b.create("books", map[string]any{"title": "Solaris"})
		path := "/api/books/" + book + "/files/cover"
		require.Equal(t, http.StatusForbidden, b.upload(path, "c.png", testPNG(t, 60, 90), bearer(b.token("member"))...).status)
		res := b.upload(path, "cover.png", testPNG(t, 600, 900), bearer(b.token("librarian"))...)
		require.Equal(t, http.StatusCreated, res.status, string(res.raw))
		got, raw := b.fetch(res.body["cover"].(map[string]any)["thumbnails"].(map[string]any)["300x450"].(string))
		require.Equal(t, http.StatusOK, got.StatusCode)
		require.NotEmpty(t, raw)
	})
}
