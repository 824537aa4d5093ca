"""message-service's own Prometheus metrics (the HTTP ones come from chatcore)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PERSISTED = Counter("messages_persisted_total", "Messages committed to Postgres.")
DUPLICATES = Counter(
    "messages_duplicate_sends_total", "Sends answered with an earlier message (same key)."
)
BATCH_SIZE = Histogram(
    "messages_batch_size",
    "Sends committed together in one group-commit transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
COMMIT_SECONDS = Histogram(
    "messages_batch_commit_seconds",
    "Time to commit one batch of sends.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
BATCH_RETRIES = Counter(
    "messages_batch_retries_total", "Batches retried after a deadlock or serialization error."
)
PUBLISHED = Counter("messages_published_total", "Room-channel payloads published to Redis.")
PUBLISH_FAILURES = Counter(
    "messages_publish_failures_total",
    "Room-channel payloads not published (Redis down or queue full); the gateway fills the gap.",
)
MEMBERSHIP_LOOKUPS = Counter(
    "messages_membership_lookups_total",
    "Membership checks that asked room-service, by answer.",
    ["answer"],
)
MEMBERSHIP_RESETS = Counter(
    "messages_membership_cache_resets_total",
    "Times the whole membership cache was dropped ((re)subscribe to the membership channel).",
)
MEMBERSHIP_LISTENING = Gauge(
    "messages_membership_channel_subscribed",
    "1 while the membership channel is subscribed (membership answers are cached), else 0.",
)
RATE_LIMIT_UNCHECKED = Counter(
    "messages_rate_limit_unchecked_total", "Sends let through because Redis could not be asked."
)
NOTIFY_EXPANDED = Counter(
    "messages_notify_outbox_expanded_total",
    "Outbox rows (messages that may notify) expanded into deliveries.",
)
NOTIFY_SKIPPED = Counter(
    "messages_notify_skipped_total",
    "Candidate recipients not notified, by reason (online, preferences, no_channel).",
    ["reason"],
)
NOTIFY_DELIVERIES = Counter(
    "messages_notify_deliveries_total",
    "Delivery attempts by channel (push, webhook) and outcome (delivered, retried, dead, "
    "dropped: the subscription or webhook is gone).",
    ["channel", "outcome"],
)
NOTIFY_PENDING = Gauge(
    "messages_notify_pending", "Deliveries waiting for an attempt or a retry (all replicas)."
)
NOTIFY_DEAD = Gauge(
    "messages_notify_dead",
    "Deliveries given up after retrying for MESSAGES_NOTIFY_RETRY_FOR (all replicas).",
)
NOTIFY_OUTBOX = Gauge(
    "messages_notify_outbox", "Outbox rows not yet expanded into deliveries (all replicas)."
)

READS = Counter(
    "messages_reads_total",
    "History and unread reads, by the server that answered (replica or primary).",
    ["server"],
)
READ_WAIT_EXPIRED = Counter(
    "messages_read_replica_wait_expired_total",
    "Reads sent to the primary because the replica had not replayed the caller's writes in time.",
)
NOTIFY_OUTBOX_LAG = Histogram(
    "messages_notify_outbox_lag_seconds",
    "Time from a message's commit (its outbox row) to the notify worker expanding it into "
    "deliveries.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
