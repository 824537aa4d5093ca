"""The route registry of message-service; ``routes``, ``batch``, ``history``, ``markers``,
``reactions``, ``threads``, ``changes`` and ``receipts`` declare their calls on it."""

from chatcore.openapi import Api

api = Api("message-service", prefix="/messages")
