DROP TRIGGER destinations_numbered ON destinations;
DROP FUNCTION devpilot_number_destination();
DROP TABLE destination_numbers;
