"""Which head parameters can change the model: the rule that hashing and naming share.

A dense head with no hidden layer (``num_layers=0``) is one Linear layer: its
``hidden_size``, ``dropout`` and ``batch_norm`` play no part, and the head is a linear
probe, named ``linear``. The LSTM head keeps its ``dropout`` with one layer (the
dropout on its last hidden state, before the classifier), so nothing of it is ignored.

Torch-free on purpose: :mod:`genreclf.sweeps.hashing` and the run names use it at
config-check time, before torch is imported. Each head class in
:mod:`genreclf.models.heads` exposes its rule as ``effective_params``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

#: Where each head is declared (``model._target_``), by its registered name.
HEAD_TARGETS: dict[str, str] = {
    "dense": "genreclf.models.heads.DenseHead",
    "cnn": "genreclf.models.heads.CNNHead",
    "rnn": "genreclf.models.heads.LSTMHead",
}
#: Name of a dense head with no hidden layer (``conf/model/linear.yaml``).
LINEAR = "linear"


def _dense_ignores(params: Mapping[str, Any]) -> tuple[str, ...]:
    """A dense head with no hidden layer ignores its hidden layers' settings."""
    if _int(params.get("num_layers")) == 0:
        return ("hidden_size", "dropout", "batch_norm")
    return ()


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


#: Per head class path: the params its other params make irrelevant.
IGNORED: dict[str, Callable[[Mapping[str, Any]], tuple[str, ...]]] = {
    HEAD_TARGETS["dense"]: _dense_ignores,
}


def ignored_params(target: object, params: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys of ``params`` that cannot change the head declared at ``target``.

    Parameters
    ----------
    target : object
        The head's class path (``model._target_``); anything else ignores nothing.
    params : mapping
        The head's params (the ``model`` config group).
    """
    rule = IGNORED.get(target) if isinstance(target, str) else None
    return tuple(key for key in rule(params) if key in params) if rule else ()


def effective_params(target: object, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` without the keys that cannot change the head (:func:`ignored_params`)."""
    ignored = set(ignored_params(target, params))
    return {key: value for key, value in params.items() if key not in ignored}


def built_name(choice: object, target: object, params: Mapping[str, Any] | None) -> str | None:
    """The head's name as built: ``linear`` for a dense head with no hidden layer.

    Else ``choice`` (the ``model=`` config choice) if it is a name, else ``None``.
    """
    if target == HEAD_TARGETS["dense"] and params is not None:
        if _int(params.get("num_layers")) == 0:
            return LINEAR
    return choice if isinstance(choice, str) and choice else None
