"""The route registry of message-service; ``routes``, ``history`` and ``markers`` declare
their calls on it."""

from chatcore.openapi import Api

api = Api("message-service", prefix="/messages")
