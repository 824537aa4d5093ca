-- Site administrators, deactivated accounts, and the append-only audit log of account
-- moderation (docs/api/auth.md).
ALTER TABLE auth.users
    ADD COLUMN is_admin boolean NOT NULL DEFAULT false,
    ADD COLUMN deactivated_at timestamptz;

CREATE TABLE auth.audit (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id  uuid,  -- NULL: the operator's command line (make-admin)
    action    text NOT NULL,
    target_id uuid,
    detail    jsonb NOT NULL DEFAULT '{}'
);
CREATE FUNCTION auth.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'auth.audit is append-only';
END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON auth.audit
    FOR EACH ROW EXECUTE FUNCTION auth.audit_append_only();
