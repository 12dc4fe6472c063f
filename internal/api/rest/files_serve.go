package rest

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"time"

	"github.com/kiln-dev/kiln/internal/integrations/storage"
	"github.com/kiln-dev/kiln/internal/service"
)

// redirectTTL is how long the S3 URL a redirect points at stays valid: the client follows
// it at once.
const redirectTTL = 5 * time.Minute

func (h *Handler) redirectToStore(w http.ResponseWriter, r *http.Request, p storage.Presigner, key string) {
	u, err := p.PresignGet(r.Context(), key, redirectTTL, "", "") // the type and disposition stored with it
	if err != nil {
		WriteError(w, r, h.log, fmt.Errorf("presign %s: %w", key, err))
		return
	}
	w.Header().Set("Cache-Control", "private, max-age=60")
	http.Redirect(w, r, u, http.StatusFound)
}

// opener is a store Kiln serves from itself (storage.Local).
type opener interface {
	Open(key string) (*os.File, error)
	// Filename is the download name stored with the object ("" for none).
	Filename(key string) string
}

var _ opener = (*storage.Local)(nil)

// sendLocal streams a file from the local store, with ranges and conditional requests. It
// is named name (a signed URL's), else the name stored with it — as S3 serves it — else
// after its key, as a browser names an S3 object stored without one.
func (h *Handler) sendLocal(w http.ResponseWriter, r *http.Request, key, name string, public bool) {
	o, ok := h.files.Store().(opener)
	if !ok {
		WriteError(w, r, h.log, errors.New("the file store neither serves files nor signs URLs"))
		return
	}
	f, err := o.Open(key)
	if errors.Is(err, storage.ErrNotFound) {
		WriteError(w, r, h.log, service.Errorf(service.CodeNotFound, "no such file"))
		return
	}
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	if name == "" {
		name = cmp.Or(o.Filename(key), path.Base(key))
	}
	typ := sniffFile(f)
	hd := w.Header()
	hd.Set("Content-Type", typ)
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox; frame-ancestors 'none'")
	hd.Set("Content-Disposition", storage.ContentDisposition(typ, name))
	if public {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable") // a new upload is a new key
	} else {
		hd.Set("Cache-Control", "private, max-age=60")
	}
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// sniffFile is the type of the file's content, as its upload was checked; the file is left
// at its start.
func sniffFile(f *os.File) string {
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	_, _ = f.Seek(0, io.SeekStart)
	return http.DetectContentType(head[:n])
}
