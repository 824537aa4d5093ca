-- Directory search by any part of a display name (Korean included): a trigram index on the
-- folded name serves LIKE '%...%' for queries of 3 characters or more; 2-character queries
-- scan (docs/api/auth.md has the measured times). Emails are matched only exactly, through
-- the unique email_key index, so the prefix index on them goes.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_display_name_trgm ON auth.users USING gin (lower(display_name) gin_trgm_ops);
DROP INDEX auth.users_email_key_prefix;
