package rest

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/internal/files"
	"github.com/kiln-dev/kiln/internal/integrations/storage"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
)

// multipartSlack is what a multipart body may carry besides the file: boundaries and part
// headers.
const multipartSlack = 64 << 10

// registerFileFields serves the upload and removal of a resource's file fields:
// POST {item}/files/{field} and DELETE {item}/files/{field}/{file id}.
func (h *Handler) registerFileFields(mux *routeMux, r *spec.Resource, item string) {
	if h.files == nil {
		return
	}
	h.refuseNonFileFields(mux, r, item)
	for _, f := range r.Fields {
		if f.Type != spec.TypeFile {
			continue
		}
		res, field := r.Name, f
		path := item + "/files/" + f.Name
		mux.HandleFunc("POST "+path, h.authenticate(h.onlyParams([]string{"name"}, func(w http.ResponseWriter, req *http.Request) { h.upload(w, req, res, field) })))
		mux.HandleFunc("DELETE "+path+"/{file}", h.authenticate(h.noParams(func(w http.ResponseWriter, req *http.Request) { h.removeFile(w, req, res, field) })))
		mux.HandleFunc("POST "+path+"/uploads", h.authenticate(h.noParams(func(w http.ResponseWriter, req *http.Request) { h.startDirect(w, req, res, field) })))
		mux.HandleFunc("POST "+path+"/uploads/complete", h.authenticate(h.noParams(func(w http.ResponseWriter, req *http.Request) { h.completeDirect(w, req, res, field) })))
		mux.refuse(path+"/uploads/complete", h.methodNotAllowed("POST"))
		mux.refuse(path, h.methodNotAllowed("POST"))
		mux.refuse(path+"/{file}", h.methodNotAllowed("DELETE"))
	}
}

// refuseNonFileFields answers an upload to, or a removal from, a field that is not one of r's
// file fields with the API's 404, naming the field and r's file fields: "no such resource or
// route" left a user looking for a wrong path (a new user's trial).
func (h *Handler) refuseNonFileFields(mux *routeMux, r *spec.Resource, item string) {
	var names []string
	for _, f := range r.Fields {
		if f.Type == spec.TypeFile && !f.Hidden {
			names = append(names, f.Name)
		}
	}
	have := r.Name + " has no file fields"
	if len(names) > 0 {
		have = "its file fields: " + strings.Join(names, ", ")
	}
	refuse := func(w http.ResponseWriter, req *http.Request) {
		WriteError(w, req, h.log, service.Errorf(service.CodeNotFound, "%q is not a file field of %s (%s)", req.PathValue("field"), r.Name, have))
	}
	mux.refuse(item+"/files/{field}", refuse)
	mux.refuse(item+"/files/{field}/{file}", refuse)
}

// registerFiles serves stored files: GET {base}/_files/{resource}/{field}/{file}, public
// ones as they are, the others only with a valid signature (the URLs records carry). A key
// has those three segments (files.Key), and the route says so rather than take any path:
// an OpenAPI path parameter is one segment, and {key...} could not be documented.
func (h *Handler) registerFiles(mux *routeMux, base string) {
	if h.files == nil {
		return
	}
	path := base + "/_files/{resource}/{field}/{file}"
	mux.HandleFunc("GET "+path, h.serveFile)
	mux.refuse(path, h.methodNotAllowed("GET, HEAD"))
}

// upload receives one file into a file field: a multipart/form-data body whose part
// "file" is the file, or a body that is the file itself (its name in ?name= or in a
// Content-Disposition header). The answer is the record.
func (h *Handler) upload(w http.ResponseWriter, r *http.Request, res string, f *spec.Field) {
	ctx, id := r.Context(), r.PathValue("id")
	if err := h.canAdd(ctx, res, id, f); err != nil {
		WriteError(w, r, h.log, err) // refused before a byte of the file is read
		return
	}
	extendDeadlines(w, f.File.MaxSize)
	name, body, err := uploadBody(r, f.File.MaxSize)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	fl, err := h.files.Receive(ctx, res, f, name, body)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	h.attach(w, r, res, id, f, fl)
}

