-- Spec 003's dialect (/api/backup-destinations) names destinations by integers. Each destination
-- gets one when it is created, through whichever door, and keeps it; a number is never reused
-- (a sequence), so a script holding an old number gets 404, never another destination.
CREATE TABLE destination_numbers (
    number BIGSERIAL PRIMARY KEY,
    destination_id TEXT NOT NULL UNIQUE REFERENCES destinations (id) ON DELETE CASCADE
);
INSERT INTO destination_numbers (destination_id) SELECT id FROM destinations ORDER BY created_at, id;
CREATE FUNCTION devpilot_number_destination() RETURNS trigger AS $$
BEGIN
    INSERT INTO destination_numbers (destination_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER destinations_numbered AFTER INSERT ON destinations
    FOR EACH ROW EXECUTE FUNCTION devpilot_number_destination();
