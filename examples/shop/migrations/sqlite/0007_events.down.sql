-- kiln migration 0007 events (sqlite), written by kiln migrate plan.

DROP TABLE "kiln_events";
