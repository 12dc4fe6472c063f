package query

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// maxCursorLen bounds the cursor text a client may send.
const maxCursorLen = 4096

// ErrBadCursor means a cursor is not one Kiln issued for this sort.
var ErrBadCursor = errors.New("invalid cursor")

type cursorBody struct {
	Sort   string            `json:"s"`
	Values []json.RawMessage `json:"v"`
}

// EncodeCursor packs the keyset values of the last row (already JSON-encoded, in sort order
// followed by id) together with the sort it belongs to.
func EncodeCursor(sort string, values []json.RawMessage) string {
	b, _ := json.Marshal(cursorBody{Sort: sort, Values: values})
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor unpacks a cursor, checking it was made for sort and holds want values.
func DecodeCursor(s, sort string, want int) ([]json.RawMessage, error) {
	if len(s) > maxCursorLen {
		return nil, fmt.Errorf("%w: too long", ErrBadCursor)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url", ErrBadCursor)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var body cursorBody
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("%w: not a Kiln cursor", ErrBadCursor)
	}
	if body.Sort != sort {
		return nil, fmt.Errorf("%w: it was made for sort %q, not %q", ErrBadCursor, body.Sort, sort)
	}
	if len(body.Values) != want {
		return nil, fmt.Errorf("%w: wrong number of values", ErrBadCursor)
	}
	return body.Values, nil
}
