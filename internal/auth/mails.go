package auth

import (
	"context"
	"embed"
	"fmt"

	"github.com/kiln-dev/kiln/internal/mail"
	"github.com/kiln-dev/kiln/internal/service"
	"github.com/kiln-dev/kiln/internal/spec"
)

// defaultMails are the account mails' built-in templates; a spec replaces any of them with
// auth.mails.<kind>: path/to/file.tmpl (same data, documented in each file).
//
//go:embed mails/*.tmpl
var defaultMails embed.FS

// mailTemplates returns the template of every account mail kind: the spec's, else the
// built-in one.
func mailTemplates(overrides map[string]*mail.Template) (map[string]*mail.Template, error) {
	out := make(map[string]*mail.Template, len(spec.AuthMailKinds))
	for _, kind := range spec.AuthMailKinds {
		if t := overrides[kind]; t != nil {
			out[kind] = t
			continue
		}
		src, err := defaultMails.ReadFile("mails/" + kind + ".tmpl")
		if err != nil {
			return nil, fmt.Errorf("auth: built-in mail %s: %w", kind, err)
		}
		t, err := mail.ParseTemplate("built-in "+kind+" mail", string(src))
		if err != nil {
			return nil, fmt.Errorf("auth: built-in mail %s: %w", kind, err)
		}
		out[kind] = t
	}
	return out, nil
}

// sendMail renders the account mail kind for to with data (token, email and base_path are
// added) and sends it.
func (a *Accounts) sendMail(ctx context.Context, kind, to string, data map[string]any) error {
	if a.cfg.Mailer == nil {
		return service.Errorf(service.CodeInternal, "no mail sender is configured")
	}
	if data == nil {
		data = map[string]any{}
	}
	data["email"], data["base_path"] = to, a.cfg.Spec.Server.BasePath
	msg := Message{To: to}
	if err := a.mails[kind].Render(data, &msg); err != nil {
		return fmt.Errorf("render the %s mail: %w", kind, err)
	}
	return a.cfg.Mailer.Send(ctx, msg)
}
