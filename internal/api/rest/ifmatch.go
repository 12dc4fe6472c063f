package rest

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/internal/service"
)

// ifMatch reads If-Match: * (any version), or a list of ETags this API issued, of which the
// record must be at one (RFC 9110 §13.1.1; several header lines make one list). If-Match uses
// the strong comparison: a weak ETag (W/"…") never matches, nor does a tag this API could
// not have issued.
func ifMatch(r *http.Request) (service.WriteOpts, error) {
	lines := r.Header.Values("If-Match")
	m := strings.TrimSpace(strings.Join(lines, ","))
	if m == "" || m == "*" {
		return service.WriteOpts{}, nil
	}
	tags := strings.Split(m, ",") // this API's tags hold no comma
	if len(tags) > maxIfMatchTags {
		return service.WriteOpts{}, service.Errorf(service.CodeMalformed, "If-Match lists at most %d ETags", maxIfMatchTags)
	}
	var first, last *service.Match
	for _, tag := range tags {
		mt := matchOf(strings.TrimSpace(tag))
		if mt == nil {
			continue
		}
		if first == nil {
			first = mt
		} else {
			last.Or = mt
		}
		last = mt
	}
	if first == nil {
		return service.WriteOpts{}, service.Errorf(service.CodePrecondition, "If-Match does not match the record (it takes strong ETags, as the ETag header gave them)")
	}
	return service.WriteOpts{IfMatch: first}, nil
}

// maxIfMatchTags bounds an If-Match list: a record has one current tag, and a client that
// lists more than a few is not naming versions it read.
const maxIfMatchTags = 32

// matchOf is the precondition a strong ETag of a record names; nil for a weak tag or one this
// API could not have issued. A record's ETag is "<version>[-<state>][.<hash>]" (etag.go): the
// version and the relation state are what the write is conditional on; the hash after a dot
// tells representations of one stored record apart (fields selected, expanded records).
func matchOf(tag string) *service.Match {
	if len(tag) < 2 || !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) {
		return nil
	}
	stored, _, _ := strings.Cut(tag[1:len(tag)-1], ".")
	version, state, _ := strings.Cut(stored, "-")
	v, err := strconv.ParseInt(version, 10, 64)
	if err != nil || v <= 0 {
		return nil
	}
	return &service.Match{Version: v, State: state}
}
