"""GenreDataModule: a feature table, split, transformed and held in memory as tensors."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from sklearn.base import clone
from sklearn.preprocessing import LabelEncoder
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from genreclf.core.params import Int, Seed
from genreclf.features.table import FeatureTable
from genreclf.transforms import feature_rows, transform_rows


class Split(Protocol):
    """A split protocol (``conf/split/``): row indices of train, validation and test."""

    def __call__(self, labels: np.ndarray, track_ids: np.ndarray) -> Any: ...


class GenreDataModule(pl.LightningDataModule):
    """Encode labels, split rows by track, fit the transform on training rows only.

    Parameters
    ----------
    table : FeatureTable
        Summary rows ``(n, d)`` or frame-level segments ``(n, frames, d)``.
    split : callable
        ``split(labels, track_ids)`` returning ``(train, val, test)`` row indices.
    transform : sklearn transformer, optional
        Fit on the training rows only (frames of segments count as rows), then
        applied to every split. ``None`` leaves features as they are.
    batch_size : int
        Training batch size; evaluation uses whole splits in one batch per 1024 rows.
    seed : int
        Seeds the order of training batches.
    overfit_batches : int
        ``0``: train on every training row. ``n > 0`` (``debug=overfit``): train on the
        same ``n`` batches' worth of training rows every epoch, to check that the model
        can fit them (training accuracy should reach 1).
    """

    def __init__(
        self,
        table: FeatureTable,
        split: Split,
        *,
        batch_size: Int(ge=1, le=2**20),
        seed: Seed,
        transform: Any = None,
        overfit_batches: Int(ge=0, le=2**20),
    ) -> None:
        super().__init__()
        self.overfit_batches = overfit_batches
        self.table = table
        self.split = split
        self.transform = None if transform is None else clone(transform)
        self.batch_size = batch_size
        self.seed = seed
        self.encoder = LabelEncoder().fit(table.labels)
        self.indices: dict[str, np.ndarray] = {}
        self.datasets: dict[str, TensorDataset] = {}

    @property
    def class_names(self) -> list[str]:
        """Label names in encoded order."""
        return [str(c) for c in self.encoder.classes_]

    @property
    def num_classes(self) -> int:
        return len(self.encoder.classes_)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one transformed example (available after :meth:`setup`)."""
        return tuple(self.datasets["train"].tensors[0].shape[1:])

    def _rows(self, index: np.ndarray) -> pd.DataFrame:
        return feature_rows(self.table.X[index], self.table.columns)

    def _transformed(self, index: np.ndarray) -> np.ndarray:
        return transform_rows(self.transform, self.table.X[index], self.table.columns)

    def setup(self, stage: str | None = None) -> None:
        """Split, fit the transform on training rows, and build the tensors (once)."""
        if self.datasets:
            return
        train, val, test = self.split(self.table.labels, self.table.track_ids)
        self.indices = {
            "train": np.asarray(train),
            "val": np.asarray(val),
            "test": np.asarray(test),
        }
        for name, index in self.indices.items():
            if len(index) == 0:
                raise ValueError(
                    f"split gives an empty {name} set; use more data or other fractions"
                )
        if self.transform is not None:
            self.transform.fit(self._rows(self.indices["train"]))
        y = self.encoder.transform(self.table.labels)
        groups = pd.factorize(self.table.track_ids)[0]
        for name, index in self.indices.items():
            self.datasets[name] = TensorDataset(
                torch.from_numpy(self._transformed(index)),
                torch.from_numpy(y[index]).long(),
                torch.from_numpy(groups[index]).long(),
            )

    def with_val_in_train(self) -> GenreDataModule:
        """A new datamodule like this one (after :meth:`setup`) that trains on train + val.

        Its test split is this one's; its validation split is this one's validation rows,
        now part of training (for a fixed-length refit, not for early stopping). Its
        transform is refit on the merged training rows.
        """
        if not self.indices:
            raise RuntimeError("with_val_in_train() needs setup() first")
        train, val, test = (self.indices[k] for k in ("train", "val", "test"))
        merged = np.concatenate([train, val])
        return GenreDataModule(
            self.table,
            lambda labels, track_ids: (merged, val, test),
            batch_size=self.batch_size,
            seed=self.seed,
            transform=self.transform,
            overfit_batches=self.overfit_batches,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches, each gathered in one indexing of the tensors.

        The same batches as ``DataLoader(shuffle=True, batch_size=...)`` with this seed,
        without collating rows one by one.
        """
        dataset = self.datasets["train"]
        generator = torch.Generator().manual_seed(self.seed)
        if self.overfit_batches:  # the same few batches' rows, every epoch
            keep = torch.randperm(len(dataset), generator=generator)
            keep = keep[: self.overfit_batches * self.batch_size]
            dataset = TensorDataset(*(t[keep] for t in dataset.tensors))
        batches = BatchSampler(RandomSampler(dataset, generator=generator), self.batch_size, False)
        return DataLoader(dataset, sampler=batches, batch_size=None, generator=generator)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.datasets["val"], batch_size=1024)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.datasets["test"], batch_size=1024)
