-- kiln migration 0007 events (postgres), written by kiln migrate plan.

DROP TABLE "kiln_events";
