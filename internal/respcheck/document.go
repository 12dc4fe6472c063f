package respcheck

import "strings"

// checkDocument checks the keywords of every schema a response can reach before any
// response comes: the component schemas, and each response's body and header schemas.
func (c *Checker) checkDocument(top map[string]any) error {
	components, _ := top["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	for _, name := range sortedKeys(schemas) {
		if err := c.schemas.Check(schemas[name], "#/components/schemas/"+escape(name)); err != nil {
			return err
		}
	}
	responses, _ := components["responses"].(map[string]any)
	for _, name := range sortedKeys(responses) {
		if err := c.checkEntry(responses[name], "#/components/responses/"+escape(name)); err != nil {
			return err
		}
	}
	for _, rt := range c.routes {
		for _, m := range methods(rt.item) {
			op, _ := rt.item[strings.ToLower(m)].(map[string]any)
			loc := "#/paths/" + escape(rt.template) + "/" + strings.ToLower(m) + "/responses"
			entries, _ := op["responses"].(map[string]any)
			for _, key := range sortedKeys(entries) {
				if err := c.checkEntry(entries[key], loc+"/"+escape(key)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkEntry checks one response entry's body and header schemas.
func (c *Checker) checkEntry(entry any, loc string) error {
	resp, loc, err := c.deref(entry, loc)
	if err != nil {
		return err
	}
	content, _ := resp["content"].(map[string]any)
	for _, key := range sortedKeys(content) {
		media, _ := content[key].(map[string]any)
		if schema, ok := media["schema"]; ok {
			if err := c.schemas.Check(schema, loc+"/content/"+escape(key)+"/schema"); err != nil {
				return err
			}
		}
	}
	headers, _ := resp["headers"].(map[string]any)
	for _, name := range sortedKeys(headers) {
		h, hloc, err := c.deref(headers[name], loc+"/headers/"+escape(name))
		if err != nil {
			return err
		}
		if schema, ok := h["schema"]; ok {
			if err := c.schemas.Check(schema, hloc+"/schema"); err != nil {
				return err
			}
		}
	}
	return nil
}
