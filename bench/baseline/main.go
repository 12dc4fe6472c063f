// Command baseline is the minimal hand-written server the benchmark measures Kiln against,
// run by `go run ./bench` as its own process, on SQLite or (with -postgres) on PostgreSQL:
//
//	baseline -db products.db -seed 10000   # create and fill the table, print the ids
//	baseline -db products.db -addr 127.0.0.1:8081
//	baseline -postgres postgres://…/db -seed 10000
//	baseline -postgres postgres://…/db -addr 127.0.0.1:8081
//
// Writes need an HS256 token signed with $BASELINE_SECRET.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	_ "modernc.org/sqlite"
)

func main() {
	db := flag.String("db", "baseline.db", "SQLite file")
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	pg := flag.String("postgres", "", "PostgreSQL URL: serve from this database instead of SQLite (pgx, pgxpool)")
	seed := flag.Int("seed", 0, "insert this many products, print their ids and exit")
	flag.Parse()
	var st productStore
	var err error
	if *pg != "" {
		st, err = openPostgres(context.Background(), *pg)
	} else {
		st, err = openBaseline(*db)
	}
	if err == nil && *seed > 0 {
		err = printSeed(st, *seed)
	} else if err == nil {
		srv := &http.Server{Addr: *addr, Handler: handler(st), ReadHeaderTimeout: 5 * time.Second}
		err = srv.ListenAndServe()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

// productStore is what the handler needs from a database: each read returns the products it
// found (none: not found), each write the stored product.
type productStore interface {
	get(ctx context.Context, id string) ([]product, error)
	list(ctx context.Context, limit int) ([]product, error)
	listByPrice(ctx context.Context, minCents int64, limit int) ([]product, error)
	insert(ctx context.Context, p product, cents int64, now time.Time) error
	patch(ctx context.Context, id string, cents int64, now time.Time) ([]product, error)
	seed(rows int) ([]string, error)
}

var (
	_ productStore = (*baseline)(nil)
	_ productStore = (*pgBaseline)(nil)
)

// timeLayout is how both stores render timestamps (and how SQLite stores them).
const timeLayout = "2006-01-02T15:04:05.000000Z"

func printSeed(st productStore, rows int) error {
	ids, err := st.seed(rows)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	for _, id := range ids {
		fmt.Fprintln(w, id)
	}
	return w.Flush()
}

func priceCents(i int) int64 { return int64(i%10000) + 99 }

func (b *baseline) seed(rows int) ([]string, error) {
	tx, err := b.writer.Begin()
	if err != nil {
		return nil, err
	}
	ids := make([]string, rows)
	now := time.Now().UTC().Format(timeLayout)
	for i := range rows {
		ids[i] = uuid.Must(uuid.NewV7()).String()
		if _, err := tx.Stmt(b.insertStmt).Exec(ids[i], now, now, fmt.Sprintf("Product %05d", i), nil, priceCents(i), nil, i%50, true, nil); err != nil {
			_ = tx.Rollback()
			return nil, err
		}
	}
	return ids, tx.Commit()
}

// baseline is the minimal hand-written server Kiln is measured against: net/http, modernc
// SQLite with the same pool shape (one writer, four readers) and pragmas, prepared statements
// and encoding/json structs, over the same table and indexes as the shop's products. It returns the same fields as the shop's products (tags included,
// read the way a hand-written server would: a group_concat subquery), and validates only
// name and price >= 0.
type baseline struct {
	writer, reader                 *sql.DB
	getStmt, listStmt, byPriceStmt *sql.Stmt
	insertStmt, patchStmt          *sql.Stmt
}

type product struct {
	ID          string   `json:"id"`
	CreatedAt   string   `json:"created_at"`
	UpdatedAt   string   `json:"updated_at"`
	Name        string   `json:"name"`
	Description *string  `json:"description"`
	Price       float64  `json:"price"`
	Sku         *string  `json:"sku"`
	Stock       int64    `json:"stock"`
	Active      bool     `json:"active"`
	Category    *string  `json:"category"`
	Tags        []string `json:"tags"`
}

const baselineSchema = `CREATE TABLE IF NOT EXISTS products (id TEXT PRIMARY KEY, created_at TEXT NOT NULL,
updated_at TEXT NOT NULL, name TEXT NOT NULL, description TEXT, price INTEGER NOT NULL, sku TEXT UNIQUE,
stock INTEGER NOT NULL DEFAULT 0, active INTEGER NOT NULL DEFAULT 1, category_id TEXT);
CREATE INDEX IF NOT EXISTS products_price_idx ON products (price);
CREATE INDEX IF NOT EXISTS products_category_idx ON products (category_id);
CREATE INDEX IF NOT EXISTS products_category_price_idx ON products (category_id, price);
CREATE INDEX IF NOT EXISTS products_name_idx ON products (name);
CREATE TABLE IF NOT EXISTS products_tags (source_id TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
target_id TEXT NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (source_id, target_id));`

func openBaseline(path string) (*baseline, error) {
	dsn := "file:" + path + "?_pragma=mmap_size(268435456)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=journal_mode(WAL)"
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	if _, err := w.Exec(baselineSchema); err != nil {
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		return nil, err
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	b := &baseline{writer: w, reader: r}
	cols := "id, created_at, updated_at, name, description, price, sku, stock, active, category_id"
	sel := cols + ", (SELECT group_concat(target_id, ',' ORDER BY position) FROM products_tags WHERE source_id = products.id)"
	prep := []struct {
		db  *sql.DB
		dst **sql.Stmt
		q   string
	}{
		{r, &b.getStmt, "SELECT " + sel + " FROM products WHERE id = ?"},
		{r, &b.listStmt, "SELECT " + sel + " FROM products ORDER BY id LIMIT ?"},
		{r, &b.byPriceStmt, "SELECT " + sel + " FROM products WHERE price > ? ORDER BY price, id LIMIT ?"},
		{w, &b.insertStmt, "INSERT INTO products (" + cols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
		{w, &b.patchStmt, "UPDATE products SET price = ?, updated_at = ? WHERE id = ? RETURNING " + sel},
	}
	for _, p := range prep {
		if *p.dst, err = p.db.Prepare(p.q); err != nil {
			return nil, fmt.Errorf("prepare: %w", err)
		}
	}
	return b, nil
}

// The SQLite store's methods ignore ctx, as the baseline's handlers always did: database/sql
// watches a cancellable context at some cost per query, and the benchmark never cancels.

func (b *baseline) get(_ context.Context, id string) ([]product, error) {
	return scanSQLite(b.getStmt.Query(id))
}

func (b *baseline) list(_ context.Context, limit int) ([]product, error) {
	return scanSQLite(b.listStmt.Query(limit))
}

func (b *baseline) listByPrice(_ context.Context, minCents int64, limit int) ([]product, error) {
	return scanSQLite(b.byPriceStmt.Query(minCents, limit))
}

func (b *baseline) insert(_ context.Context, p product, cents int64, _ time.Time) error {
	_, err := b.insertStmt.Exec(p.ID, p.CreatedAt, p.UpdatedAt, p.Name, nil, cents, nil, p.Stock, true, nil)
	return err
}

func (b *baseline) patch(_ context.Context, id string, cents int64, now time.Time) ([]product, error) {
	return scanSQLite(b.patchStmt.Query(cents, now.Format(timeLayout), id))
}

func scanSQLite(rows *sql.Rows, err error) ([]product, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []product
	for rows.Next() {
		var p product
		var cents int64
		var tags sql.NullString
		if err := rows.Scan(&p.ID, &p.CreatedAt, &p.UpdatedAt, &p.Name, &p.Description, &cents, &p.Sku, &p.Stock,
			&p.Active, &p.Category, &tags); err != nil {
			return nil, err
		}
		p.Price = float64(cents) / 100
		p.Tags = splitTags(tags.String)
		items = append(items, p)
	}
	return items, rows.Err()
}

func splitTags(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

func handler(st productStore) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("GET /api/products/{id}", func(w http.ResponseWriter, r *http.Request) {
		items, err := st.get(r.Context(), r.PathValue("id"))
		writeItems(w, items, err, 0)
	})
	mux.HandleFunc("GET /api/products", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		if limit <= 0 || limit > 100 {
			limit = 20
		}
		var items []product
		var err error
		if min := r.URL.Query().Get("min_price"); min != "" {
			m, _ := strconv.ParseFloat(min, 64)
			items, err = st.listByPrice(r.Context(), int64(m*100), limit+1)
		} else {
			items, err = st.list(r.Context(), limit+1)
		}
		writeItems(w, items, err, limit)
	})
	mux.HandleFunc("POST /api/products", requireToken(func(w http.ResponseWriter, r *http.Request) { create(st, w, r) }))
	mux.HandleFunc("PATCH /api/products/{id}", requireToken(func(w http.ResponseWriter, r *http.Request) { update(st, w, r) }))
	return mux
}

func create(st productStore, w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name  string  `json:"name"`
		Price float64 `json:"price"`
		Stock int64   `json:"stock"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil || in.Name == "" || in.Price < 0 {
		http.Error(w, `{"error":"validation_failed"}`, http.StatusBadRequest)
		return
	}
	t := time.Now().UTC()
	now := t.Format(timeLayout)
	p := product{ID: uuid.Must(uuid.NewV7()).String(), CreatedAt: now, UpdatedAt: now, Name: in.Name, Price: in.Price,
		Stock: in.Stock, Active: true, Tags: []string{}}
	if err := st.insert(r.Context(), p, int64(p.Price*100+0.5), t); err != nil {
		http.Error(w, `{"error":"internal"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", "/api/products/"+p.ID)
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(p)
}

func update(st productStore, w http.ResponseWriter, r *http.Request) {
	var in struct {
		Price float64 `json:"price"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil || in.Price < 0 {
		http.Error(w, `{"error":"validation_failed"}`, http.StatusBadRequest)
		return
	}
	items, err := st.patch(r.Context(), r.PathValue("id"), int64(in.Price*100+0.5), time.Now().UTC())
	writeItems(w, items, err, 0)
}

// writeItems encodes one product (limit 0) or a page of at most limit products.
func writeItems(w http.ResponseWriter, items []product, err error, limit int) {
	if err != nil {
		http.Error(w, `{"error":"internal"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if limit == 0 {
		if len(items) == 0 {
			http.Error(w, `{"error":"not_found"}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(items[0])
		return
	}
	if len(items) > limit {
		items = items[:limit]
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"items": items, "next_cursor": nil})
}

// secret signs the tokens of the writes (the benchmark passes it).
var secret = []byte(os.Getenv("BASELINE_SECRET"))

// requireToken is the hand-written equivalent of Kiln's write guard: a valid HS256 bearer
// token with the staff role (no account lookup).
func requireToken(next http.HandlerFunc) http.HandlerFunc {
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("baseline"), jwt.WithAudience("shop"), jwt.WithExpirationRequired())
	return func(w http.ResponseWriter, r *http.Request) {
		raw := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		var claims jwt.MapClaims
		_, err := parser.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return secret, nil })
		if err != nil || claims["role"] != "staff" {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		next(w, r)
	}
}
