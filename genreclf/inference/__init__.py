"""Inference: a local model package to genre probabilities (no MLflow here).

- :mod:`~genreclf.inference.spec`: the model spec (features, labels, shapes, rates) and
  :class:`~genreclf.inference.spec.ModelSpec`, its declaration;
- :mod:`~genreclf.inference.package`: the package folder, saved and loaded as data,
  every size checked before it is allocated;
- :mod:`~genreclf.inference.pipeline`: :class:`GenreModel`, audio to :class:`Prediction`.

Fetching a model from MLflow is :mod:`genreclf.tracking.models`' job.
"""

from genreclf.inference.files import ModelLoadError
from genreclf.inference.package import MAX_PARAMETERS, load_model, save_model
from genreclf.inference.pipeline import GenreModel, Prediction

__all__ = [
    "MAX_PARAMETERS",
    "GenreModel",
    "ModelLoadError",
    "Prediction",
    "load_model",
    "save_model",
]
