package payments

import (
	"fmt"
	"strings"

	"github.com/kiln-dev/kiln/internal/spec"
	"github.com/kiln-dev/kiln/internal/store"
	"github.com/kiln-dev/kiln/internal/value"
)

// valueOf is a record's value of a field of r.
func valueOf(r *spec.Resource, rec *store.Record, field string) any {
	for i, f := range r.Fields {
		if f.Name == field && i < len(rec.Values) {
			return rec.Values[i]
		}
	}
	return nil
}

// stateOf is the record's state (its payable state field).
func stateOf(r *spec.Resource, rec *store.Record) string {
	s, _ := valueOf(r, rec, r.Payable.State).(string)
	return s
}

// amountOf is what the record costs: minor units of its currency (lower case).
func amountOf(r *spec.Resource, rec *store.Record) (int64, string, error) {
	p := r.Payable
	currency := p.Currency
	if p.CurrencyField != "" {
		s, _ := valueOf(r, rec, p.CurrencyField).(string)
		currency = strings.ToLower(s)
	}
	if !currencyRe(currency) {
		return 0, "", fmt.Errorf("%w: the record's currency %q is not an ISO 4217 code", ErrAmount, currency)
	}
	d, ok := valueOf(r, rec, p.Amount).(value.Decimal)
	if !ok {
		return 0, "", fmt.Errorf("%w: the record has no %s", ErrAmount, p.Amount)
	}
	minor, err := MinorUnits(d, currency)
	return minor, currency, err
}

func currencyRe(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'a' || c[i] > 'z' {
			return false
		}
	}
	return true
}
