"""The error for bad data (re-exported from :mod:`genreclf.core.errors`)."""

from __future__ import annotations

from genreclf.core.errors import DataError

__all__ = ["DataError"]
