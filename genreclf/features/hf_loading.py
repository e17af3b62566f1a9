"""Loading a Hugging Face encoder (``features=hf_encoder``): its config, weights and extractor.

Every loader runs once per process and model (an ``lru_cache`` keyed by the model, its
options and its weights' digest, see :func:`folder_digest`). :func:`check_encoder` runs
the folder checks of :mod:`genreclf.features.hf_folder` before the first load; a broken
model is a configuration error (:class:`~genreclf.features.hf_folder.HFEncoderError`).
Weights are read from safetensors files only (``use_safetensors=True``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genreclf.core.errors import one_line
from genreclf.features.hf_folder import (
    DIGESTED_SUFFIXES,
    NOT_A_MODEL,
    HFEncoderError,
    check_config_sizes,
    check_files,
    check_finite,
    check_headers,
    check_loading_info,
    check_preprocessor_size,
    expected_shapes,
    import_transformers,
    read_config_json,
    weights_files,
)

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def local_folder(model: str) -> Path | None:
    """``model`` as an existing local folder; None for a hub id.

    Raises
    ------
    HFEncoderError
        If ``model`` is neither an existing folder nor shaped like a hub id.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists():
        raise HFEncoderError(f"features.model={model}: not a folder")
    if not _HUB_ID.fullmatch(model):
        raise HFEncoderError(
            f"features.model={model}: no such folder (a model saved with save_pretrained, "
            "or a Hugging Face hub id)"
        )
    return None


def _missing(model: str, exc: BaseException) -> HFEncoderError:
    """The one-line error of a model whose files cannot be read."""
    if local_folder(model) is not None:
        return HFEncoderError(
            f"features.model={model}: {NOT_A_MODEL} "
            f"(config.json and weights saved with save_pretrained): {one_line(exc)}"
        )
    return HFEncoderError(
        f"features.model={model}: not found offline (features.local_files_only=true); "
        f"download it once with features.local_files_only=false or "
        f"`huggingface-cli download {model}`, or set features.model=<folder saved with "
        f"save_pretrained> ({one_line(exc)})"
    )


def _quiet(transformers: Any) -> None:
    """No progress bars while loading (one per worker process otherwise)."""
    transformers.utils.logging.disable_progress_bar()


@contextlib.contextmanager
def _no_load_report(transformers: Any) -> Iterator[None]:
    """Keep transformers' multi-line LOAD REPORT off the console: genreclf says it in one line."""
    logging = transformers.utils.logging
    before = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(before)


@functools.lru_cache(maxsize=8)
def model_config(
    model: str, trust_remote_code: bool, local_files_only: bool, weights: str = ""
) -> Any:
    """The model's config (``config.json`` only; no weights are read).

    ``weights`` (see :meth:`HFEncoder.weights`) only keys the per-process cache, so
    that a folder whose files changed is read again.

    Raises
    ------
    HFEncoderError
        If ``transformers`` is missing or the config cannot be found or read.
    """
    transformers = import_transformers()
    local_folder(model)
    try:
        return transformers.AutoConfig.from_pretrained(
            model, trust_remote_code=trust_remote_code, local_files_only=local_files_only
        )
    except (OSError, ValueError, KeyError) as exc:
        raise _missing(model, exc) from exc


@functools.lru_cache(maxsize=2)
def load_encoder(
    model: str, trust_remote_code: bool, local_files_only: bool, weights: str = ""
) -> Any:
    """The encoder, in eval mode and float32, loaded once per process (and ``weights``).

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    HFEncoderError
        If ``transformers`` is missing or the weights cannot be found or read.
    """
    transformers = import_transformers()
    _quiet(transformers)
    local_folder(model)
    try:
        with _no_load_report(transformers):
            net, info = transformers.AutoModel.from_pretrained(
                model,
                trust_remote_code=trust_remote_code,
                local_files_only=local_files_only,
                use_safetensors=True,  # pickled weights (pytorch_model.bin) are never unpickled
                output_loading_info=True,
            )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise _missing(model, exc) from exc
    check_loading_info(model, info)
    check_finite(model, net)
    return net.float().eval()


@functools.lru_cache(maxsize=8)
def load_extractor(
    model: str, trust_remote_code: bool, local_files_only: bool, weights: str = ""
) -> Any:
    """The model's feature extractor (its ``preprocessor_config.json``), or None without one.

    Raises
    ------
    HFEncoderError
        If ``transformers`` is missing, or a folder's preprocessor config is unreadable.
    """
    transformers = import_transformers()
    folder = local_folder(model)
    if folder is not None and not (folder / "preprocessor_config.json").is_file():
        return None
    try:
        return transformers.AutoFeatureExtractor.from_pretrained(
            model, trust_remote_code=trust_remote_code, local_files_only=local_files_only
        )
    except (OSError, ValueError, KeyError) as exc:
        if folder is not None:
            raise _missing(model, exc) from exc
        return None  # a hub model without a preprocessor config


def cached_snapshot(model: str) -> Path | None:
    """The cached snapshot folder of hub model ``model`` (its ``config.json``'s), or None."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(model, "config.json")
    return Path(found).parent if isinstance(found, str) else None


@functools.lru_cache(maxsize=8)
def check_encoder(
    model: str, trust_remote_code: bool, local_files_only: bool, weights: str = ""
) -> None:
    """Refuse a model that is missing, incomplete, mis-shaped, too large or linked out.

    In order: the folder's files (:func:`check_files`), ``config.json``
    (:func:`read_config_json`, :func:`check_config_sizes`), the model it describes
    (:func:`expected_shapes`), the weights' headers (:func:`check_headers`), and then
    the loading itself (:func:`load_encoder`: no missing, unexpected or mismatched
    key; finite weights). A hub model not cached yet is checked from its config and
    its loading. Once per process and ``weights`` (see :meth:`HFEncoder.weights`).

    Raises
    ------
    HFEncoderError
        One line naming ``features.model`` and what is wrong.
    """
    import_transformers()
    folder = local_folder(model)
    snapshot = folder or cached_snapshot(model)
    if snapshot is not None:
        check_files(snapshot, model, root=folder or snapshot.parent.parent)
        check_config_sizes(read_config_json(snapshot, model), model)
        check_preprocessor_size(snapshot, model)
    config = model_config(model, trust_remote_code, local_files_only, weights)
    expected = expected_shapes(config, trust_remote_code, model)
    if snapshot is not None:
        check_headers(weights_files(snapshot, model), expected, model)
    load_encoder(model, trust_remote_code, local_files_only, weights)


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    from genreclf.features.cache import file_digest

    return file_digest(path)


def folder_digest(folder: Path) -> str:
    """SHA-256 over the names and bytes of a model folder's weight, config and code files.

    Each file is hashed once per process (while its size and modification time stay).
    """
    h = hashlib.sha256()
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix in DIGESTED_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    for p in files:
        stat = p.stat()
        digest = _file_digest(str(p), stat.st_size, stat.st_mtime_ns)
        h.update(json.dumps([p.relative_to(folder).as_posix(), digest]).encode())
    return h.hexdigest()


def hub_revision(model: str) -> str | None:
    """The cached commit of hub model ``model`` (from its cached ``config.json``), or None."""
    snapshot = cached_snapshot(model)
    return None if snapshot is None else snapshot.name
