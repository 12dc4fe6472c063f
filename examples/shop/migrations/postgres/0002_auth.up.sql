-- kiln migration 0002 auth (postgres), written by kiln migrate plan.
-- kiln-schema: {"tables":[{"name":"users","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"name","type":"text"},{"name":"email","type":"text","not_null":true},{"name":"password_hash","type":"text"},{"name":"role","type":"text","not_null":true,"default":"customer"},{"name":"verified","type":"boolean","not_null":true,"default":"false"},{"name":"disabled","type":"boolean","not_null":true,"default":"false"}],"indexes":[{"name":"users_email_key","columns":["email"],"unique":true}],"primary_key":["id"]},{"name":"categories","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"name","type":"text","not_null":true},{"name":"slug","type":"text","not_null":true},{"name":"description","type":"text"}],"indexes":[{"name":"categories_name_key","columns":["name"],"unique":true},{"name":"categories_slug_key","columns":["slug"],"unique":true}],"primary_key":["id"]},{"name":"tags","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"name","type":"text","not_null":true}],"indexes":[{"name":"tags_name_key","columns":["name"],"unique":true}],"primary_key":["id"]},{"name":"products","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"name","type":"text","not_null":true},{"name":"description","type":"text"},{"name":"price","type":"decimal(12,2)","not_null":true},{"name":"sku","type":"text"},{"name":"stock","type":"integer","default":"0"},{"name":"active","type":"boolean","default":"true"},{"name":"category_id","type":"uuid","references":"categories","on_delete":"SET NULL"}],"indexes":[{"name":"products_sku_key","columns":["sku"],"unique":true},{"name":"products_category_id_idx","columns":["category_id"]},{"name":"products_category_id_price_idx","columns":["category_id","price"]},{"name":"products_price_idx","columns":["price"]},{"name":"products_name_idx","columns":["name"]}],"primary_key":["id"]},{"name":"products_tags","columns":[{"name":"source_id","type":"uuid","not_null":true,"references":"products","on_delete":"CASCADE"},{"name":"target_id","type":"uuid","not_null":true,"references":"tags","on_delete":"CASCADE"},{"name":"position","type":"integer","not_null":true,"default":"0"}],"indexes":[{"name":"products_tags_target_id_idx","columns":["target_id"]}],"primary_key":["source_id","target_id"]},{"name":"customers","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"email","type":"text","not_null":true},{"name":"name","type":"text","not_null":true},{"name":"phone","type":"text"}],"indexes":[{"name":"customers_email_key","columns":["email"],"unique":true}],"primary_key":["id"]},{"name":"orders","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"customer_id","type":"uuid","not_null":true,"references":"customers","on_delete":"RESTRICT"},{"name":"owner_id","type":"uuid","references":"users","on_delete":"SET NULL"},{"name":"status","type":"text","default":"pending"},{"name":"total","type":"decimal(12,2)","default":"0"},{"name":"placed_at","type":"timestamp"},{"name":"notes","type":"text"}],"indexes":[{"name":"orders_customer_id_idx","columns":["customer_id"]},{"name":"orders_owner_id_idx","columns":["owner_id"]},{"name":"orders_customer_id_created_at_idx","columns":["customer_id","created_at"]},{"name":"orders_status_idx","columns":["status"]}],"primary_key":["id"]},{"name":"order_items","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"order_id","type":"uuid","not_null":true,"references":"orders","on_delete":"RESTRICT"},{"name":"product_id","type":"uuid","not_null":true,"references":"products","on_delete":"RESTRICT"},{"name":"quantity","type":"integer","not_null":true},{"name":"unit_price","type":"decimal(12,2)","not_null":true}],"indexes":[{"name":"order_items_order_id_idx","columns":["order_id"]},{"name":"order_items_product_id_idx","columns":["product_id"]},{"name":"order_items_order_id_product_id_key","columns":["order_id","product_id"],"unique":true}],"primary_key":["id"]},{"name":"kiln_sessions","columns":[{"name":"token_hash","type":"text","not_null":true},{"name":"family_id","type":"text","not_null":true},{"name":"account_id","type":"text","not_null":true},{"name":"created_at","type":"integer","not_null":true},{"name":"expires_at","type":"integer","not_null":true},{"name":"rotated_at","type":"integer"},{"name":"revoked_at","type":"integer"}],"indexes":[{"name":"kiln_sessions_family_idx","columns":["family_id"]},{"name":"kiln_sessions_account_idx","columns":["account_id"]}],"primary_key":["token_hash"]},{"name":"kiln_api_keys","columns":[{"name":"id","type":"text","not_null":true},{"name":"prefix","type":"text","not_null":true},{"name":"secret_hash","type":"text","not_null":true},{"name":"name","type":"text","not_null":true},{"name":"role","type":"text","not_null":true},{"name":"scopes","type":"text","not_null":true},{"name":"created_by","type":"text"},{"name":"created_at","type":"integer","not_null":true},{"name":"expires_at","type":"integer"},{"name":"last_used_at","type":"integer"},{"name":"revoked_at","type":"integer"}],"indexes":[{"name":"kiln_api_keys_prefix_key","columns":["prefix"],"unique":true}],"primary_key":["id"]},{"name":"kiln_action_tokens","columns":[{"name":"token_hash","type":"text","not_null":true},{"name":"purpose","type":"text","not_null":true},{"name":"account_id","type":"text","not_null":true},{"name":"expires_at","type":"integer","not_null":true},{"name":"used_at","type":"integer"},{"name":"email","type":"text"},{"name":"role","type":"text"}],"primary_key":["token_hash"]}]}
-- create table users
-- add column orders.owner_id uuid
-- create index orders_owner_id_idx on orders(owner_id)
-- create table kiln_sessions
-- create table kiln_api_keys
-- create table kiln_action_tokens

CREATE TABLE "users" (
  "id" UUID NOT NULL,
  "created_at" TIMESTAMPTZ NOT NULL,
  "updated_at" TIMESTAMPTZ NOT NULL,
  "kiln_version" BIGINT NOT NULL DEFAULT 1,
  "name" TEXT,
  "email" TEXT NOT NULL,
  "password_hash" TEXT,
  "role" TEXT NOT NULL DEFAULT 'customer',
  "verified" BOOLEAN NOT NULL DEFAULT FALSE,
  "disabled" BOOLEAN NOT NULL DEFAULT FALSE,
  PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "users_email_key" ON "users" ("email");

ALTER TABLE "orders" ADD COLUMN "owner_id" UUID CONSTRAINT "orders_owner_id_fkey" REFERENCES "users" ("id") ON DELETE SET NULL;

CREATE INDEX "orders_owner_id_idx" ON "orders" ("owner_id");

CREATE TABLE "kiln_sessions" (
  "token_hash" TEXT NOT NULL,
  "family_id" TEXT NOT NULL,
  "account_id" TEXT NOT NULL,
  "created_at" BIGINT NOT NULL,
  "expires_at" BIGINT NOT NULL,
  "rotated_at" BIGINT,
  "revoked_at" BIGINT,
  PRIMARY KEY ("token_hash")
);

CREATE INDEX "kiln_sessions_family_idx" ON "kiln_sessions" ("family_id");

CREATE INDEX "kiln_sessions_account_idx" ON "kiln_sessions" ("account_id");

CREATE TABLE "kiln_api_keys" (
  "id" TEXT NOT NULL,
  "prefix" TEXT NOT NULL,
  "secret_hash" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "role" TEXT NOT NULL,
  "scopes" TEXT NOT NULL,
  "created_by" TEXT,
  "created_at" BIGINT NOT NULL,
  "expires_at" BIGINT,
  "last_used_at" BIGINT,
  "revoked_at" BIGINT,
  PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "kiln_api_keys_prefix_key" ON "kiln_api_keys" ("prefix");

CREATE TABLE "kiln_action_tokens" (
  "token_hash" TEXT NOT NULL,
  "purpose" TEXT NOT NULL,
  "account_id" TEXT NOT NULL,
  "expires_at" BIGINT NOT NULL,
  "used_at" BIGINT,
  "email" TEXT,
  "role" TEXT,
  PRIMARY KEY ("token_hash")
);
