"""Optional extras (``pip install -e '.[ray]'``, ``'.[hf]'``): is one installed, and how to get it.

Imports nothing from genreclf, so any layer can name an extra in its one-line error.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.util import find_spec

#: Each extra: the modules it brings (all must be importable).
EXTRAS: dict[str, tuple[str, ...]] = {
    "ray": ("ray", "hydra_plugins.hydra_ray_launcher"),
    "hf": ("transformers",),
}
#: Command-line choices that need an extra: ``(key, value) -> extra``.
NEEDS = {
    ("hydra/launcher", "ray"): "ray",
    ("hydra/launcher", "ray_aws"): "ray",
    ("extraction.backend", "ray"): "ray",
    ("features", "hf_encoder"): "hf",
}


def installed(extra: str) -> bool:
    """Whether every module of ``extra`` can be imported (nothing is imported)."""
    try:
        return all(find_spec(module) is not None for module in EXTRAS[extra])
    except (ImportError, ValueError):  # a parent package missing
        return False


def install_command(extra: str) -> str:
    """``pip install -e '.[<extra>]'``."""
    return f"pip install -e '.[{extra}]'"


def missing_extra(overrides: Iterable[str]) -> str | None:
    """One line for the first command-line override whose extra is not installed, or None.

    Parameters
    ----------
    overrides : iterable of str
        ``key=value`` arguments as given (``+``/``~`` prefixes and sweeps such as
        ``a,b`` are read too).
    """
    for arg in overrides:
        key, sep, value = arg.partition("=")
        if not sep:
            continue
        key = key.lstrip("+~")
        for choice in value.split(","):
            extra = NEEDS.get((key, choice.strip()))
            if extra and not installed(extra):
                return f"{key}={choice.strip()} needs the {extra} extra: {install_command(extra)}"
    return None
