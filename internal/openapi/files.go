package openapi

import (
	"fmt"
	"strings"

	"github.com/kiln-dev/kiln/internal/spec"
)

// fileSchema describes a file field's value: one file, or a list when it takes several.
func fileSchema(f *spec.Field) obj {
	one := obj{"type": "object", "required": []string{"id", "name", "type", "size", "url"}, "properties": obj{
		"id":     obj{"type": "string", "format": "uuid"},
		"name":   obj{"type": "string", "description": "The name the file was uploaded with."},
		"type":   obj{"type": "string", "description": "The media type sniffed from the content."},
		"size":   obj{"type": "integer", "description": "Bytes."},
		"width":  obj{"type": "integer", "description": "Pixels, for images."},
		"height": obj{"type": "integer"},
		"url":    obj{"type": "string", "description": fileURLDescription(f)},
		"thumbnails": obj{"type": "object", "additionalProperties": obj{"type": "string"},
			"description": "URL of each thumbnail size (WxH), for images."},
	}}
	desc := fmt.Sprintf("Read-only: upload with POST …/{id}/files/%s (at most %d bytes", f.Name, f.File.MaxSize)
	if len(f.File.Accept) > 0 {
		desc += ", of type " + strings.Join(f.File.Accept, ", ")
	}
	desc += "); remove with DELETE …/{id}/files/" + f.Name + "/{file id}."
	if f.File.MaxFiles > 1 {
		return obj{"type": "array", "items": one, "maxItems": f.File.MaxFiles, "readOnly": true, "description": desc}
	}
	one["type"] = []string{"object", "null"}
	one["readOnly"], one["description"] = true, desc
	return one
}

func fileURLDescription(f *spec.Field) string {
	if f.File.Public {
		return "A stable URL anyone may read."
	}
	return "A signed URL, valid for a while (read the record again for a fresh one)."
}

// filePaths documents the upload and removal of r's file fields.
func filePaths(s *spec.Spec, r *spec.Resource, n string, paths obj) {
	for _, f := range r.Fields {
		if f.Type != spec.TypeFile {
			continue
		}
		id := obj{"name": "id", "in": "path", "required": true, "schema": obj{"type": "string", "format": "uuid"}}
		upload := obj{"operationId": "upload" + n + strings.ToUpper(f.Name[:1]) + f.Name[1:], "tags": []string{r.Name},
			"summary":     "Upload a file into " + r.Name + "." + f.Name,
			"description": "The body is multipart/form-data with the file as the part named file, or the file itself (its name in ?name=). Streamed; the type is sniffed from the content. Needs the update rule.",
			"parameters":  []obj{id, {"name": "name", "in": "query", "schema": obj{"type": "string"}}},
			"requestBody": obj{"required": true, "content": obj{
				"multipart/form-data":      obj{"schema": obj{"type": "object", "properties": obj{"file": obj{"type": "string", "format": "binary"}}}},
				"application/octet-stream": obj{"schema": obj{"type": "string", "format": "binary"}}}},
			"responses": obj{"201": jsonResponse("The record with the new file", ref(n)),
				"400": problemRef("BadRequest"), "404": problemRef("NotFound"), "409": problemRef("Conflict"),
				"413": problemRef("TooLarge"), "415": problemRef("UnsupportedMediaType"), "default": problemRef("Error")}}
		remove := obj{"operationId": "remove" + n + strings.ToUpper(f.Name[:1]) + f.Name[1:], "tags": []string{r.Name},
			"summary":    "Remove one file from " + r.Name + "." + f.Name + " (its stored copy is deleted after the commit)",
			"parameters": []obj{id, {"name": "file", "in": "path", "required": true, "schema": obj{"type": "string", "format": "uuid"}}},
			"responses": obj{"200": jsonResponse("The record without the file", ref(n)),
				"404": problemRef("NotFound"), "default": problemRef("Error")}}
		start, complete := directOps(n, f, id)
		if s.Auth != nil {
			for _, op := range []obj{upload, remove, start, complete} {
				op["security"] = tokenOrKey()
				op["responses"].(obj)["401"] = problemRef("Unauthorized")
				op["responses"].(obj)["403"] = problemRef("Forbidden")
			}
		}
		path := s.Server.BasePath + "/" + r.Name + "/{id}/files/" + f.Name
		paths[path] = obj{"post": upload}
		paths[path+"/{file}"] = obj{"delete": remove}
		paths[path+"/uploads"] = obj{"post": start}
		paths[path+"/uploads/complete"] = obj{"post": complete}
	}
}

