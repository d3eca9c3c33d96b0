DROP TRIGGER destinations_numbered;
DROP TABLE destination_numbers;
