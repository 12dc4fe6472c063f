-- kiln migration 0005 business_logic (sqlite), written by kiln migrate plan.

CREATE TABLE "kiln_new_order_items" (
  "id" TEXT NOT NULL,
  "created_at" TEXT NOT NULL,
  "updated_at" TEXT NOT NULL,
  "kiln_version" INTEGER NOT NULL DEFAULT 1,
  "order_id" TEXT NOT NULL REFERENCES "orders" ("id") ON DELETE RESTRICT,
  "product_id" TEXT NOT NULL REFERENCES "products" ("id") ON DELETE RESTRICT,
  "quantity" INTEGER NOT NULL,
  "unit_price" INTEGER NOT NULL,
  PRIMARY KEY ("id")
);

INSERT INTO "kiln_new_order_items" ("id", "created_at", "updated_at", "kiln_version", "order_id", "product_id", "quantity", "unit_price") SELECT "id", "created_at", "updated_at", "kiln_version", "order_id", "product_id", "quantity", "unit_price" FROM "order_items";

DROP TABLE "order_items";

ALTER TABLE "kiln_new_order_items" RENAME TO "order_items";

CREATE INDEX "order_items_order_id_idx" ON "order_items" ("order_id");

CREATE INDEX "order_items_product_id_idx" ON "order_items" ("product_id");

CREATE UNIQUE INDEX "order_items_order_id_product_id_key" ON "order_items" ("order_id", "product_id");
