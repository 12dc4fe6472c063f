-- kiln migration 0008 webhooks (sqlite), written by kiln migrate plan.

DROP TABLE "kiln_webhook_attempts";

DROP TABLE "kiln_webhook_messages";

DROP TABLE "kiln_webhooks";
