package jsonschema

// isAssertion reports the keywords Validate applies (annotations aside).
func isAssertion(k string) bool {
	switch k {
	case "$ref", "type", "enum", "const", "properties", "additionalProperties", "required",
		"items", "minItems", "maxItems", "uniqueItems", "anyOf", "oneOf", "allOf",
		"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
		"minLength", "maxLength", "pattern", "format":
		return true
	}
	return false
}

// Check walks schema and the schemas inside it, without following $refs (it checks that
// they resolve), and returns a *SchemaError for the first keyword Validate would not know
// or could not use — before any value reaches it. loc is the schema's place in the document.
func (v *Validator) Check(schema any, loc string) error {
	s, ok := schema.(map[string]any)
	if !ok {
		if _, isBool := schema.(bool); isBool {
			return nil
		}
		return &SchemaError{Location: loc, Message: "a schema must be an object or a boolean, got " + kindOf(schema)}
	}
	for _, k := range sortedKeys(s) {
		at := loc + "/" + escape(k)
		if !isAssertion(k) && !isAnnotation(k) {
			return &SchemaError{Location: at, Message: "unknown keyword \"" + k + "\": the response check does not know it (teach internal/jsonschema)"}
		}
		if err := v.checkValue(k, s[k], at); err != nil {
			return err
		}
	}
	return nil
}

// checkValue checks one keyword's value and walks the schemas it holds.
func (v *Validator) checkValue(k string, kv any, at string) error {
	switch k {
	case "$ref":
		target, _ := kv.(string)
		if _, err := v.Resolve(target); err != nil {
			return &SchemaError{Location: at, Message: err.Error()}
		}
	case "type":
		if _, ok := typeNames(kv); !ok {
			return &SchemaError{Location: at, Message: "type must be a type name or a list of them, got " + short(kv)}
		}
	case "pattern":
		expr, _ := kv.(string)
		if _, err := v.pattern(expr); err != nil {
			return &SchemaError{Location: at, Message: err.Error()}
		}
	case "items", "additionalProperties":
		return v.Check(kv, at)
	case "properties":
		props, _ := kv.(map[string]any)
		for _, name := range sortedKeys(props) {
			if err := v.Check(props[name], at+"/"+escape(name)); err != nil {
				return err
			}
		}
	case "anyOf", "oneOf", "allOf":
		list, _ := kv.([]any)
		for i, sub := range list {
			if err := v.Check(sub, at+"/"+itoa(i)); err != nil {
				return err
			}
		}
	}
	return nil
}
