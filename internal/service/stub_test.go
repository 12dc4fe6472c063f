package service

import (
	"time"

	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

// recordStub is a products record with a price, for cursor tests.
var recordStub = store.Record{ID: "0192f0a0-0000-7000-8000-000000000001", CreatedAt: time.Unix(0, 0).UTC(),
	Values: []any{"n", nil, value.FromUnits(2999, 2), nil, int64(1), true, nil, []string{}}}
