-- kiln migration 0002 auth (postgres), written by kiln migrate plan.

DROP TABLE "kiln_action_tokens";

DROP TABLE "kiln_api_keys";

DROP TABLE "kiln_sessions";

DROP TABLE "users";

DROP INDEX "orders_owner_id_idx";

ALTER TABLE "orders" DROP COLUMN "owner_id";
