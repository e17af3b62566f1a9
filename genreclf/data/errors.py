"""The error for bad data (re-exported from :mod:`genreclf.errors`)."""

from __future__ import annotations

from genreclf.errors import DataError

__all__ = ["DataError"]
