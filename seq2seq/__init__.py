"""seq2seq playground: LSTM/GRU encoder-decoders that learn toy tasks in seconds on a CPU.

    from seq2seq import Task, make_spec, ModelConfig, TrainConfig, build_model, train, greedy_decode

The names below are imported when first used (PEP 562), so importing the package (as `python -m seq2seq
--help` does) does not import torch. `seq2seq.train` is the training function; its module is
`seq2seq.training`, so importing the module never hides the function.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "builder": ("build_model",),
    "checkpoint": ("Checkpoint", "CheckpointError", "load_checkpoint", "save_checkpoint"),
    "common": ("count_parameters", "sequence_loss"),
    "config": ("ModelConfig", "TrainConfig"),
    "decode": ("Interrupted", "Step", "Trace", "beam_search", "greedy_decode", "greedy_decode_batch"),
    "lengths": ("accuracy_by_length",),
    "model": ("Decoder", "Encoder", "Seq2Seq"),
    "strategy": ("Strategy", "what_if"),
    "events": ("DoneEvent", "EvalEvent", "Metrics", "StepEvent"),
    "tasks": ("NEVER_CHOSEN", "TASK_NAMES", "Example", "Task", "TaskSpec", "Vocab", "make_batch", "make_spec",
              "validation_set"),
    "training": ("TrainState", "evaluate", "train"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [name for names in _EXPORTS.values() for name in names]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:  # not an export: `from seq2seq import strategy` then imports the submodule
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
