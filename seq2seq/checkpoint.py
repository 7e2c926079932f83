"""Checkpoints: a folder with a human-readable `config.json` and the weights in `model.safetensors`.

No pickle anywhere: loading a checkpoint someone sent you cannot run their code. Loading rebuilds
the model from config.json, then checks every tensor's name and shape before using it.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import ModelConfig
from .model import Seq2Seq
from .tasks import Task, TaskSpec

FORMAT = "seq2seq-playground"
VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded or written; the message says why, in one line."""


@dataclass
class Checkpoint:
    model: Seq2Seq
    task: Task
    training: dict[str, Any] = field(default_factory=dict)


def check_writable(path: str | os.PathLike) -> Path:
    """Raise CheckpointError unless a checkpoint can be written at `path` (call it before long work)."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise CheckpointError(f"{target} exists and is not a folder")
    for parent in target.absolute().parents:  # the nearest existing ancestor must be a folder
        if parent.exists():
            if not parent.is_dir():
                raise CheckpointError(f"{target}: {parent} is a file, not a folder")
            break
    if target.is_dir():
        extra = sorted(p.name for p in target.iterdir() if p.name not in (CONFIG_FILE, WEIGHTS_FILE))
        if extra:
            raise CheckpointError(f"{target} already holds other files ({', '.join(extra[:3])}); "
                                  f"choose an empty or new folder")
    return target


def save_checkpoint(path: str | os.PathLike, model: Seq2Seq, task: Task,
                    training: dict[str, Any] | None = None) -> Path:
    """Write the checkpoint folder atomically: into a temporary folder beside it, then renamed.

    An existing checkpoint at `path` is replaced; any other existing folder or file is left alone."""
    target = check_writable(path)
    if model.config is None:
        raise CheckpointError("the model has no config; build it with Seq2Seq.from_config")
    config = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.config.to_dict(),
        "task": task.spec.to_dict(),
        "vocab": task.vocab.itos,
        "training": {"torch_version": torch.__version__, **(training or {})},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        weights = {name: t.detach().contiguous().cpu() for name, t in model.state_dict().items()}
        save_file(weights, str(tmp / WEIGHTS_FILE), metadata={"format": FORMAT})
        with open(tmp / CONFIG_FILE, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        _make_readable(tmp)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.rename(target, old / "checkpoint")
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _make_readable(folder: Path) -> None:
    """mkdtemp makes a private folder; a checkpoint gets the permissions of any new folder and file."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for file in folder.iterdir():
        file.chmod(0o666 & ~umask)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load and validate a checkpoint folder; raises CheckpointError with a clear one-line message."""
    folder = Path(path)
    if not folder.exists():
        raise CheckpointError(f"checkpoint folder not found: {folder}")
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder; a checkpoint is a folder holding "
                              f"{CONFIG_FILE} and {WEIGHTS_FILE}")
    config = _read_config(folder)
    try:
        model_config = ModelConfig.from_dict(config["model"])
        task = Task(TaskSpec.from_dict(config["task"]))
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{folder / CONFIG_FILE}: {e}") from None
    if config["vocab"] != task.vocab.itos:
        raise CheckpointError(f"{folder / CONFIG_FILE}: the vocabulary does not match task {task.name!r} "
                              f"(expected {len(task.vocab)} tokens: {' '.join(task.vocab.itos)})")
    for side in ("src_vocab_size", "trg_vocab_size"):
        if getattr(model_config, side) != len(task.vocab):
            raise CheckpointError(f"{folder / CONFIG_FILE}: model {side} is {getattr(model_config, side)} "
                                  f"but the vocabulary has {len(task.vocab)} tokens")
    model = Seq2Seq.from_config(model_config)
    model.load_state_dict(_read_weights(folder, model))
    model.eval()
    training = config.get("training") if isinstance(config.get("training"), dict) else {}
    return Checkpoint(model=model, task=task, training=training)


def _read_config(folder: Path) -> dict[str, Any]:
    file = folder / CONFIG_FILE
    if not file.is_file():
        raise CheckpointError(f"{folder} has no {CONFIG_FILE}; a checkpoint folder holds {CONFIG_FILE} "
                              f"and {WEIGHTS_FILE}")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{file} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except UnicodeDecodeError:
        raise CheckpointError(f"{file} is not UTF-8 text") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{file} is not a seq2seq playground checkpoint config (no \"format\": \"{FORMAT}\")")
    if not isinstance(config.get("version"), int) or config["version"] > VERSION:
        raise CheckpointError(f"{file} has version {config.get('version')!r}; this program reads version "
                              f"{VERSION} (upgrade seq2seq playground)")
    missing = [key for key in ("model", "task", "vocab") if key not in config]
    if missing:
        raise CheckpointError(f"{file} is missing {', '.join(missing)}")
    return config


def _read_weights(folder: Path, model: Seq2Seq) -> dict[str, torch.Tensor]:
    file = folder / WEIGHTS_FILE
    if not file.is_file():
        raise CheckpointError(f"{folder} has no {WEIGHTS_FILE}")
    try:
        weights = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{file} is damaged or not a safetensors file ({e})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:3])}{' ...' if len(unexpected) > 3 else ''}")
        raise CheckpointError(f"{file} does not fit the model in {CONFIG_FILE}: {'; '.join(parts)}")
    for name, tensor in weights.items():
        want = expected[name]
        if tensor.shape != want.shape:
            raise CheckpointError(f"{file}: tensor {name} has shape {list(tensor.shape)} but the model in "
                                  f"{CONFIG_FILE} needs {list(want.shape)}")
        if not tensor.is_floating_point():
            raise CheckpointError(f"{file}: tensor {name} holds {tensor.dtype}, not floating-point weights")
        if not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{file}: tensor {name} contains NaN or infinite values")
        weights[name] = tensor.to(want.dtype)
    return weights


def training_summary(steps: int, seconds: float, exact_match: float, token_accuracy: float,
                     **extra: Any) -> dict[str, Any]:
    """The `training` section of config.json, with floats rounded so the file stays readable."""
    def tidy(x: Any) -> Any:
        return round(x, 6) if isinstance(x, float) and math.isfinite(x) else x
    return {"steps": steps, "seconds": tidy(seconds), "exact_match": tidy(exact_match),
            "token_accuracy": tidy(token_accuracy), **{k: tidy(v) for k, v in extra.items()}}
