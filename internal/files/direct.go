package files

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/integrations/storage"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
)

// Direct uploads (S3): the client asks for a presigned PUT URL, sends the file straight to
// the bucket's staging area, then completes the upload with the token it was given: Kiln
// checks the staged object and copies it to the file's key (with the type it sniffed), so
// what a record points at is never written by a client. The token is signed
// and names the record, the field, the new file's id, name and size, and an expiry: nothing
// is stored until completion, and a token fits only the record and field it was made for.

// Ticket is what a client needs to upload directly.
type Ticket struct {
	UploadURL string            `json:"upload_url"`
	Method    string            `json:"method"`
	Headers   map[string]string `json:"headers"`
	Token     string            `json:"token"`
	ExpiresAt time.Time         `json:"expires_at"`
}

// uploadToken is a direct upload's signed claim.
type uploadToken struct {
	Resource string `json:"r"`
	Field    string `json:"f"`
	Record   string `json:"rec"`
	ID       string `json:"id"`
	Name     string `json:"n"`
	Size     int64  `json:"s"`
	Expires  int64  `json:"e"`
}

// StartDirect issues a ticket for uploading size bytes named name into the record's
// field; the caller has checked the principal may update the record.
func (x *Files) StartDirect(ctx context.Context, res, record string, f *spec.Field, name string, size int64) (*Ticket, error) {
	p, ok := x.store.(storage.Presigner)
	if !ok {
		return nil, &service.Error{Code: "direct_upload_unavailable", Class: service.CodeConflict,
			Message: "direct uploads need S3 storage; upload through POST …/files/" + f.Name}
	}
	switch {
	case size <= 0:
		return nil, fieldError("size", "min", "must be the file's size in bytes, at least 1")
	case size > f.File.MaxSize:
		return nil, &service.Error{Code: service.CodePayloadTooLarge, Message: fmt.Sprintf("%s takes files up to %d bytes", f.Name, f.File.MaxSize)}
	}
	exp := time.Now().Add(x.ttl).Truncate(time.Second)
	t := uploadToken{Resource: res, Field: f.Name, Record: record, ID: x.newID(), Name: CleanName(name), Size: size, Expires: exp.Unix()}
	u, err := p.PresignPut(ctx, storage.StagingPrefix+t.ID, x.ttl, size)
	if err != nil {
		return nil, &service.Error{Code: service.CodeUnavailable, Message: "the upload URL could not be made; try again", Cause: err, RetryAfter: 2}
	}
	return &Ticket{UploadURL: u, Method: "PUT", Headers: map[string]string{"Content-Length": fmt.Sprint(size)},
		Token: x.seal(t), ExpiresAt: exp.UTC()}, nil
}

// CompleteDirect checks the file a ticket's upload put in the staging area — its size, its
// sniffed type — and copies it, with its thumbnails, to its key; the staged object is
// deleted whatever the outcome, so a token completes once.
func (x *Files) CompleteDirect(ctx context.Context, res, record string, f *spec.Field, token string) (File, error) {
	t, err := x.open(token)
	if err != nil || t.Resource != res || t.Field != f.Name || t.Record != record {
		return File{}, fieldError("token", "invalid", "is not an upload token for this record's "+f.Name)
	}
	if time.Now().Unix() >= t.Expires+int64(x.ttl/time.Second) { // the PUT may end as its URL expires
		return File{}, fieldError("token", "expired", "has expired; start the upload again")
	}
	staged := storage.StagingPrefix + t.ID
	body, err := x.store.Get(ctx, staged)
	if errors.Is(err, storage.ErrNotFound) {
		return File{}, fieldError("token", "not_uploaded", "names no upload waiting to be completed (not sent yet, or completed already)")
	}
	if err != nil {
		return File{}, storeFailed(err, "the uploaded file could not be read; try again")
	}
	defer x.Discard(context.WithoutCancel(ctx), []string{staged})
	defer body.Close()
	if old, err := x.store.Get(ctx, Key(res, f.Name, t.ID)); err == nil {
		_ = old.Close()
		return File{}, fieldError("token", "used", "has completed its upload already")
	}
	fl, err := x.ingest(ctx, res, f, File{ID: t.ID, Name: t.Name}, body, true)
	if err != nil {
		return File{}, err
	}
	if fl.Size != t.Size {
		x.Discard(context.WithoutCancel(ctx), fl.Keys(res, f.Name))
		return File{}, fieldError("token", "size_mismatch", fmt.Sprintf("announced %d bytes, %d arrived", t.Size, fl.Size))
	}
	return fl, nil
}

func (x *Files) seal(t uploadToken) string {
	b, _ := json.Marshal(t)
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + base64.RawURLEncoding.EncodeToString(x.tokenMAC(body))
}

func (x *Files) open(token string) (uploadToken, error) {
	var t uploadToken
	body, sig, ok := strings.Cut(token, ".")
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err != nil || !hmac.Equal(mac, x.tokenMAC(body)) {
		return t, errors.New("bad signature")
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return t, err
	}
	return t, json.Unmarshal(raw, &t)
}

func (x *Files) tokenMAC(body string) []byte {
	m := hmac.New(sha256.New, x.signer.key)
	m.Write([]byte("kiln-upload\n" + body))
	return m.Sum(nil)
}
