"""The pyfunc face of a genre model: audio in (base64 bytes, or a path under an allowed
root), probabilities out; an input it cannot classify gets one answer that reveals nothing."""

from __future__ import annotations

import base64
import binascii
import logging
import tempfile
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from genreclf.serving.inputs import CANNOT_CLASSIFY, InputRefused, allowed_path, serve_root
from genreclf.tracking.models import PYFUNC_INPUTS

log = logging.getLogger(__name__)

#: Name of the package folder in the pyfunc flavor's artifacts (the model folder itself).
PACKAGE = "package"
#: Input columns: a path on the server, or the audio file's bytes in base64.
PATH, AUDIO = PYFUNC_INPUTS
#: The answer to a row with neither input.
NO_INPUT = f"give '{AUDIO}' (the audio file's bytes in base64)"
#: The answer when the served model itself gives no finite probabilities (its weights
#: overflow): the model is at fault, not the input.
MODEL_FAULT = "the served model gives no finite probabilities (NaN or inf); it cannot classify"


def model_code_file() -> Path:
    """Path of :mod:`genreclf.serving.model_code`, to copy into a model folder."""
    spec = find_spec("genreclf.serving.model_code")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin)


def _given(value: Any) -> str | None:
    """A non-empty str input, or ``None`` (missing, null, NaN)."""
    return value if isinstance(value, str) and value else None


class GenrePyfunc(mlflow.pyfunc.PythonModel):
    """Classify audio with the genreclf package of the served model folder.

    ``predict`` takes a DataFrame (or records) with an ``audio_base64`` column (a
    file's bytes: wav, flac, ogg, mp3, au) or, on a server started with
    ``GENRECLF_SERVE_ROOT``, a ``path`` column (a file under that folder). It returns
    one row per input: ``file``, ``genre``, one probability column per genre, and
    ``error``: empty, or one line for an input that cannot be classified (its
    ``genre`` and probabilities are ``None``, JSON ``null``; the other rows are
    answered). Missing, unreadable, outside-root and non-audio inputs all get
    :data:`~genreclf.serving.inputs.CANNOT_CLASSIFY`; the reason is logged on the server.
    """

    def load_context(self, context: Any) -> None:
        from genreclf.inference import load_model

        self.root = serve_root()
        self.model = load_model(context.artifacts[PACKAGE], n_jobs=1)

    def _target(self, row: dict[str, Any], index: int, tmp: Path) -> Path:
        """The file to classify for one input row (bytes written under ``tmp``)."""
        path, data = _given(row.get(PATH)), _given(row.get(AUDIO))
        if path is not None:
            return allowed_path(path, getattr(self, "root", None))
        if data is None:
            raise InputRefused(NO_INPUT)
        target = tmp / f"input-{index}"
        target.write_bytes(base64.b64decode(data, validate=True))
        return target

    def _one(self, row: dict[str, Any], index: int, tmp: Path) -> dict[str, Any]:
        """One output row: a prediction, or the input's name and its refusal."""
        from genreclf.audio import AudioError
        from genreclf.inference import ModelLoadError

        name = _given(row.get(PATH)) or f"row {index} ({AUDIO})"
        try:
            prediction = self.model.predict_file(self._target(row, index, tmp))
        except ModelLoadError as exc:  # before ValueError: the model, not the input
            log.error("model fault on %s: %s", name, exc)
            return {"file": name, "genre": None, "error": MODEL_FAULT}
        except InputRefused as exc:
            log.warning("refused %s: %s", name, exc)
            return {"file": name, "genre": None, "error": str(exc)}
        except (AudioError, binascii.Error, ValueError, OSError) as exc:
            log.warning("cannot classify %s: %s", name, " ".join(str(exc).split()))
            return {"file": name, "genre": None, "error": CANNOT_CLASSIFY}
        return {"file": name, "genre": prediction.genre, **prediction.probabilities, "error": ""}

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """One row per input row of ``model_input`` (see the class docstring)."""
        rows = pd.DataFrame(model_input).to_dict("records")
        with tempfile.TemporaryDirectory() as tmp:
            out = [self._one(row, i, Path(tmp)) for i, row in enumerate(rows)]
        columns = ["file", "genre", *self.model.class_names, "error"]
        frame = pd.DataFrame(out, columns=columns).astype(object)
        return frame.where(frame.notna(), None)  # JSON null, never NaN
