"""Metric histories read back from MLflow."""

from __future__ import annotations

import pandas as pd


def metric_history(client, run_id: str, keys: list[str]) -> pd.DataFrame:
    """Per-step values of ``keys`` for one run, one row per step (epoch), one column per key."""
    series = {
        key: pd.Series({m.step: m.value for m in client.get_metric_history(run_id, key)})
        for key in keys
    }
    frame = pd.DataFrame(series).sort_index()
    frame.index.name = "step"
    return frame
