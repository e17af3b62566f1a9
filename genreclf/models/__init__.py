"""Models: classifier heads (``conf/model/``) and the LightningModule that trains them."""

from genreclf.models.classifier import GenreClassifier
from genreclf.models.heads import CNNHead, DenseHead, LSTMHead

__all__ = ["CNNHead", "DenseHead", "GenreClassifier", "LSTMHead"]
