-- kiln migration 0001 init (postgres), written by kiln migrate plan.

DROP TABLE "order_items";

DROP TABLE "orders";

DROP TABLE "customers";

DROP TABLE "products_tags";

DROP TABLE "products";

DROP TABLE "tags";

DROP TABLE "categories";
