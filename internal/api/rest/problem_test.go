package rest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-dev/kiln/internal/service"
)

// A request whose client left is answered 499 (its failure is the client's leaving, not the
// server's) and logs no error; the same failure for a client still there is a 500 and an
// error line, and a deadline that passed is still a 503.
func TestAClientThatLeftIsNoServerError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		leave     bool
		err       error
		status    int
		errorLogs bool
	}{
		{name: "left", leave: true, err: context.Canceled, status: StatusClientClosed},
		{name: "left, any failure", leave: true, err: errors.New("sql: Rows are closed"), status: StatusClientClosed},
		{name: "there", err: context.Canceled, status: http.StatusInternalServerError, errorLogs: true},
		{name: "deadline", err: context.DeadlineExceeded, status: http.StatusServiceUnavailable},
		{name: "left, a client error", leave: true, err: service.Errorf(service.CodeNotFound, "no such record"), status: http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.leave {
				cancel()
			}
			r := httptest.NewRequest("GET", "/api/products/x", nil).WithContext(WithRequestID(ctx, "req-1"))
			w := httptest.NewRecorder()
			WriteError(w, r, log, tc.err)
			require.Equal(t, tc.status, w.Code)
			require.Equal(t, tc.errorLogs, bytes.Contains(logs.Bytes(), []byte(`"level":"ERROR"`)), logs.String())
			require.NotContains(t, w.Body.String(), "Rows are closed", "no internal text reaches the client")
			if tc.status == StatusClientClosed {
				require.Contains(t, logs.String(), "client closed the request")
			}
		})
	}
}
