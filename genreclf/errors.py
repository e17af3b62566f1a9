"""genreclf's one error hierarchy: every error a user can cause, and its exit status.

A command catches :class:`GenreclfError` alone; it prints ``error: <message>`` (one
line) and exits with the error's :attr:`~GenreclfError.exit_status`:

- 2: the command line or a referenced model/store is at fault (:class:`ConfigError`
  and its kin);
- 1: the data are at fault (:class:`DataError`).

This module imports nothing from genreclf, so any layer can raise these.
"""

from __future__ import annotations


class GenreclfError(ValueError):
    """An error a user can fix; its message is one line naming the option or file."""

    #: Exit status of a command that stops on this error.
    exit_status: int = 2


class ConfigError(GenreclfError):
    """A config value is not allowed; the message names the option (exit status 2)."""


class DataError(GenreclfError):
    """The data are unusable as they are; the message starts with the file (exit status 1)."""

    exit_status = 1


class MissingPathError(ConfigError, FileNotFoundError):
    """A file or folder an option names does not exist (exit status 2)."""
