-- kiln migration 0010 files (sqlite), written by kiln migrate plan.

CREATE TABLE "kiln_new_products" (
  "id" TEXT NOT NULL,
  "created_at" TEXT NOT NULL,
  "updated_at" TEXT NOT NULL,
  "kiln_version" INTEGER NOT NULL DEFAULT 1,
  "name" TEXT NOT NULL,
  "description" TEXT,
  "price" INTEGER NOT NULL,
  "sku" TEXT,
  "stock" INTEGER DEFAULT 0,
  "active" INTEGER DEFAULT 1,
  "category_id" TEXT REFERENCES "categories" ("id") ON DELETE SET NULL,
  PRIMARY KEY ("id")
);

INSERT INTO "kiln_new_products" ("id", "created_at", "updated_at", "kiln_version", "name", "description", "price", "sku", "stock", "active", "category_id") SELECT "id", "created_at", "updated_at", "kiln_version", "name", "description", "price", "sku", "stock", "active", "category_id" FROM "products";

DROP TABLE "products";

ALTER TABLE "kiln_new_products" RENAME TO "products";

CREATE UNIQUE INDEX "products_sku_key" ON "products" ("sku");

CREATE INDEX "products_category_id_idx" ON "products" ("category_id");

CREATE INDEX "products_category_id_price_idx" ON "products" ("category_id", "price");

CREATE INDEX "products_price_idx" ON "products" ("price");

CREATE INDEX "products_name_idx" ON "products" ("name");

CREATE TABLE "kiln_new_orders" (
  "id" TEXT NOT NULL,
  "created_at" TEXT NOT NULL,
  "updated_at" TEXT NOT NULL,
  "kiln_version" INTEGER NOT NULL DEFAULT 1,
  "customer_id" TEXT REFERENCES "customers" ("id") ON DELETE SET NULL,
  "owner_id" TEXT REFERENCES "users" ("id") ON DELETE SET NULL,
  "status" TEXT DEFAULT 'pending',
  "total" INTEGER DEFAULT 0,
  "placed_at" TEXT,
  "notes" TEXT,
  PRIMARY KEY ("id")
);

INSERT INTO "kiln_new_orders" ("id", "created_at", "updated_at", "kiln_version", "customer_id", "owner_id", "status", "total", "placed_at", "notes") SELECT "id", "created_at", "updated_at", "kiln_version", "customer_id", "owner_id", "status", "total", "placed_at", "notes" FROM "orders";

DROP TABLE "orders";

ALTER TABLE "kiln_new_orders" RENAME TO "orders";

CREATE INDEX "orders_customer_id_idx" ON "orders" ("customer_id");

CREATE INDEX "orders_owner_id_idx" ON "orders" ("owner_id");

CREATE INDEX "orders_customer_id_created_at_idx" ON "orders" ("customer_id", "created_at");

CREATE INDEX "orders_status_idx" ON "orders" ("status");

DROP INDEX "kiln_sessions_expires_idx";

DROP INDEX "kiln_action_tokens_expires_idx";
