package auth

import (
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/kiln-dev/kiln/internal/service"
)

// githubEmail asks GitHub's API for the account's verified email — GitHub has no ID token —
// preferring the primary address.
func githubEmail(ctx context.Context, client *http.Client, apiURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiURL+"/user/emails", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	res, err := client.Do(req)
	if err != nil {
		return "", service.Errorf(service.CodeUnauthorized, "GitHub did not answer")
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", service.Errorf(service.CodeUnauthorized, "GitHub refused to share the account's email addresses")
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&emails); err != nil {
		return "", service.Errorf(service.CodeUnauthorized, "GitHub's answer was not understood")
	}
	found := ""
	for _, e := range emails {
		if e.Verified && (e.Primary || found == "") {
			found = e.Email
		}
	}
	if found == "" {
		return "", service.Errorf(service.CodeForbidden, "the GitHub account has no verified email address")
	}
	return found, nil
}
