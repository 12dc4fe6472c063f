-- kiln migration 0005 business_logic (postgres), written by kiln migrate plan.

ALTER TABLE "order_items" DROP COLUMN "line_total";
