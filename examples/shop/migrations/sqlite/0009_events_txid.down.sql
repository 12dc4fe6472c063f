-- kiln migration 0009 events_txid (sqlite), written by kiln migrate plan.

CREATE TABLE "kiln_new_kiln_events" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "resource" TEXT NOT NULL,
  "operation" TEXT NOT NULL,
  "action" TEXT,
  "record_id" TEXT NOT NULL,
  "old_values" TEXT,
  "new_values" TEXT,
  "principal" TEXT,
  "created_at" INTEGER NOT NULL
);

INSERT INTO "kiln_new_kiln_events" ("id", "resource", "operation", "action", "record_id", "old_values", "new_values", "principal", "created_at") SELECT "id", "resource", "operation", "action", "record_id", "old_values", "new_values", "principal", "created_at" FROM "kiln_events";

DROP TABLE "kiln_events";

ALTER TABLE "kiln_new_kiln_events" RENAME TO "kiln_events";

CREATE INDEX "kiln_events_created_idx" ON "kiln_events" ("created_at");
