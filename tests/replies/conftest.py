"""Replies answer a reminder Plixo sent through the finance inbox: the mail tests' `sent` fixture serves here too."""

from tests.mail.conftest import sent  # noqa: F401 - a fixture, offered to the tests of this folder
