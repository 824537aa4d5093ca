"""The least Django settings a Channels app runs with; REDIS_URL and PREFIX from the
environment. The layer is channels_redis' RedisChannelLayer: the one its documentation sets up
first and Channels' own documentation uses (RedisPubSubChannelLayer is marked beta).
Its defaults are kept, the Redis connection pool's too (see bench/README.md for what that does
under load).
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
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")],
            "prefix": os.environ.get("PREFIX", "bench:") + "channels:",
        },
    }
}
