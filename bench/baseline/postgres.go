package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgBaseline is the hand-written server's PostgreSQL store: pgx through a pgxpool of the
// same size as Kiln's (16), statements prepared once per connection, over the same table
// shape as the shop's products on PostgreSQL (UUID ids, TIMESTAMPTZ, NUMERIC(12,2) prices)
// and the same indexes; tags read with a string_agg subquery, as Kiln reads them.
type pgBaseline struct {
	pool *pgxpool.Pool
}

const pgSchema = `CREATE TABLE IF NOT EXISTS products (id UUID PRIMARY KEY, created_at TIMESTAMPTZ NOT NULL,
updated_at TIMESTAMPTZ NOT NULL, name TEXT NOT NULL, description TEXT, price NUMERIC(12,2) NOT NULL, sku TEXT UNIQUE,
stock BIGINT NOT NULL DEFAULT 0, active BOOLEAN NOT NULL DEFAULT TRUE, category_id UUID);
CREATE INDEX IF NOT EXISTS products_price_idx ON products (price);
CREATE INDEX IF NOT EXISTS products_category_idx ON products (category_id);
CREATE INDEX IF NOT EXISTS products_category_price_idx ON products (category_id, price);
CREATE INDEX IF NOT EXISTS products_name_idx ON products (name);
CREATE TABLE IF NOT EXISTS products_tags (source_id UUID NOT NULL REFERENCES products (id) ON DELETE CASCADE,
target_id UUID NOT NULL, position BIGINT NOT NULL, PRIMARY KEY (source_id, target_id));`

const pgCols = "id, created_at, updated_at, name, description, price, sku, stock, active, category_id"

// pgStatements are prepared on every new connection; queries name them.
var pgStatements = map[string]string{
	"get":     "SELECT " + pgSelect + " FROM products WHERE id = $1",
	"list":    "SELECT " + pgSelect + " FROM products ORDER BY id LIMIT $1",
	"byPrice": "SELECT " + pgSelect + " FROM products WHERE price > $1 ORDER BY price, id LIMIT $2",
	"insert":  "INSERT INTO products (" + pgCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
	"patch":   "UPDATE products SET price = $1, updated_at = $2 WHERE id = $3 RETURNING " + pgSelect,
}

const pgSelect = pgCols + ", (SELECT string_agg(target_id::text, ',' ORDER BY position) FROM products_tags WHERE source_id = products.id)"

// openPostgres creates the tables (in the database the URL names) and opens the pool.
func openPostgres(ctx context.Context, url string) (*pgBaseline, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	_, err = conn.Exec(ctx, pgSchema)
	_ = conn.Close(ctx)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 16
	cfg.ConnConfig.RuntimeParams["application_name"] = "baseline"
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		for name, q := range pgStatements {
			if _, err := c.Prepare(ctx, name, q); err != nil {
				return fmt.Errorf("prepare %s: %w", name, err)
			}
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &pgBaseline{pool: pool}, pool.Ping(ctx)
}

func (b *pgBaseline) get(ctx context.Context, id string) ([]product, error) {
	return scanPostgres(b.pool.Query(ctx, "get", id))
}

func (b *pgBaseline) list(ctx context.Context, limit int) ([]product, error) {
	return scanPostgres(b.pool.Query(ctx, "list", limit))
}

func (b *pgBaseline) listByPrice(ctx context.Context, minCents int64, limit int) ([]product, error) {
	return scanPostgres(b.pool.Query(ctx, "byPrice", float64(minCents)/100, limit))
}

func (b *pgBaseline) insert(ctx context.Context, p product, cents int64, now time.Time) error {
	_, err := b.pool.Exec(ctx, "insert", p.ID, now, now, p.Name, nil, float64(cents)/100, nil, p.Stock, true, nil)
	return err
}

func (b *pgBaseline) patch(ctx context.Context, id string, cents int64, now time.Time) ([]product, error) {
	return scanPostgres(b.pool.Query(ctx, "patch", float64(cents)/100, now, id))
}

func scanPostgres(rows pgx.Rows, err error) ([]product, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []product
	for rows.Next() {
		var p product
		var created, updated time.Time
		var tags *string
		if err := rows.Scan(&p.ID, &created, &updated, &p.Name, &p.Description, &p.Price, &p.Sku, &p.Stock,
			&p.Active, &p.Category, &tags); err != nil {
			return nil, err
		}
		p.CreatedAt, p.UpdatedAt = created.UTC().Format(timeLayout), updated.UTC().Format(timeLayout)
		p.Tags = []string{}
		if tags != nil {
			p.Tags = splitTags(*tags)
		}
		items = append(items, p)
	}
	return items, rows.Err()
}

// seed copies rows products into the table and returns their ids.
func (b *pgBaseline) seed(rows int) ([]string, error) {
	ids := make([]string, rows)
	now := time.Now().UTC()
	src := make([][]any, rows)
	for i := range rows {
		ids[i] = uuid.Must(uuid.NewV7()).String()
		src[i] = []any{ids[i], now, now, fmt.Sprintf("Product %05d", i), nil, float64(priceCents(i)) / 100, nil, int64(i % 50), true, nil}
	}
	cols := []string{"id", "created_at", "updated_at", "name", "description", "price", "sku", "stock", "active", "category_id"}
	_, err := b.pool.CopyFrom(context.Background(), pgx.Identifier{"products"}, cols, pgx.CopyFromRows(src))
	return ids, err
}
