"""Score the selected model of a fit once on validation and once on test."""

from __future__ import annotations

from typing import Any

from genreclf.core.errors import printable


def genre_report(y_true: Any, y_pred: Any, class_names: list[str]) -> str:
    """The per-genre text report (precision, recall, F1, support) of encoded labels.

    One line per genre: control characters of a label are written as escapes
    (:func:`~genreclf.core.errors.printable`), so a label cannot start a line of its own.
    """
    from sklearn.metrics import classification_report

    return classification_report(
        y_true,
        y_pred,
        labels=range(len(class_names)),
        target_names=[printable(name) for name in class_names],
        digits=2,
        zero_division=0,
    )


def evaluate_selected(
    trainer: Any, module: Any, datamodule: Any, ckpt_path: str | None
) -> dict[str, Any]:
    """Score the selected model once on validation and once on test.

    Returns ``val_acc``, ``val_loss``, ``test_acc``, ``test_f1``, the per-genre text
    ``report``, and the test tracks' ``y_true`` and ``y_pred`` (encoded labels), ``probs``
    (one row of class probabilities each) and ``tracks`` (their ids), in one order.
    """
    import numpy as np
    import pandas as pd

    best = {"datamodule": datamodule, "ckpt_path": ckpt_path, "verbose": False}
    val = trainer.validate(module, **best)[0]
    test = trainer.test(module, **best)[0]
    probs, y_true = module.test_predictions
    y_true, y_pred = y_true.numpy(), probs.argmax(dim=1).numpy()
    # the module averages rows per track in ascending track number (the datamodule's groups)
    codes, track_ids = pd.factorize(datamodule.table.track_ids)
    tracks = np.asarray(track_ids)[np.unique(codes[datamodule.indices["test"]])]
    report = genre_report(y_true, y_pred, datamodule.class_names)
    return {
        "val_acc": val["val_acc"],
        "val_loss": val["val_loss"],
        "test_acc": test["test_acc"],
        "test_f1": test["test_f1"],
        "report": report,
        "y_true": y_true,
        "y_pred": y_pred,
        "probs": probs.float().numpy(),
        "tracks": tracks.astype(str),
    }
