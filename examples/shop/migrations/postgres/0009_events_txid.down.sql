-- kiln migration 0009 events_txid (postgres), written by kiln migrate plan.

DROP INDEX "kiln_events_txid_idx";

ALTER TABLE "kiln_events" DROP COLUMN "txid";
