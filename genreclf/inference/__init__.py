"""Inference: a local model package to genre probabilities (no MLflow here).

- :mod:`~genreclf.inference.spec`: the model spec (features, labels, shapes, rates);
- :mod:`~genreclf.inference.package`: the package folder, saved and loaded as data;
- :mod:`~genreclf.inference.pipeline`: :class:`GenreModel`, audio to :class:`Prediction`;
- :mod:`~genreclf.inference.legacy`: earlier, pickled models (``trust_pickle`` only).

Fetching a model from MLflow is :mod:`genreclf.tracking.models`' job.
"""

from genreclf.inference.files import ModelLoadError
from genreclf.inference.package import load_model, save_model
from genreclf.inference.pipeline import GenreModel, Prediction

__all__ = ["GenreModel", "ModelLoadError", "Prediction", "load_model", "save_model"]
