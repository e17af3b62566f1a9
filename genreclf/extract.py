"""Extract features into the cache: ``python -m genreclf.extract data=... features=...``.

Composes ``conf/extract.yaml``; the data source, feature set and extractor are built
by name through their registries. The files that yield no features are listed in
``<paths.cache_dir>/manifests/<set>-skipped.csv``; ``export=file.csv`` also writes the
table (summary feature sets only) in the original layout: features, ``label``,
``filename``.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from genreclf.cli import hydra_app
from genreclf.config.checks import check_config
from genreclf.core.errors import ConfigError
from genreclf.core.params import Options, WritableFile
from genreclf.features.cache import PathsOptions


class ExtractError(ConfigError):
    """A request the extract command cannot serve; the message is one line."""


class ExtractOptions(Options):
    """``conf/extract.yaml``: extract's own option."""

    export: WritableFile(".csv") | None


def check_extract_config(cfg: DictConfig) -> None:
    """Every extract option against its declaration, before any file is read."""
    check_config(
        cfg,
        {"": ExtractOptions, "paths": PathsOptions},
        ("data", "features", "extraction"),
    )


def _group_choice(group: str) -> str | None:
    """The option chosen for a config group in this Hydra run, if there is one."""
    from hydra.core.hydra_config import HydraConfig

    try:
        return HydraConfig.get().runtime.choices.get(group)
    except ValueError:  # not inside a Hydra run
        return None


def extract(cfg: DictConfig):
    """Extract the features ``cfg`` asks for, write the manifest and the optional export.

    Returns
    -------
    FeatureTable
    """
    from omegaconf import OmegaConf

    from genreclf.data.sources import DATA_SOURCES
    from genreclf.features.extraction import EXTRACTORS, save_manifest
    from genreclf.features.sets import FEATURE_SETS

    check_extract_config(cfg)

    def node(group: str) -> dict:
        return OmegaConf.to_container(cfg[group], resolve=True)

    source = DATA_SOURCES.build_config(node("data"))
    if not hasattr(source, "tracks"):
        choice = _group_choice("data")
        name = f"data={choice}" if choice else f"data ({type(source).__name__})"
        raise ExtractError(f"{name} holds precomputed features; nothing to extract")
    feature_set = FEATURE_SETS.build_config(node("features"))
    export = cfg.get("export")
    if export and feature_set.frame_level:
        raise ExtractError(
            f"export={export}: features={feature_set.name} is frame-level; "
            "only summary feature sets export to a flat CSV"
        )
    extractor = EXTRACTORS.build_config(node("extraction"))
    table = extractor.extract(source.tracks(), feature_set)

    manifest = Path(cfg.paths.cache_dir) / "manifests" / f"{feature_set.name}-skipped.csv"
    save_manifest(table.skipped, manifest)
    n_tracks = len(set(table.track_ids))
    print(
        f"{feature_set.name}: {n_tracks} tracks, {len(table)} rows of shape "
        f"{table.X.shape[1:]}, {len(table.skipped)} skipped (listed in {manifest})"
    )
    if export:
        path = Path(export)
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_frame().to_csv(path, index=False)
        print(f"wrote {len(table)} rows to {path}")
    return table


def _task(cfg: DictConfig) -> None:
    extract(cfg)


main = hydra_app(_task, "extract")
"""Entry point of ``python -m genreclf.extract``."""


if __name__ == "__main__":
    main()
