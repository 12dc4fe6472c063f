package files

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"time"
)

// Signer signs and checks the URLs of protected files served by Kiln (local storage):
// HMAC-SHA256 over the key and the expiry, with a key derived from the auth secret.
type Signer struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// NewSigner returns a signer whose URLs stay valid between ttl and 2·ttl: expiries are
// rounded up to a multiple of ttl, so a record's answer (and its ETag) stays the same
// for a while instead of changing every second.
func NewSigner(key []byte, ttl time.Duration, now func() time.Time) *Signer {
	if now == nil {
		now = time.Now
	}
	return &Signer{key: key, ttl: ttl, now: now}
}

// Expiry is the expiry a URL signed now gets.
func (s *Signer) Expiry() time.Time {
	step := int64(s.ttl / time.Second)
	if step < 1 {
		step = 1
	}
	return time.Unix((s.now().Unix()/step+2)*step, 0)
}

// mac signs key until exp under the download name it is served with: the name is part of the
// grant, so a holder of the URL cannot choose the file name (evil.html) the answer gives.
func (s *Signer) mac(key string, exp int64, name string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("kiln-file\n" + key + "\n" + strconv.FormatInt(exp, 10) + "\n" + name))
	return hex.EncodeToString(m.Sum(nil))
}

// Query is the query string that grants reading key until exp, served as name ("" for none).
func (s *Signer) Query(key string, exp time.Time, name string) string {
	v := url.Values{"expires": {strconv.FormatInt(exp.Unix(), 10)}, "signature": {s.mac(key, exp.Unix(), name)}}
	if name != "" {
		v.Set("name", name)
	}
	return v.Encode()
}

// Problem with a signed URL.
const (
	SignatureMissing = "missing"
	SignatureInvalid = "invalid"
	SignatureExpired = "expired"
)

// Check says what is wrong with the query's grant for key, or "" when it holds.
func (s *Signer) Check(key string, q url.Values) string {
	expText, sig := q.Get("expires"), q.Get("signature")
	if expText == "" || sig == "" {
		return SignatureMissing
	}
	exp, err := strconv.ParseInt(expText, 10, 64)
	if err != nil || !hmac.Equal([]byte(sig), []byte(s.mac(key, exp, q.Get("name")))) {
		return SignatureInvalid
	}
	if s.now().Unix() >= exp {
		return SignatureExpired
	}
	return ""
}