// attach records a stored file in the record's field (replacing the file of a single-file
// field); when that fails, the stored file is deleted.
func (h *Handler) attach(w http.ResponseWriter, r *http.Request, res, id string, f *spec.Field, fl files.File) {
	rec, err := h.svc.ChangeFiles(r.Context(), res, id, f.Name, func(stored any) (any, error) {
		cur, err := files.Parse(stored)
		if err != nil {
			return nil, err
		}
		if f.File.MaxFiles == 1 {
			return files.Encode(f, []files.File{fl})
		}
		if len(cur) >= f.File.MaxFiles {
			return nil, tooManyFiles(f)
		}
		return files.Encode(f, append(cur, fl))
	})
	if err != nil {
		h.files.Discard(context.WithoutCancel(r.Context()), fl.Keys(res, f.Name))
		WriteError(w, r, h.log, err)
		return
	}
	h.writeRecord(w, http.StatusCreated, res, rec, view{spec: h.spec})
}

// startDirect answers {"name", "size"} with a presigned URL to PUT the file to (S3) and
// the token that completes the upload.
func (h *Handler) startDirect(w http.ResponseWriter, r *http.Request, res string, f *spec.Field) {
	name, n, err := h.directStart(r)
	if err == nil {
		err = h.canAdd(r.Context(), res, r.PathValue("id"), f)
	}
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	t, err := h.files.StartDirect(r.Context(), res, r.PathValue("id"), f, name, n)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	body, err := json.Marshal(t)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store") // the URL and token grant an upload
	writeJSON(w, http.StatusCreated, body)
}

// directStart decodes a direct upload's start, {"name": "…", "size": bytes}, and nothing
// else; a size left out is 0, which StartDirect refuses as it refuses any size out of range.
func (h *Handler) directStart(r *http.Request) (string, int64, error) {
	in, err := decodeObject(r, h.maxBody)
	if err != nil {
		return "", 0, err
	}
	var errs []service.FieldError
	for k := range in {
		if k != "name" && k != "size" {
			errs = append(errs, service.FieldError{Field: k, Code: "unknown_field", Message: "is not accepted here"})
		}
	}
	name, ok := in["name"].(string)
	if _, given := in["name"]; given && !ok {
		errs = append(errs, service.FieldError{Field: "name", Code: "type", Message: "must be a string (the file's name)"})
	}
	var n int64
	if v, given := in["size"]; given {
		num, _ := v.(json.Number)
		if n, err = num.Int64(); err != nil {
			errs = append(errs, service.FieldError{Field: "size", Code: "type", Message: "must be the file's size in bytes, a whole number"})
		}
	}
	if len(errs) > 0 {
		return "", 0, &service.Error{Code: service.CodeValidation, Message: "the request has invalid fields", Fields: errs}
	}
	return name, n, nil
}

// completeDirect checks the file a direct upload sent to S3 and records it: {"token"}.
func (h *Handler) completeDirect(w http.ResponseWriter, r *http.Request, res string, f *spec.Field) {
	id := r.PathValue("id")
	in, err := h.stringFields(r, "token")
	if err == nil {
		err = h.canAdd(r.Context(), res, id, f)
	}
	extendDeadlines(w, f.File.MaxSize) // the file is read back from storage
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	fl, err := h.files.CompleteDirect(r.Context(), res, id, f, in["token"])
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	h.attach(w, r, res, id, f, fl)
}

// canAdd checks, before anything is read or stored, that the principal may change the
// field and that it has room for one more file.
func (h *Handler) canAdd(ctx context.Context, res, id string, f *spec.Field) error {
	stored, err := h.svc.CanChangeFiles(ctx, res, id, f.Name)
	if err != nil {
		return err
	}
	if cur, err := files.Parse(stored); err == nil && f.File.MaxFiles > 1 && len(cur) >= f.File.MaxFiles {
		return tooManyFiles(f)
	}
	return nil
}

func tooManyFiles(f *spec.Field) error {
	return &service.Error{Code: "too_many_files", Class: service.CodeConflict,
		Message: "the field " + f.Name + " already holds its maximum of files; remove one first"}
}

