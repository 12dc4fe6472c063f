-- kiln migration 0003 revocations (postgres), written by kiln migrate plan.

DROP TABLE "kiln_revocations";
