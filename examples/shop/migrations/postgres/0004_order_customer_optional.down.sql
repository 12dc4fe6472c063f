-- kiln migration 0004 order_customer_optional (postgres), written by kiln migrate plan.

ALTER TABLE "orders" DROP CONSTRAINT "orders_customer_id_fkey";

ALTER TABLE "orders" ALTER COLUMN "customer_id" SET NOT NULL;

ALTER TABLE "orders" ADD CONSTRAINT "orders_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers" ("id") ON DELETE RESTRICT;