// removeFile takes one file out of its field (its stored objects go after the commit).
func (h *Handler) removeFile(w http.ResponseWriter, r *http.Request, res string, f *spec.Field) {
	fileID := r.PathValue("file")
	rec, err := h.svc.ChangeFiles(r.Context(), res, r.PathValue("id"), f.Name, func(stored any) (any, error) {
		cur, err := files.Parse(stored)
		if err != nil {
			return nil, err
		}
		for i, fl := range cur {
			if fl.ID == fileID {
				return files.Encode(f, append(cur[:i:i], cur[i+1:]...))
			}
		}
		return nil, service.Errorf(service.CodeNotFound, "%s holds no file %s", f.Name, fileID)
	})
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	h.writeRecord(w, http.StatusOK, res, rec, view{spec: h.spec})
}

// uploadBody finds the file in the request: the part named "file" of a multipart body, or
// the whole body. Nothing is read beyond the part's start.
func uploadBody(r *http.Request, maxSize int64) (string, io.Reader, error) {
	if err := plainEncoding(r); err != nil {
		return "", nil, err
	}
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		name := r.URL.Query().Get("name")
		if _, p, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil && name == "" {
			name = p["filename"]
		}
		return name, http.MaxBytesReader(nil, r.Body, maxSize+1), nil
	}
	if params["boundary"] == "" {
		return "", nil, service.Errorf(service.CodeMalformed, "the multipart body has no boundary")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxSize+multipartSlack)
	mr, err := r.MultipartReader()
	if err != nil {
		return "", nil, service.Errorf(service.CodeMalformed, "the multipart body cannot be read")
	}
	part, err := mr.NextPart()
	if err != nil {
		return "", nil, service.Errorf(service.CodeMalformed, "the multipart body has no part")
	}
	if part.FormName() != "file" {
		return "", nil, &service.Error{Code: service.CodeValidation, Message: "the upload is not valid",
			Fields: []service.FieldError{{Field: part.FormName(), Code: "unknown_field", Message: `is not the upload's part; send the file as the part named "file"`}}}
	}
	return part.FileName(), part, nil
}

// extendDeadlines gives an upload time to arrive: the server's 30 s read timeout suits
// JSON bodies, not files (a minute, plus a second per 64 KiB allowed, at most an hour).
func extendDeadlines(w http.ResponseWriter, maxSize int64) {
	d := min(time.Minute+time.Duration(maxSize>>16)*time.Second, time.Hour)
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(d))
	_ = rc.SetWriteDeadline(time.Now().Add(d + time.Minute))
}

// serveFile sends a stored file: a public one to anyone (under no name the URL chooses), a
// protected one against a valid signature (which covers the name). Files in S3 are answered with a redirect to a URL S3 signs.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request) {
	key := files.Key(r.PathValue("resource"), r.PathValue("field"), r.PathValue("file"))
	_, f, _, _ := h.files.Field(key)
	if f == nil {
		WriteError(w, r, h.log, service.Errorf(service.CodeNotFound, "no such file"))
		return
	}
	q := r.URL.Query()
	if f.File.Public && q.Has("name") {
		// A public URL carries no signature, so a name in it would be anyone's choice: the
		// file served as evil.html from this origin. Kiln's public URLs name no file.
		WriteError(w, r, h.log, &service.Error{Code: service.CodeMalformed, Message: "unknown parameter",
			Fields: []service.FieldError{{Field: "name", Code: "unknown_parameter",
				Message: "a public file is served without a chosen name; use the URL its record gives"}}})
		return
	}
	if !f.File.Public {
		switch h.files.Signer().Check(key, q) {
		case files.SignatureMissing, files.SignatureInvalid:
			WriteError(w, r, h.log, &service.Error{Code: "signed_url_invalid", Class: service.CodeForbidden,
				Message: "this file is read through the signed URL its record gives; this URL's signature does not match"})
			return
		case files.SignatureExpired:
			WriteError(w, r, h.log, &service.Error{Code: "signed_url_expired", Class: service.CodeForbidden,
				Message: "this signed URL has expired; read the record again for a fresh one"})
			return
		}
	}
	name := q.Get("name") // signed with the URL, as the record's file is named
	if name != "" {
		name = files.CleanName(name)
	}
	if p, ok := h.files.Store().(storage.Presigner); ok {
		h.redirectToStore(w, r, p, key)
		return
	}
	h.sendLocal(w, r, key, name, f.File.Public)
}
