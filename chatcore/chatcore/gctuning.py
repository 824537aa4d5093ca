"""The garbage collector's settings for a serving process (every service and the gateway).

A serving process allocates two kinds of objects: a request's or a frame's, short-lived and
freed by reference counting, and long-lived ones (modules, pools, caches, connections). With
Python's defaults (a young collection every 700 net allocations) the collector walked the
long-lived ones again and again:
- message-service in the direct-rooms benchmark spent 0.9 s of 4.6 s of CPU in the collector,
  most of it in full collections of about 45 ms each, which also stall every request as long;
- the gateway, in a reconnect storm, scanned each connection's objects over and over while
  building the next ones: half the CPU of building them (0.9 s of 1.7 s for 300,000 small
  objects; 0.4 s with these settings).
So what exists when the process starts serving is moved out of the collector's sight
(:func:`gc.freeze`), and young collections come every 10,000 net allocations. Cycles are
still collected, in larger batches.
"""

from __future__ import annotations

import gc

# Net allocations between two collections of the youngest generation (Python's default: 700).
YOUNG = 10_000


def tune() -> None:
    """Collect what startup left, freeze the rest, and space the young collections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, 10, 10)
