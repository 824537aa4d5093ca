-- Accounts, their refresh tokens and avatars. Emails are kept as typed; email_key is the
-- NFC-normalised, case-folded form that makes them unique.
CREATE TABLE auth.users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL,
    email_key     text NOT NULL,
    password_hash text NOT NULL,
    display_name  text NOT NULL,
    status_text   text NOT NULL DEFAULT '',
    avatar_type   text,
    avatar_etag   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON auth.users (email_key);
-- Directory search: prefix match on the folded display name and on the email key.
CREATE INDEX users_display_name_prefix ON auth.users (lower(display_name) text_pattern_ops, id);
CREATE INDEX users_email_key_prefix ON auth.users (email_key text_pattern_ops);

CREATE TABLE auth.avatars (
    user_id      uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    content_type text NOT NULL,
    data         bytea NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- A family is one login's chain of refresh tokens; reuse of a spent token revokes it whole.
CREATE TABLE auth.refresh_families (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX refresh_families_user ON auth.refresh_families (user_id);

-- Only a SHA-256 of each token is stored; the token itself exists only with the client.
CREATE TABLE auth.refresh_tokens (
    token_hash bytea PRIMARY KEY,
    family_id  uuid NOT NULL REFERENCES auth.refresh_families (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_family ON auth.refresh_tokens (family_id);
