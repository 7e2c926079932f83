"""What every model here shares, whatever its architecture: dropout drawn from the caller's generator, the
loss, and counting parameters.

model.py (the seed's LSTM/GRU `Seq2Seq`) and transformer.py (the `Transformer`) both import this module,
and training, benchmarks and the app use its loss and count; it imports no other module of the package.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .tasks import PAD_ID


def _dropout(x: torch.Tensor, p: float, training: bool, generator: torch.Generator | None) -> torch.Tensor:
    """F.dropout, with the mask drawn from `generator`: torch's global generator is shared by every
    thread of the process, so a run drawing from it is not repeatable while another one trains."""
    if not training or p == 0.0:
        return x
    if generator is None:
        raise ValueError("dropout while training needs a torch.Generator (the run's own) to draw its masks from")
    keep = 1.0 - p
    return x * torch.empty_like(x).bernoulli_(keep, generator=generator).div_(keep)


def sequence_loss(logits: torch.Tensor, trg: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of logits [batch, trg_len-1, vocab] against trg[:, 1:], PAD positions left out."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), trg[:, 1:].reshape(-1), ignore_index=PAD_ID)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
