"""Building a model from its config: the seed's LSTM/GRU `Seq2Seq` (model.py) or the `Transformer`
(transformer.py), whichever config.arch names.

    model = build_model(ModelConfig(len(vocab), len(vocab), arch="transformer", hidden_dim=64), seed=0)

The one place that knows both architectures: model.py does not import the Transformer, and transformer.py
imports model.py (the Transformer is a Seq2Seq), so neither can choose between them without a cycle.
"""
from __future__ import annotations

import torch

from .config import ModelConfig
from .model import Seq2Seq
from .transformer import Transformer


def from_config(config: ModelConfig) -> Seq2Seq:
    """The model `config` describes: a Transformer for config.arch "transformer", else the LSTM/GRU Seq2Seq
    (its weights initialised from torch's current generator: use build_model for seeded ones)."""
    config.validate()
    if config.arch == "transformer":
        return Transformer.from_config(config)
    return Seq2Seq.from_config(config)


def build_model(config: ModelConfig, seed: int = 0) -> Seq2Seq:
    """A freshly initialised model; the same seed gives the same weights, without touching global RNGs."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return from_config(config)
