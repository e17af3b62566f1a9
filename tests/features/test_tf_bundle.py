"""The TensorFlow bundle reader on the musicnn wheel's real checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from genreclf.features import musicnn_net
from genreclf.features.tf_bundle import BundleError, read_bundle, read_index

N_MELS = 96


def _musicnn_shapes(n_classes: int = 50) -> dict[str, tuple[int, ...]]:
    """Kernel shapes from musicnn/models.py: build_musicnn(num_filt_midend=64, units=200)."""
    timbral, temporal = int(1.6 * 128), int(1.6 * 32)
    front = 2 * timbral + 3 * temporal
    shapes = {
        "conv2d/kernel": (7, int(0.4 * N_MELS), 1, timbral),
        "conv2d_1/kernel": (7, int(0.7 * N_MELS), 1, timbral),
        "conv2d_2/kernel": (128, 1, 1, temporal),
        "conv2d_3/kernel": (64, 1, 1, temporal),
        "conv2d_4/kernel": (32, 1, 1, temporal),
        "conv2d_5/kernel": (7, front, 1, 64),
        "conv2d_6/kernel": (7, 64, 1, 64),
        "conv2d_7/kernel": (7, 64, 1, 64),
        "dense/kernel": (2 * (front + 3 * 64), 200),
        "dense_1/kernel": (200, n_classes),
    }
    widths = [1, timbral, timbral, temporal, temporal, temporal, 64, 64, 64, 2 * (front + 192), 200]
    for i, width in enumerate(widths):
        name = "batch_normalization" + (f"_{i}" if i else "")
        for part in ("beta", "gamma", "moving_mean", "moving_variance"):
            shapes[f"{name}/{part}"] = (width,)
    return shapes


def _vgg_shapes(n_classes: int = 50) -> dict[str, tuple[int, ...]]:
    """Kernel shapes from musicnn/models.py: vgg(num_filters=128)."""
    shapes = {f"{i}CNN/kernel": (3, 3, 1 if i == 1 else 128, 128) for i in range(1, 6)}
    shapes |= {f"{i}CNN/bias": (128,) for i in range(1, 6)}
    shapes["dense/kernel"] = (2 * 1 * 128, n_classes)  # pool5 of a 187 x 96 input: 2 x 1 x 128
    for i in range(6):
        name = "batch_normalization" + (f"_{i}" if i else "")
        shapes[f"{name}/moving_mean"] = (1 if i == 0 else 128,)
    return shapes


@pytest.fixture(scope="module")
def installed():
    try:
        return musicnn_net.package_dir()
    except musicnn_net.MusicnnMissing as exc:
        pytest.fail(str(exc))  # .ci/run installs the wheel


@pytest.mark.parametrize("model", musicnn_net.MODELS)
def test_every_tensor_has_the_shape_of_models_py(installed, model):
    want = _vgg_shapes() if model.endswith("vgg") else _musicnn_shapes()
    index = read_index(musicnn_net.checkpoint_prefix(model))
    got = {name: entry.shape for name, entry in index.items() if "Adam" not in name}
    for name, shape in want.items():
        assert got[name] == shape, name
    tensors = read_bundle(musicnn_net.checkpoint_prefix(model), list(want))
    for name, array in tensors.items():
        assert array.dtype == np.float32 and array.shape == want[name]
        assert np.all(np.isfinite(array)), name
    variances = [a for n, a in tensors.items() if n.endswith("moving_variance")]
    assert all((v > 0).all() for v in variances)


def test_weights_are_the_trained_ones(installed):
    """Not zeros nor an initialiser's constants: trained kernels differ between models."""
    a = read_bundle(musicnn_net.checkpoint_prefix("MSD_musicnn"), ["conv2d/kernel"])
    b = read_bundle(musicnn_net.checkpoint_prefix("MTT_musicnn"), ["conv2d/kernel"])
    assert a["conv2d/kernel"].std() > 0 and not np.allclose(a["conv2d/kernel"], b["conv2d/kernel"])


def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path):
    (tmp_path / "x.index").write_bytes(b"not a table" * 10)
    with pytest.raises(BundleError, match=r"x\.index: no table footer"):
        read_index(tmp_path / "x")


def test_a_missing_index_is_named(tmp_path):
    with pytest.raises(BundleError, match=r"nothing\.index"):
        read_index(tmp_path / "nothing")


def test_truncated_data_is_refused(installed, tmp_path):
    prefix = musicnn_net.checkpoint_prefix("MSD_musicnn")
    (tmp_path / "m.index").write_bytes(open(f"{prefix}.index", "rb").read())
    data = open(f"{prefix}.data-00000-of-00001", "rb").read()
    (tmp_path / "m.data-00000-of-00001").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="past the end"):
        read_bundle(tmp_path / "m")
    with pytest.raises(BundleError, match="no tensor 'nope'"):
        read_bundle(tmp_path / "m", ["nope"])
