"""The route registry of auth-service; ``routes`` and ``profiles`` declare their calls on it."""

from chatcore.openapi import Api

api = Api("auth-service", prefix="/auth")
