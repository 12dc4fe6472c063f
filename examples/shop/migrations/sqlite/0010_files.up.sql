-- kiln migration 0010 files (sqlite), written by kiln migrate plan.
-- kiln-schema: {"tables":[{"name":"users","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"name","type":"text"},{"name":"email","type":"text","not_null":true},{"name":"password_hash","type":"text"},{"name":"role","type":"text","not_null":true,"default":"customer"},{"name":"verified","type":"boolean","not_null":true,"default":"false"},{"name":"disabled","type":"boolean","not_null":true,"default":"false"}],"indexes":[{"name":"users_email_key","columns":["email"],"unique":true}],"primary_key":["id"]},{"name":"categories","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"name","type":"text","not_null":true},{"name":"slug","type":"text","not_null":true},{"name":"description","type":"text"}],"indexes":[{"name":"categories_name_key","columns":["name"],"unique":true},{"name":"categories_slug_key","columns":["slug"],"unique":true}],"primary_key":["id"]},{"name":"tags","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"name","type":"text","not_null":true}],"indexes":[{"name":"tags_name_key","columns":["name"],"unique":true}],"primary_key":["id"]},{"name":"products","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"name","type":"text","not_null":true},{"name":"description","type":"text"},{"name":"price","type":"decimal(12,2)","not_null":true},{"name":"sku","type":"text"},{"name":"stock","type":"integer","default":"0"},{"name":"active","type":"boolean","default":"true"},{"name":"category_id","type":"uuid","references":"categories","on_delete":"SET NULL"},{"name":"image","type":"json"}],"indexes":[{"name":"products_sku_key","columns":["sku"],"unique":true},{"name":"products_category_id_idx","columns":["category_id"]},{"name":"products_category_id_price_idx","columns":["category_id","price"]},{"name":"products_price_idx","columns":["price"]},{"name":"products_name_idx","columns":["name"]}],"primary_key":["id"]},{"name":"products_tags","columns":[{"name":"source_id","type":"uuid","not_null":true,"references":"products","on_delete":"CASCADE"},{"name":"target_id","type":"uuid","not_null":true,"references":"tags","on_delete":"CASCADE"},{"name":"position","type":"integer","not_null":true,"default":"0"}],"indexes":[{"name":"products_tags_target_id_idx","columns":["target_id"]}],"primary_key":["source_id","target_id"]},{"name":"customers","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"email","type":"text","not_null":true},{"name":"name","type":"text","not_null":true},{"name":"phone","type":"text"}],"indexes":[{"name":"customers_email_key","columns":["email"],"unique":true}],"primary_key":["id"]},{"name":"orders","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"customer_id","type":"uuid","references":"customers","on_delete":"SET NULL"},{"name":"owner_id","type":"uuid","references":"users","on_delete":"SET NULL"},{"name":"status","type":"text","default":"pending"},{"name":"total","type":"decimal(12,2)","default":"0"},{"name":"placed_at","type":"timestamp"},{"name":"notes","type":"text"},{"name":"invoice","type":"json"}],"indexes":[{"name":"orders_customer_id_idx","columns":["customer_id"]},{"name":"orders_owner_id_idx","columns":["owner_id"]},{"name":"orders_customer_id_created_at_idx","columns":["customer_id","created_at"]},{"name":"orders_status_idx","columns":["status"]}],"primary_key":["id"]},{"name":"order_items","columns":[{"name":"id","type":"uuid","not_null":true},{"name":"created_at","type":"timestamp","not_null":true},{"name":"updated_at","type":"timestamp","not_null":true},{"name":"kiln_version","type":"integer","not_null":true,"default":"1"},{"name":"order_id","type":"uuid","not_null":true,"references":"orders","on_delete":"RESTRICT"},{"name":"product_id","type":"uuid","not_null":true,"references":"products","on_delete":"RESTRICT"},{"name":"quantity","type":"integer","not_null":true},{"name":"unit_price","type":"decimal(12,2)","not_null":true},{"name":"line_total","type":"decimal(12,2)"}],"indexes":[{"name":"order_items_order_id_idx","columns":["order_id"]},{"name":"order_items_product_id_idx","columns":["product_id"]},{"name":"order_items_order_id_product_id_key","columns":["order_id","product_id"],"unique":true}],"primary_key":["id"]},{"name":"kiln_sessions","columns":[{"name":"token_hash","type":"text","not_null":true},{"name":"family_id","type":"text","not_null":true},{"name":"account_id","type":"text","not_null":true},{"name":"created_at","type":"integer","not_null":true},{"name":"expires_at","type":"integer","not_null":true},{"name":"rotated_at","type":"integer"},{"name":"revoked_at","type":"integer"}],"indexes":[{"name":"kiln_sessions_family_idx","columns":["family_id"]},{"name":"kiln_sessions_account_idx","columns":["account_id"]},{"name":"kiln_sessions_expires_idx","columns":["expires_at"]}],"primary_key":["token_hash"]},{"name":"kiln_api_keys","columns":[{"name":"id","type":"text","not_null":true},{"name":"prefix","type":"text","not_null":true},{"name":"secret_hash","type":"text","not_null":true},{"name":"name","type":"text","not_null":true},{"name":"role","type":"text","not_null":true},{"name":"scopes","type":"text","not_null":true},{"name":"created_by","type":"text"},{"name":"created_at","type":"integer","not_null":true},{"name":"expires_at","type":"integer"},{"name":"last_used_at","type":"integer"},{"name":"revoked_at","type":"integer"}],"indexes":[{"name":"kiln_api_keys_prefix_key","columns":["prefix"],"unique":true}],"primary_key":["id"]},{"name":"kiln_action_tokens","columns":[{"name":"token_hash","type":"text","not_null":true},{"name":"purpose","type":"text","not_null":true},{"name":"account_id","type":"text","not_null":true},{"name":"expires_at","type":"integer","not_null":true},{"name":"used_at","type":"integer"},{"name":"email","type":"text"},{"name":"role","type":"text"}],"indexes":[{"name":"kiln_action_tokens_expires_idx","columns":["expires_at"]}],"primary_key":["token_hash"]},{"name":"kiln_revocations","columns":[{"name":"seq","type":"integer","not_null":true},{"name":"kind","type":"text","not_null":true},{"name":"subject","type":"text","not_null":true},{"name":"at","type":"integer","not_null":true},{"name":"expires_at","type":"integer","not_null":true}],"indexes":[{"name":"kiln_revocations_expires_idx","columns":["expires_at"]}],"primary_key":["seq"]},{"name":"kiln_idempotency","columns":[{"name":"scope","type":"text","not_null":true},{"name":"key","type":"text","not_null":true},{"name":"fingerprint","type":"text","not_null":true},{"name":"state","type":"text","not_null":true},{"name":"status","type":"integer"},{"name":"headers","type":"text"},{"name":"body","type":"text"},{"name":"created_at","type":"integer","not_null":true},{"name":"expires_at","type":"integer","not_null":true}],"indexes":[{"name":"kiln_idempotency_expires_idx","columns":["expires_at"]}],"primary_key":["scope","key"]},{"name":"kiln_events","columns":[{"name":"id","type":"serial","not_null":true},{"name":"resource","type":"text","not_null":true},{"name":"operation","type":"text","not_null":true},{"name":"action","type":"text"},{"name":"record_id","type":"text","not_null":true},{"name":"old_values","type":"text"},{"name":"new_values","type":"text"},{"name":"principal","type":"text"},{"name":"created_at","type":"integer","not_null":true},{"name":"txid","type":"integer","not_null":true,"default":"0"}],"indexes":[{"name":"kiln_events_created_idx","columns":["created_at"]},{"name":"kiln_events_txid_idx","columns":["txid","id"]}],"primary_key":["id"]},{"name":"kiln_webhooks","columns":[{"name":"id","type":"serial","not_null":true},{"name":"name","type":"text","not_null":true},{"name":"source","type":"text","not_null":true},{"name":"url","type":"text","not_null":true},{"name":"events","type":"text","not_null":true},{"name":"condition","type":"text"},{"name":"event_type","type":"text"},{"name":"secret_env","type":"text"},{"name":"secret","type":"text"},{"name":"previous_secret","type":"text"},{"name":"previous_until","type":"integer"},{"name":"disabled_at","type":"integer"},{"name":"disabled_reason","type":"text"},{"name":"created_at","type":"integer","not_null":true},{"name":"updated_at","type":"integer","not_null":true}],"indexes":[{"name":"kiln_webhooks_name_idx","columns":["name"],"unique":true}],"primary_key":["id"]},{"name":"kiln_webhook_messages","columns":[{"name":"id","type":"text","not_null":true},{"name":"subscription_id","type":"integer","not_null":true},{"name":"event_id","type":"integer","not_null":true},{"name":"event_type","type":"text","not_null":true},{"name":"body","type":"text","not_null":true},{"name":"state","type":"text","not_null":true},{"name":"attempts","type":"integer","not_null":true},{"name":"created_at","type":"integer","not_null":true},{"name":"updated_at","type":"integer","not_null":true}],"indexes":[{"name":"kiln_webhook_messages_sub_idx","columns":["subscription_id","state","created_at"]}],"primary_key":["id"]},{"name":"kiln_webhook_attempts","columns":[{"name":"id","type":"serial","not_null":true},{"name":"message_id","type":"text","not_null":true},{"name":"subscription_id","type":"integer","not_null":true},{"name":"event_id","type":"integer","not_null":true},{"name":"attempt","type":"integer","not_null":true},{"name":"status_code","type":"integer"},{"name":"latency_ms","type":"integer","not_null":true},{"name":"response","type":"text"},{"name":"error","type":"text"},{"name":"created_at","type":"integer","not_null":true}],"indexes":[{"name":"kiln_webhook_attempts_sub_idx","columns":["subscription_id","id"]}],"primary_key":["id"]}]}
-- add column products.image json
-- add column orders.invoice json
-- create index kiln_sessions_expires_idx on kiln_sessions(expires_at)
-- create index kiln_action_tokens_expires_idx on kiln_action_tokens(expires_at)

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
  "image" TEXT,
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
  "invoice" TEXT,
  PRIMARY KEY ("id")
);

INSERT INTO "kiln_new_orders" ("id", "created_at", "updated_at", "kiln_version", "customer_id", "owner_id", "status", "total", "placed_at", "notes") SELECT "id", "created_at", "updated_at", "kiln_version", "customer_id", "owner_id", "status", "total", "placed_at", "notes" FROM "orders";

DROP TABLE "orders";

ALTER TABLE "kiln_new_orders" RENAME TO "orders";

CREATE INDEX "orders_customer_id_idx" ON "orders" ("customer_id");

CREATE INDEX "orders_owner_id_idx" ON "orders" ("owner_id");

CREATE INDEX "orders_customer_id_created_at_idx" ON "orders" ("customer_id", "created_at");

CREATE INDEX "orders_status_idx" ON "orders" ("status");

CREATE INDEX "kiln_sessions_expires_idx" ON "kiln_sessions" ("expires_at");

CREATE INDEX "kiln_action_tokens_expires_idx" ON "kiln_action_tokens" ("expires_at");
