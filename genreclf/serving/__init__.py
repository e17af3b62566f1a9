"""A logged genre model as an MLflow pyfunc model, served by ``mlflow models serve``.

MLflow's models-from-code: each model folder holds a copy of :mod:`model_code`, which
MLflow runs to build :class:`~genreclf.serving.pyfunc.GenrePyfunc` over the folder's
genreclf package; nothing is pickled. genreclf's own commands never run that file (they
read the package as data); ``mlflow models serve`` does, as for any pyfunc model.
"""
