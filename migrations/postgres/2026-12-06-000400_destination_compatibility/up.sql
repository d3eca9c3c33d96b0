-- What the last deep test's compatibility probe found (JSON), used by the provider.
ALTER TABLE destinations ADD COLUMN compatibility TEXT;
