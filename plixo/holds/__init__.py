"""Holds, suppressions, opt-outs, Shadow Mode escalations and link revocation: what stops or changes outreach."""
