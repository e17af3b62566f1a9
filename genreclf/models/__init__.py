"""Models: classifier heads (``conf/model/``, in :mod:`~genreclf.models.heads`) and the
LightningModule that trains them (:mod:`~genreclf.models.classifier`).

The heads are imported on first use (``genreclf.models.DenseHead``), so that the
torch-free :mod:`~genreclf.models.effective` and :mod:`~genreclf.models.build` load
without torch, and loading a saved head does not import Lightning.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CNNHead", "DenseHead", "LSTMHead"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from genreclf.models import heads

        return getattr(heads, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
