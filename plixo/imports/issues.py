"""The problem the import pipeline reports about one cell."""

from __future__ import annotations

from plixo.values import UnusableValueError


class FieldIssue(UnusableValueError):  # noqa: N818 - the import API names it an issue, not an error
    """A value that cannot be used."""
