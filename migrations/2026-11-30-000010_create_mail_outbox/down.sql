DROP TABLE mail_quota;
DROP TABLE mail_outbox;
