-- kiln migration 0003 revocations (sqlite), written by kiln migrate plan.

DROP TABLE "kiln_revocations";
