-- kiln migration 0012 events_txid_index (postgres), written by kiln migrate plan.

CREATE INDEX "kiln_events_txid_idx" ON "kiln_events" ("txid", "id");
