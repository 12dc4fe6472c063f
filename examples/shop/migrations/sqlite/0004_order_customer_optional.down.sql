-- kiln migration 0004 order_customer_optional (sqlite), written by kiln migrate plan.

CREATE TABLE "kiln_new_orders" (
  "id" TEXT NOT NULL,
  "created_at" TEXT NOT NULL,
  "updated_at" TEXT NOT NULL,
  "kiln_version" INTEGER NOT NULL DEFAULT 1,
  "customer_id" TEXT NOT NULL REFERENCES "customers" ("id") ON DELETE RESTRICT,
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
