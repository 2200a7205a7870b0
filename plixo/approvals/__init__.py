"""Requests that need a decision (plans above policy, write-offs) and what a decision sets off."""
