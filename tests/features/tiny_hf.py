"""A tiny randomly initialised HuBERT saved like a real model folder (for fast tests)."""

from __future__ import annotations

from pathlib import Path

#: Its shape: ``hidden_size`` and the number of hidden states (layers + the input).
TINY_HIDDEN = 32
TINY_STATES = 3


def save_tiny_hf_model(folder: str | Path, seed: int = 0, sampling_rate: int = 16000) -> Path:
    """Save a tiny random HuBERT (2 layers, 32 wide) and its feature extractor in ``folder``.

    Parameters
    ----------
    folder : str or Path
        Created if missing.
    seed : int
        Seed of the random weights (another seed: other weights).
    sampling_rate : int
        The feature extractor's rate.

    Returns
    -------
    Path
        ``folder``, holding ``config.json``, ``model.safetensors`` and
        ``preprocessor_config.json``: what ``features.model`` takes.
    """
    import torch
    from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor
    from transformers.utils import logging

    logging.disable_progress_bar()
    folder = Path(folder)
    config = HubertConfig(
        hidden_size=TINY_HIDDEN,
        num_hidden_layers=TINY_STATES - 1,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32, 32),
        conv_kernel=(10, 3),
        conv_stride=(5, 2),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )
    torch.manual_seed(seed)
    HubertModel(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(
        sampling_rate=sampling_rate, do_normalize=True, return_attention_mask=False
    ).save_pretrained(folder)
    return folder
