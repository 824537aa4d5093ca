"""The gateway's Prometheus metrics (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CONNECTIONS = Gauge("gateway_connections", "Open websocket connections.")
ROOMS = Gauge("gateway_rooms_subscribed", "Room channels this process is subscribed to.")
FRAMES_IN = Counter("gateway_frames_in_total", "Client frames received.")
FRAMES_OUT = Counter("gateway_frames_out_total", "Frames written to clients.")
SLOW_CONSUMERS = Counter(
    "gateway_slow_consumer_disconnects_total", "Connections closed for not reading (4008)."
)
FLOODS = Counter(
    "gateway_flood_disconnects_total", "Connections closed for flooding past the rate (1008)."
)
REFUSED = Counter(
    "gateway_connections_refused_total",
    "Connections refused: over the per-user cap (4029), the per-address connect rate (429), "
    "or while connects are backed up (503).",
)
RESUMES = Counter("gateway_resumes_total", "resume requests served.")
GAP_FILLS = Counter("gateway_gap_fills_total", "Messages delivered from history to fill a gap.")
GAP_FILL_FAILURES = Counter(
    "gateway_gap_fill_failures_total",
    "History reads to fill a gap that failed (retried with back-off; the gap stays pending).",
)
CATCHUP = Counter("gateway_catchup_frames_total", "Messages sent to one client from history.")
BAD_PAYLOADS = Counter("gateway_bad_payloads_total", "Room-channel payloads that did not parse.")
REDIS_RECONNECTS = Counter("gateway_redis_reconnects_total", "Pub/sub reconnections.")
SEND_BATCH = Histogram(
    "gateway_send_batch_size",
    "send frames forwarded to message-service in one call.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
SEND_ACK_SECONDS = Histogram(
    "gateway_send_ack_seconds",
    "Time from a send frame taken off the connection to its ack or error written back.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
DELIVERY_LAG_SECONDS = Histogram(
    "gateway_delivery_lag_seconds",
    "Time from message-service's commit (the payload's publish stamp) to this gateway handing "
    "the frame to its connections.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
