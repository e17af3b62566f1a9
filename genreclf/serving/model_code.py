"""MLflow models-from-code entry point, copied into every logged model folder.

``mlflow models serve`` (or ``mlflow.pyfunc.load_model``) runs it: it only hands MLflow
genreclf's own installed :class:`~genreclf.serving.pyfunc.GenrePyfunc`, which loads the
folder's package as data.
"""

from mlflow.models import set_model

from genreclf.serving.pyfunc import GenrePyfunc

set_model(GenrePyfunc())