// directOps document a direct upload to S3: a ticket, then its completion.
func directOps(n string, f *spec.Field, id obj) (start, complete obj) {
	suffix := n + strings.ToUpper(f.Name[:1]) + f.Name[1:]
	start = obj{"operationId": "startUpload" + suffix, "summary": "Start a direct upload into " + f.Name + " (S3 storage only)",
		"description": "Answers a presigned PUT URL (send the file there with the Content-Length given) and the token that completes the upload.",
		"parameters":  []obj{id},
		"requestBody": jsonBody(obj{"type": "object", "required": []string{"size"}, "additionalProperties": false, "properties": obj{
			"name": obj{"type": "string"}, "size": obj{"type": "integer", "minimum": 1, "maximum": f.File.MaxSize}}}),
		"responses": obj{"201": jsonResponse("The upload ticket", obj{"type": "object", "properties": obj{
			"upload_url": obj{"type": "string"}, "method": obj{"type": "string"}, "headers": obj{"type": "object"},
			"token": obj{"type": "string"}, "expires_at": obj{"type": "string", "format": "date-time"}}}),
			"400": problemRef("BadRequest"), "404": problemRef("NotFound"), "409": problemRef("Conflict"),
			"413": problemRef("TooLarge"), "default": problemRef("Error")}}
	complete = obj{"operationId": "completeUpload" + suffix, "summary": "Complete a direct upload into " + f.Name,
		"description": "Checks the uploaded file (size, sniffed type), makes its thumbnails and records it; a refused file is deleted.",
		"parameters":  []obj{id},
		"requestBody": jsonBody(obj{"type": "object", "required": []string{"token"}, "additionalProperties": false,
			"properties": obj{"token": obj{"type": "string"}}}),
		"responses": obj{"201": jsonResponse("The record with the new file", ref(n)),
			"400": problemRef("BadRequest"), "404": problemRef("NotFound"), "409": problemRef("Conflict"),
			"413": problemRef("TooLarge"), "415": problemRef("UnsupportedMediaType"), "default": problemRef("Error")}}
	return start, complete
}

// storedFilePath documents GET {base}/_files/{resource}/{field}/{file}, where the URLs of file values lead: served
// whenever the spec has a file field.
func storedFilePath(s *spec.Spec, paths obj) {
	op := public(s, builtinOp("getStoredFile", "files", "A stored file, by the URL its record gives", "200",
		obj{"description": "The file", "content": obj{"*/*": obj{"schema": obj{"type": "string", "format": "binary"}}}}, "400", "403", "404"))
	op["description"] = "Public files are read by anyone; the others through the signed URL a read of their record gives " +
		"(403 signed_url_invalid or signed_url_expired otherwise). With S3 storage the answer is a redirect to a URL S3 signs."
	op["responses"].(obj)["302"] = obj{"description": "To the file in S3", "headers": obj{"Location": obj{"schema": obj{"type": "string"}}}}
	op["parameters"] = []obj{pathParam("resource", obj{"type": "string"}), pathParam("field", obj{"type": "string"}),
		pathParam("file", obj{"type": "string", "description": "The file's id, with _WxH for a thumbnail"}),
		queryParam("name", "The name to download the file under (part of the signature)", obj{"type": "string"}),
		queryParam("expires", "Part of a signed URL", obj{"type": "string"}), queryParam("signature", "Part of a signed URL", obj{"type": "string"})}
	paths[s.Server.BasePath+"/_files/{resource}/{field}/{file}"] = obj{"get": op}
}
