"""Refit on training + validation data, after early stopping chose the number of epochs.

The usual fit stops early and selects its best epoch on the validation split. The
validation rows then go unused for learning. :func:`refit_on_train_val` fits fresh
models on training + validation rows for the selected number of epochs (scaled by the
larger training set, so that about as many optimizer steps are taken), averages the
probabilities of a few seeds on the test split, and scores that once. Nothing is
chosen on the test split.
"""

from __future__ import annotations

from typing import Any

from genreclf.config.runconfig import RunConfig
from genreclf.core.params import Int


def refit_on_train_val(
    config: RunConfig, datamodule: Any, selected_epochs: int, seeds: Int(ge=1, le=100)
) -> dict[str, float]:
    """Fit ``seeds`` models on training + validation rows; score their mean on test.

    Parameters
    ----------
    config : RunConfig
        The run's configuration (``model``, ``classifier``, ``optimizer``, ``trainer``,
        ``seed``).
    datamodule : GenreDataModule
        The run's datamodule, set up.
    selected_epochs : int
        Epochs the validation-selected model had trained (best epoch + 1).
    seeds : int
        Ensemble members, seeded ``config.seed``, ``config.seed + 1``, ...

    Returns
    -------
    dict
        ``refit_test_acc`` and ``refit_test_f1`` (track-level, of the averaged
        probabilities), ``refit_epochs`` and ``refit_seeds``.
    """
    import pytorch_lightning as pl
    import torch
    from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score

    from genreclf import build

    merged = datamodule.with_val_in_train()
    merged.setup()
    n_train, n_val = len(datamodule.indices["train"]), len(datamodule.indices["val"])
    epochs = max(1, round(selected_epochs * (n_train + n_val) / n_train))
    probs, target = [], None
    for member in range(seeds):
        pl.seed_everything(config.seed + member, workers=True, verbose=False)
        module = build.classifier(config, merged)
        trainer = build.trainer(
            config,
            max_epochs=epochs,
            logger=False,
            callbacks=[],
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            limit_val_batches=0,
            num_sanity_val_steps=0,
        )
        trainer.fit(module, datamodule=merged)
        trainer.test(module, datamodule=merged, verbose=False)
        member_probs, target = module.test_predictions
        probs.append(member_probs)
    mean = torch.stack(probs).mean(dim=0)
    n = merged.num_classes
    return {
        "refit_test_acc": float(multiclass_accuracy(mean, target, n, average="micro")),
        "refit_test_f1": float(multiclass_f1_score(mean, target, n, average="macro")),
        "refit_epochs": float(epochs),
        "refit_seeds": float(seeds),
    }
