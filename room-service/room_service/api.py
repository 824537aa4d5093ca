"""The route registry of room-service; ``routes`` and ``members`` declare their calls on it."""

from chatcore.openapi import Api

api = Api("room-service", prefix="/rooms")
