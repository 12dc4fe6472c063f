package jsonschema

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrorsAreCapped(t *testing.T) {
	t.Parallel()
	v := newValidator(t, Config{MaxErrors: 3})
	err := v.Validate(decodeJSON(t, `{"items": {"type": "string"}}`), "#/x", decodeJSON(t, `[1, 2, 3, 4, 5]`))
	var verr *Error
	require.ErrorAs(t, err, &verr)
	require.Len(t, verr.Problems, 3)
	require.Equal(t, 2, verr.More)
	require.True(t, strings.HasSuffix(err.Error(), "; and 2 more"), err.Error())
	_, err = New(Config{MaxErrors: -1}, nil)
	require.Error(t, err)
}
