DROP TABLE notification_episodes;
DROP TABLE notification_deliveries;
DROP TABLE notification_outbox;
DROP TABLE plan_pings;
DROP TABLE notification_channels;
