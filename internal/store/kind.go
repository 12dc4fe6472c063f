package store

import "github.com/kiln-dev/kiln/internal/spec"

// kind is how a field's values travel between Go and SQL.
type kind int

const (
	kString kind = iota
	kUUID
	kInt
	kFloat
	kDecimal
	kBool
	kTime
	kDate
	kJSON
)

func kindOf(f *spec.Field) kind {
	switch f.Type {
	case spec.TypeInteger:
		return kInt
	case spec.TypeNumber:
		return kFloat
	case spec.TypeDecimal:
		return kDecimal
	case spec.TypeBoolean:
		return kBool
	case spec.TypeDatetime:
		return kTime
	case spec.TypeDate:
		return kDate
	case spec.TypeJSON, spec.TypeFile:
		return kJSON
	case spec.TypeUUID, spec.TypeRelation:
		return kUUID
	}
	return kString
}
