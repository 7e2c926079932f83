"""seq2seq playground: LSTM/GRU encoder-decoders that learn toy tasks in seconds on a CPU.

    from seq2seq import Task, make_spec, ModelConfig, TrainConfig, build_model, train, greedy_decode

The names below are imported when first used (PEP 562), so importing the package (as `python -m seq2seq
--help` does) does not import torch; `from seq2seq import train` works as before.
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_EXPORTS = {
    "checkpoint": ("Checkpoint", "CheckpointError", "load_checkpoint", "save_checkpoint"),
    "config": ("ModelConfig", "TrainConfig"),
    "decode": ("Step", "Trace", "greedy_decode", "greedy_decode_batch"),
    "model": ("Decoder", "Encoder", "Seq2Seq", "build_model", "count_parameters", "sequence_loss"),
    "tasks": ("TASK_NAMES", "Example", "Task", "TaskSpec", "Vocab", "make_batch", "make_spec"),
    "train": ("DoneEvent", "EvalEvent", "Metrics", "StepEvent", "TrainState", "evaluate", "train", "validation_set"),
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


class _Package(types.ModuleType):
    """The package: `seq2seq.train` is the function, as it always was, even though importing the submodule
    seq2seq.train (which anything may do first) sets the package's attribute to the module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "train" and isinstance(value, types.ModuleType):
            value = value.train
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
