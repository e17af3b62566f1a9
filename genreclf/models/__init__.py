"""Models: classifier heads (``conf/model/``, in :mod:`~genreclf.models.heads`) and the
LightningModule that trains them (:mod:`~genreclf.models.classifier`).

Only the heads are imported here, so that loading a saved head does not import Lightning.
"""

from genreclf.models.heads import CNNHead, DenseHead, LSTMHead

__all__ = ["CNNHead", "DenseHead", "LSTMHead"]
