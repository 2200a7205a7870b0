"""Payers' replies: reading them from the finance inbox, understanding them, acting on them."""
