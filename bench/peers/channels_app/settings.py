"""The least Django settings a Channels app runs with; REDIS_URL and PREFIX from the
environment. The layer is channels_redis' RedisChannelLayer: the one its documentation sets up
first and Channels' own documentation uses (RedisPubSubChannelLayer is marked beta). Its
options are its defaults (capacity 100, expiry 60 s, group expiry a day); only its Redis client
is set up as redis-py 8 needs (``layers.py`` says why).
"""

import os
import secrets

SECRET_KEY = secrets.token_hex(16)
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["channels"]
USE_TZ = True
ASGI_APPLICATION = "channels_app.asgi.application"
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_app.layers.WaitingPoolRedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                    # No read timeout: the layer's BZPOPMIN blocks for up to 5 s.
                    "socket_timeout": None,
                    "socket_connect_timeout": None,
                    # Per process, then a command waits for a free connection: two processes
                    # hold a tenth of Redis' default maxclients (10,000) at most.
                    "max_connections": 512,
                    "timeout": None,
                }
            ],
            "prefix": os.environ.get("PREFIX", "bench:") + "channels:",
        },
    }
}
