"""Adapters to services outside Plixo."""
