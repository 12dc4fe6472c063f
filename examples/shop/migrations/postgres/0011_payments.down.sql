-- kiln migration 0011 payments (postgres), written by kiln migrate plan.

DROP TABLE "kiln_payment_customers";

DROP TABLE "kiln_payments";

DROP TABLE "kiln_webhook_inbox";
