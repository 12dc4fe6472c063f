-- kiln migration 0001 init (sqlite), written by kiln migrate plan.
-- kiln-schema: {"tables":[{"name":"categories","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"name","type":"text","not_null":true},{"name":"slug","type":"text","not_null":true},{"name":"description","type":"text"}],"indexes":[{"name":"categories_name_key","columns":["name"],"unique":true},{"name":"categories_slug_key","columns":["slug"],"unique":true}],"primary_key":["id"]},{"name":"tags","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"name","type":"text","not_null":true}],"indexes":[{"name":"tags_name_key","columns":["name"],"unique":true}],"primary_key":["id"]},{"name":"products","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"name","type":"text","not_null":true},{"name":"description","type":"text"},{"name":"price","type":"decimal(12,2)","not_null":true},{"name":"sku","type":"text"},{"name":"stock","type":"integer","default":"0"},{"name":"active","type":"boolean","default":"true"},{"name":"category_id","type":"uuid","references":"categories","on_delete":"SET NULL"}],"indexes":[{"name":"products_sku_key","columns":["sku"],"unique":true},{"name":"products_category_id_idx","columns":["category_id"]},{"name":"products_category_id_price_idx","columns":["category_id","price"]},{"name":"products_price_idx","columns":["price"]},{"name":"products_name_idx","columns":["name"]}],"primary_key":["id"]},{"name":"products_tags","columns":[{"name":"source_id","type":"uuid","not_null":true,"references":"products","on_delete":"CASCADE"},{"name":"target_id","type":"uuid","not_null":true,"references":"tags","on_delete":"CASCADE"},{"name":"position","type":"integer","not_null":true,"default":"0"}],"indexes":[{"name":"products_tags_target_id_idx","columns":["target_id"]}],"primary_key":["source_id","target_id"]},{"name":"customers","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"email","type":"text","not_null":true},{"name":"name","type":"text","not_null":true},{"name":"phone","type":"text"}],"indexes":[{"name":"customers_email_key","columns":["email"],"unique":true}],"primary_key":["id"]},{"name":"orders","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"customer_id","type":"uuid","not_null":true,"references":"customers","on_delete":"RESTRICT"},{"name":"status","type":"text","default":"pending"},{"name":"total","type":"decimal(12,2)","default":"0"},{"name":"placed_at","type":"timestamp"},{"name":"notes","type":"text"}],"indexes":[{"name":"orders_customer_id_idx","columns":["customer_id"]},{"name":"orders_customer_id_created_at_idx","columns":["customer_id","created_at"]},{"name":"orders_status_idx","columns":["status"]}],"primary_key":["id"]},{"name":"order_items","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"order_id","type":"uuid","not_null":true,"references":"orders","on_delete":"RESTRICT"},{"name":"product_id","type":"uuid","not_null":true,"references":"products","on_delete":"RESTRICT"},{"name":"quantity","type":"integer","not_null":true},{"name":"unit_price","type":"decimal(12,2)","not_null":true}],"indexes":[{"name":"order_items_order_id_idx","columns":["order_id"]},{"name":"order_items_product_id_idx","columns":["product_id"]},{"name":"order_items_order_id_product_id_key","columns":["order_id","product_id"],"unique":true}],"primary_key":["id"]}]}
-- create table categories
-- create table tags
-- create table products
-- create table products_tags
-- create table customers
-- create table orders
-- create table order_items

CREATE TABLE "categories" (
  "id" TEXT NOT NULL,
  "created_at" TEXT NOT NULL,
  "updated_at" TEXT NOT NULL,
  "kiln_version" INTEGER NOT NULL DEFAULT 1,
  "name" TEXT NOT NULL,
  "slug" TEXT NOT NULL,
  "description" TEXT,
  PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "categories_name_key" ON "categories" ("name");

CREATE UNIQUE INDEX "categories_slug_key" ON "categories" ("slug");

CREATE TABLE "tags" (
  "id" TEXT NOT NULL,
  "created_at" TEXT NOT NULL,
  "updated_at" TEXT NOT NULL,
  "kiln_version" INTEGER NOT NULL DEFAULT 1,
  "name" TEXT NOT NULL,
  PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "tags_name_key" ON "tags" ("name");

CREATE TABLE "products" (
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

CREATE UNIQUE INDEX "products_sku_key" ON "products" ("sku");

CREATE INDEX "products_category_id_idx" ON "products" ("category_id");

CREATE INDEX "products_category_id_price_idx" ON "products" ("category_id", "price");

CREATE INDEX "products_price_idx" ON "products" ("price");

CREATE INDEX "products_name_idx" ON "products" ("name");

CREATE TABLE "products_tags" (
  "source_id" TEXT NOT NULL REFERENCES "products" ("id") ON DELETE CASCADE,
  "target_id" TEXT NOT NULL REFERENCES "tags" ("id") ON DELETE CASCADE,
  "position" INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY ("source_id", "target_id")
);

CREATE INDEX "products_tags_target_id_idx" ON "products_tags" ("target_id");

CREATE TABLE "customers" (
  "id" TEXT NOT NULL,
  "created_at" TEXT NOT NULL,
  "updated_at" TEXT NOT NULL,
  "kiln_version" INTEGER NOT NULL DEFAULT 1,
  "email" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "phone" TEXT,
  PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "customers_email_key" ON "customers" ("email");

CREATE TABLE "orders" (
  "id" TEXT NOT NULL,
  "created_at" TEXT NOT NULL,
  "updated_at" TEXT NOT NULL,
  "kiln_version" INTEGER NOT NULL DEFAULT 1,
  "customer_id" TEXT NOT NULL REFERENCES "customers" ("id") ON DELETE RESTRICT,
  "status" TEXT DEFAULT 'pending',
  "total" INTEGER DEFAULT 0,
  "placed_at" TEXT,
  "notes" TEXT,
  PRIMARY KEY ("id")
);

CREATE INDEX "orders_customer_id_idx" ON "orders" ("customer_id");

CREATE INDEX "orders_customer_id_created_at_idx" ON "orders" ("customer_id", "created_at");

CREATE INDEX "orders_status_idx" ON "orders" ("status");

CREATE TABLE "order_items" (
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

CREATE INDEX "order_items_order_id_idx" ON "order_items" ("order_id");

CREATE INDEX "order_items_product_id_idx" ON "order_items" ("product_id");

CREATE UNIQUE INDEX "order_items_order_id_product_id_key" ON "order_items" ("order_id", "product_id");
