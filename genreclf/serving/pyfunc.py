"""The pyfunc face of a genre model: audio in (a path or base64 bytes), probabilities out."""

from __future__ import annotations

import base64
import binascii
import tempfile
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from genreclf.tracking.models import PYFUNC_INPUTS

#: Name of the package folder in the pyfunc flavor's artifacts (the model folder itself).
PACKAGE = "package"
#: Input columns: a path on the server, or the audio file's bytes in base64.
PATH, AUDIO = PYFUNC_INPUTS


def model_code_file() -> Path:
    """Path of :mod:`genreclf.serving.model_code`, to copy into a model folder."""
    spec = find_spec("genreclf.serving.model_code")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin)


class GenrePyfunc(mlflow.pyfunc.PythonModel):
    """Classify audio with the genreclf package of the served model folder.

    ``predict`` takes a DataFrame (or records) with a ``path`` column (a file on the
    server) or an ``audio_base64`` column (a file's bytes: wav, flac, ogg, mp3, au) and
    returns one row per input: ``file``, ``genre``, one probability column per genre,
    and ``error``: empty, or one line naming the input for a file that cannot be
    classified (its ``genre`` is empty and its probabilities missing; the other rows
    are answered).
    """

    def load_context(self, context: Any) -> None:
        from genreclf.inference import load_model

        self.model = load_model(context.artifacts[PACKAGE], n_jobs=1)

    def _one(self, row: dict[str, Any], index: int, tmp: Path) -> dict[str, Any]:
        from genreclf.audio import AudioError

        path, data = row.get(PATH), row.get(AUDIO)
        name = str(path) if isinstance(path, str) and path else f"row {index} ({AUDIO})"
        try:
            if isinstance(path, str) and path:
                target = Path(path)
            elif isinstance(data, str) and data:
                target = tmp / f"input-{index}"
                target.write_bytes(base64.b64decode(data, validate=True))
            else:
                raise AudioError(None, f"give '{PATH}' or '{AUDIO}'")
            prediction = self.model.predict_file(target)
        except (AudioError, binascii.Error, ValueError) as exc:
            reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
            return {"file": name, "genre": "", "error": f"{name}: {reason}"}
        return {
            "file": name,
            "genre": prediction.genre,
            **prediction.probabilities,
            "error": "",
        }

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """One row per input row of ``model_input`` (see the class docstring)."""
        rows = pd.DataFrame(model_input).to_dict("records")
        with tempfile.TemporaryDirectory() as tmp:
            out = [self._one(row, i, Path(tmp)) for i, row in enumerate(rows)]
        columns = ["file", "genre", *self.model.class_names, "error"]
        return pd.DataFrame(out, columns=columns)
