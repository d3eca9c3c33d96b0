ALTER TABLE destinations DROP COLUMN next_revalidation_at;
DROP TABLE destination_tests;
