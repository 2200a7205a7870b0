"""Internal notes and @mentions."""
