-- kiln migration 0006 idempotency (sqlite), written by kiln migrate plan.

DROP TABLE "kiln_idempotency";
