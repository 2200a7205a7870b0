"""Mail transports the outbox sends through."""
