"""Features: audio to cached feature tables (summary vectors or frame-level segments)."""

from genreclf.features.table import FeatureTable

__all__ = ["FeatureTable"]
