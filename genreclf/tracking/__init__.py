"""Tracking: MLflow stores, runs, and what each run logs (``conf/tracking/``)."""

from genreclf.tracking.store import ensure_experiment, flatten_params, with_retry

__all__ = ["ensure_experiment", "flatten_params", "with_retry"]
