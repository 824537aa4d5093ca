-- Notifications: preferences, Web Push subscriptions, webhooks, the outbox the send
-- transaction writes to and the deliveries the worker makes of it (docs/operations.md).

-- A user without a row has the default level, 'mentions' (direct messages and mentions).
CREATE TABLE messages.notify_settings (
    user_id uuid PRIMARY KEY,
    level   text NOT NULL CHECK (level IN ('all', 'mentions', 'none')),
    rooms   jsonb NOT NULL DEFAULT '{}'
);

-- One browser subscription per endpoint: subscribing it again (maybe as another user on the
-- same browser) takes it over.
CREATE TABLE messages.push_subscriptions (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL,
    endpoint   text NOT NULL UNIQUE,
    p256dh     text NOT NULL,
    auth       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX push_subscriptions_user ON messages.push_subscriptions (user_id);

CREATE TABLE messages.webhooks (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL,
    url        text NOT NULL,
    secret     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_user ON messages.webhooks (user_id);

-- One row per committed message that may notify someone (a direct message, or one with
-- mentions), written in the send's own transaction; the worker expands it into deliveries
-- and deletes it in one transaction. ``job``: recipients, sender name, room title, reason.
CREATE TABLE messages.notify_outbox (
    message_id uuid PRIMARY KEY,
    job        jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per (message, channel target). ``id`` is the X-Chat-Delivery id: the same on every
-- attempt. A claimed row's next_at is pushed one lease ahead, so a worker that dies
-- mid-attempt leaves it to the next.
CREATE TABLE messages.notify_deliveries (
    id         uuid PRIMARY KEY,
    message_id uuid NOT NULL,
    user_id    uuid NOT NULL,
    channel    text NOT NULL CHECK (channel IN ('push', 'webhook')),
    target_id  uuid NOT NULL,
    payload    jsonb NOT NULL,
    state      text NOT NULL DEFAULT 'pending'
               CHECK (state IN ('pending', 'delivered', 'dead', 'dropped')),
    attempts   integer NOT NULL DEFAULT 0,
    next_at    timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    CONSTRAINT notify_deliveries_once UNIQUE (message_id, channel, target_id)
);
CREATE INDEX notify_deliveries_due ON messages.notify_deliveries (next_at)
    WHERE state = 'pending';
CREATE INDEX notify_deliveries_dead ON messages.notify_deliveries (created_at)
    WHERE state = 'dead';
