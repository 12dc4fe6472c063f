-- kiln migration 0012 events_sqlite_indexes (sqlite), written by kiln migrate plan.

CREATE INDEX "kiln_events_created_idx" ON "kiln_events" ("created_at");

CREATE INDEX "kiln_events_txid_idx" ON "kiln_events" ("txid", "id");
