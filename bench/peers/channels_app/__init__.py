"""Peer 3: Django Channels 4 with channels_redis, served by uvicorn (``asgi:application``)."""
