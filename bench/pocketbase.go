package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// pocketbaseVersion is the PocketBase the benchmark installs (its examples/base command).
const pocketbaseVersion = "v0.39.11"

// installPocketBase returns the path of PocketBase's base command, installing it into the
// project-local .tools directory the first time (a build from the Go module proxy).
func installPocketBase() (string, error) {
	dir, err := filepath.Abs(".tools")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "pocketbase-"+pocketbaseVersion)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	fmt.Fprintf(os.Stderr, "installing PocketBase %s into %s (once)…\n", pocketbaseVersion, dir)
	tmp := filepath.Join(dir, "gobin")
	cmd := exec.Command("go", "install", "github.com/pocketbase/pocketbase/examples/base@"+pocketbaseVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install pocketbase: %w", err)
	}
	return bin, os.Rename(filepath.Join(tmp, "base"), bin)
}

// pbClient talks to a PocketBase server as its superuser while the benchmark sets it up.
type pbClient struct {
	url, token string
}

func (c *pbClient) call(method, path string, body, out any) error {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest(method, c.url+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", c.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("pocketbase %s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

func (c *pbClient) login(collection, email, password string) (string, error) {
	var auth struct {
		Token string `json:"token"`
	}
	err := c.call("POST", "/api/collections/"+collection+"/auth-with-password", map[string]string{"identity": email, "password": password}, &auth)
	return auth.Token, err
}

// pbWriteRule lets any signed-in account write, as the shop lets its staff.
const pbWriteRule = "@request.auth.id != ''"

// setupPocketBase creates categories, tags and products with the shop's fields and indexes
// (public reads, writes need a token), seeds rows products through the batch API and returns
// their ids and a user's token for the writes.
func setupPocketBase(c *pbClient, rows int) ([]string, string, error) {
	cats, err := c.collection(obj{"name": "categories", "fields": []obj{text("name", true), text("slug", true), text("description", false)}})
	if err != nil {
		return nil, "", err
	}
	tags, err := c.collection(obj{"name": "tags", "fields": []obj{text("name", true)}})
	if err != nil {
		return nil, "", err
	}
	_, err = c.collection(obj{"name": "products", "fields": []obj{text("name", true), text("description", false),
		{"name": "price", "type": "number", "required": false, "min": 0}, text("sku", false),
		{"name": "stock", "type": "number", "onlyInt": true, "min": 0}, {"name": "active", "type": "bool"},
		{"name": "category", "type": "relation", "collectionId": cats, "maxSelect": 1},
		{"name": "tags", "type": "relation", "collectionId": tags, "maxSelect": 100},
		{"name": "created", "type": "autodate", "onCreate": true}, {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true}},
		"indexes": []string{"CREATE INDEX idx_products_category_price ON products (category, price)",
			"CREATE INDEX idx_products_price ON products (price)", "CREATE INDEX idx_products_name ON products (name)",
			"CREATE UNIQUE INDEX idx_products_sku ON products (sku) WHERE sku != ''"}})
	if err != nil {
		return nil, "", err
	}
	ids, err := c.seed(rows)
	if err != nil {
		return nil, "", err
	}
	token, err := c.writer()
	return ids, token, err
}

type obj = map[string]any

func text(name string, required bool) obj {
	return obj{"name": name, "type": "text", "required": required, "max": 200}
}

// collection creates a base collection with public reads and token-only writes; it returns its id.
func (c *pbClient) collection(def obj) (string, error) {
	def["type"] = "base"
	def["listRule"], def["viewRule"] = "", ""
	def["createRule"], def["updateRule"], def["deleteRule"] = pbWriteRule, pbWriteRule, pbWriteRule
	var out struct {
		ID string `json:"id"`
	}
	err := c.call("POST", "/api/collections", def, &out)
	return out.ID, err
}

// seed inserts rows products (the same names, prices and stock as the other servers get)
// through PocketBase's batch API, 500 per transaction.
func (c *pbClient) seed(rows int) ([]string, error) {
	if err := c.call("PATCH", "/api/settings", obj{"batch": obj{"enabled": true, "maxRequests": 500, "timeout": 60}}, nil); err != nil {
		return nil, err
	}
	ids := make([]string, 0, rows)
	for start := 0; start < rows; start += 500 {
		var reqs []obj
		for i := start; i < min(rows, start+500); i++ {
			reqs = append(reqs, obj{"method": "POST", "url": "/api/collections/products/records", "body": obj{
				"name": fmt.Sprintf("Product %05d", i), "price": float64(priceCents(i)) / 100, "stock": i % 50, "active": true}})
		}
		var out []struct {
			Status int `json:"status"`
			Body   struct {
				ID string `json:"id"`
			} `json:"body"`
		}
		if err := c.call("POST", "/api/batch", obj{"requests": reqs}, &out); err != nil {
			return nil, err
		}
		for _, r := range out {
			if r.Status != http.StatusOK || r.Body.ID == "" {
				return nil, errors.New("pocketbase batch: a create failed")
			}
			ids = append(ids, r.Body.ID)
		}
	}
	return ids, nil
}

// writer creates a regular user and returns its token: PocketBase's superuser would bypass
// the collection rules the benchmark wants checked.
func (c *pbClient) writer() (string, error) {
	const email, password = "writer@example.com", "bench-password-123"
	if err := c.call("POST", "/api/collections/users/records", obj{"email": email, "password": password, "passwordConfirm": password}, nil); err != nil {
		return "", err
	}
	return (&pbClient{url: c.url}).login("users", email, password)
}

// startPocketBase runs PocketBase on a fresh directory, creates its superuser and collections
// and seeds it.
func startPocketBase(bin, dir string, rows int) (*server, error) {
	data := filepath.Join(dir, "pb_data")
	const email, password = "bench@example.com", "bench-password-123"
	out, err := exec.Command(bin, "superuser", "upsert", email, password, "--dir", data).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("pocketbase superuser: %w: %s", err, strings.TrimSpace(string(out)))
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s, _, err := start(launch{name: "pocketbase", url: "http://" + addr, health: "/api/health",
		logPath: filepath.Join(dir, "pocketbase.log"), argv: []string{bin, "serve", "--http", addr, "--dir", data}})
	if err != nil {
		return nil, err
	}
	admin := &pbClient{url: s.url}
	if admin.token, err = admin.login("_superusers", email, password); err == nil {
		s.ids, s.token, err = setupPocketBase(admin, rows)
	}
	if err != nil {
		s.stop()
		return nil, err
	}
	s.paths = pocketbasePaths
	return s, nil
}
