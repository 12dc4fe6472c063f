-- kiln migration 0006 idempotency (postgres), written by kiln migrate plan.

DROP TABLE "kiln_idempotency";
