-- kiln migration 0010 files (postgres), written by kiln migrate plan.

ALTER TABLE "products" DROP COLUMN "image";

ALTER TABLE "orders" DROP COLUMN "invoice";

DROP INDEX "kiln_sessions_expires_idx";

DROP INDEX "kiln_action_tokens_expires_idx";
