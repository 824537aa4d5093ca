"""``make bench``: our system and two peers under one load generator, side by side."""
