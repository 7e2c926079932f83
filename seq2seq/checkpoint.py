"""Checkpoints: a folder with a human-readable `config.json`, the weights in `model.safetensors`, and
optionally `train_state.safetensors` (Adam's moments and the generators: what resuming exactly needs).

No pickle anywhere: loading a checkpoint someone sent you cannot run their code. Loading rebuilds
the model from config.json, then checks every tensor's name and shape before using it.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load, load_file, save_file

from .config import CONFIG_FILE, ModelConfig
from .builder import build_model
from .model import Seq2Seq
from .data import DataTask, task_from_dict, task_to_dict
from .tasks import Task, TaskSpec
from .training import MAX_STATE_HEADER_BYTES, TrainState, _state_layout, safetensors_header, state_max_bytes

FORMAT = "seq2seq-playground"
VERSION = 3  # 2: the model config may hold attention kinds, bidirectional, arch, heads, ff_dim, positions;
             # 3: the task may be a data set ("name": "data", its description, tokenisation and vocabulary)
# the model fields a version-1 config.json has (attention a bool); anything else in one is damage, not data
V1_MODEL_FIELDS = ("src_vocab_size", "trg_vocab_size", "cell", "emb_dim", "hidden_dim", "n_layers", "dropout",
                   "attention")
WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "train_state.safetensors"
MAX_CONFIG_BYTES = 64_000       # a real config.json is about 1 KB
MAX_CONFIG_DEPTH = 6            # ... and nested 3 deep
MAX_HEADER_BYTES = 100_000      # a real safetensors header is about 2 KB
MAX_ZIP_ENTRIES = 100
DTYPE_BYTES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8, "I64": 8, "U8": 1}  # the dtypes a checkpoint's files use


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded or written; the message says why, in one line."""


@dataclass
class Checkpoint:
    model: Seq2Seq
    task: Task
    training: dict[str, Any] = field(default_factory=dict)
    state: bytes | None = None  # TrainState bytes (checked against the model); None when it was saved without


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
        extra = sorted(p.name for p in target.iterdir() if p.name not in (CONFIG_FILE, WEIGHTS_FILE, STATE_FILE))
        if extra:
            raise CheckpointError(f"{target} already holds other files ({', '.join(extra[:3])}); "
                                  f"choose an empty or new folder")
    return target


def save_checkpoint(path: str | os.PathLike, model: Seq2Seq, task: Task,
                    training: dict[str, Any] | None = None, state: TrainState | None = None) -> Path:
    """Write the checkpoint folder atomically: into a temporary folder beside it, then renamed.

    With a `state` it also holds the training state, so training can resume exactly. An existing
    checkpoint at `path` is replaced; any other existing folder or file is left alone."""
    target = check_writable(path)
    if model.config is None:
        raise CheckpointError("the model has no config; build it with build_model")
    config = {
        "format": FORMAT,
        "version": VERSION if isinstance(task, DataTask) else 2,  # the oldest that can say it: older programs read it
        "model": model.config.to_dict(),
        "task": task_to_dict(task, with_pairs=False),
        "vocab": task.vocab.itos,
        "training": {"torch_version": torch.__version__, **(training or {})},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        weights = {name: t.detach().contiguous().cpu() for name, t in model.state_dict().items()}
        save_file(weights, str(tmp / WEIGHTS_FILE), metadata={"format": FORMAT})
        if state is not None:
            (tmp / STATE_FILE).write_bytes(state.to_bytes())
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
    model_config, task, training = _config_parts(config, str(folder / CONFIG_FILE))
    model = build_model(model_config)  # weights overwritten below; never draws from the global generator
    model.load_state_dict(_read_weights(folder, model))
    model.eval()
    return Checkpoint(model=model, task=task, training=training, state=_read_state(folder, model))


def _read_state(folder: Path, model: Seq2Seq) -> bytes | None:
    file = folder / STATE_FILE
    if not file.is_file():
        return None
    if file.stat().st_size > state_max_bytes(model):
        raise CheckpointError(f"{file} is larger than the training state of this model can be")
    return _check_state(file.read_bytes(), model, str(file))


def _check_state(data: bytes, model: Seq2Seq, file: str) -> bytes:
    """The state's bytes, once TrainState has checked them against the model (header first, then values)."""
    try:
        TrainState.from_bytes(data, model)
    except ValueError as e:
        raise CheckpointError(f"{file}: {e}") from None
    return data


def _config_parts(config: dict[str, Any], file: str) -> tuple[ModelConfig, Task, dict[str, Any]]:
    """The model config, task and training summary of a parsed config.json, checked against each other."""
    try:
        if config["version"] < 2 and isinstance(config["model"], dict):
            newer = sorted(set(config["model"]) - set(V1_MODEL_FIELDS))
            if newer:
                raise ValueError(f"model config has unknown field(s) for a version {config['version']} checkpoint: "
                                 f"{', '.join(newer)}")
        model_config = ModelConfig.from_dict(config["model"])
        if config["version"] < 3 and isinstance(config["task"], dict) and "data" in config["task"]:
            raise ValueError(f"a version {config['version']} checkpoint cannot hold a data set's task")
        task = task_from_dict({k: v for k, v in config["task"].items() if k != "pairs"}  # never a checkpoint's
                              if isinstance(config["task"], dict) else config["task"])
    except (ValueError, TypeError, KeyError) as e:
        raise CheckpointError(f"{file}: {e}") from None
    if config["vocab"] != task.vocab.itos:
        what = f"its data's ({task.title})" if isinstance(task, DataTask) else f"task {task.name!r}"
        raise CheckpointError(f"{file}: the vocabulary does not match {what} "
                              f"(expected {len(task.vocab)} tokens: {' '.join(task.vocab.itos[:60])})")
    for side in ("src_vocab_size", "trg_vocab_size"):
        if getattr(model_config, side) != len(task.vocab):
            raise CheckpointError(f"{file}: model {side} is {getattr(model_config, side)} "
                                  f"but the vocabulary has {len(task.vocab)} tokens")
    training = config.get("training") if isinstance(config.get("training"), dict) else {}
    return model_config, task, training


def _read_config(folder: Path) -> dict[str, Any]:
    file = folder / CONFIG_FILE
    if not file.is_file():
        raise CheckpointError(f"{folder} has no {CONFIG_FILE}; a checkpoint folder holds {CONFIG_FILE} "
                              f"and {WEIGHTS_FILE}")
    if file.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{file} is larger than {MAX_CONFIG_BYTES:,} bytes: not a checkpoint config")
    return _parse_config(file.read_bytes(), str(file))


def _parse_config(data: bytes, file: str) -> dict[str, Any]:
    try:
        config = json.loads(data.decode("utf-8"))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{file} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except UnicodeDecodeError:
        raise CheckpointError(f"{file} is not UTF-8 text") from None
    except RecursionError:
        raise CheckpointError(f"{file} is nested too deeply to be a checkpoint config") from None
    if _depth(config) > MAX_CONFIG_DEPTH:
        raise CheckpointError(f"{file} is nested too deeply to be a checkpoint config")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{file} is not a seq2seq playground checkpoint config (no \"format\": \"{FORMAT}\")")
    if not isinstance(config.get("version"), int) or config["version"] > VERSION:
        raise CheckpointError(f"{file} has version {config.get('version')!r}; this program reads version "
                              f"{VERSION} (upgrade seq2seq playground)")
    missing = [key for key in ("model", "task", "vocab") if key not in config]
    if missing:
        raise CheckpointError(f"{file} is missing {', '.join(missing)}")
    return config


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _read_weights(folder: Path, model: Seq2Seq) -> dict[str, torch.Tensor]:
    file = folder / WEIGHTS_FILE
    if not file.is_file():
        raise CheckpointError(f"{folder} has no {WEIGHTS_FILE}")
    try:
        weights = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{file} is damaged or not a safetensors file ({e})") from None
    return _check_weights(weights, model, str(file))


def _check_names(found: set[str], expected: set[str], file: str) -> None:
    """The weights hold exactly the model's tensors; the message names the first few missing or extra."""
    missing, unexpected = sorted(expected - found), sorted(found - expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:3])}{' ...' if len(unexpected) > 3 else ''}")
        raise CheckpointError(f"{file} does not fit the model in {CONFIG_FILE}: {'; '.join(parts)}")


def _check_weights(weights: dict[str, torch.Tensor], model: Seq2Seq, file: str) -> dict[str, torch.Tensor]:
    expected = model.state_dict()
    _check_names(set(weights), set(expected), file)
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


# ---------------------------------------------------------------- zip archives (the app's downloads and uploads)


def write_checkpoint_zip(folder: str | os.PathLike, archive: str | os.PathLike) -> Path:
    """Zip a checkpoint folder as `<folder name>/config.json` + `<folder name>/model.safetensors` (+
    `<folder name>/train_state.safetensors` when it has one)."""
    folder, archive = Path(folder), Path(archive)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:  # float weights barely compress: don't try
        for file in (CONFIG_FILE, WEIGHTS_FILE, STATE_FILE):
            if file != STATE_FILE or (folder / file).is_file():
                z.write(folder / file, f"{folder.name}/{file}")
    return archive


def load_checkpoint_zip(file: str | os.PathLike | BinaryIO, *, max_weights_bytes: int,
                        check: Callable[[ModelConfig, TaskSpec], None] | None = None) -> Checkpoint:
    """Load a checkpoint from a zip someone sent, spending nothing on a hostile one.

    Nothing is extracted to disk. The zip's directory is sized before it is read; config.json is read
    with a byte cap and a depth limit, then `check(model_config, task_spec)` (e.g. a memory budget;
    it raises ValueError to refuse) runs before any tensor exists; the weights' names and shapes are
    checked from the safetensors header before it is loaded; every member is decompressed with a cap
    on the bytes actually produced, whatever its header claims. An optional train_state.safetensors gets
    the same care: a cap from the model's size (its Adam moments are twice the weights), and its header
    checked against the model before anything in it is loaded. Messages name the members, never a path.

    Both safetensors members are sized before they are decompressed: the size the zip declares must be no more
    than the member can be (a zip bomb stops there), and then exactly what its header's tensors take, once the
    header (read alone, a few KB) names exactly the model's tensors (and, for the training state, exactly the
    layout its parameters imply: Adam's moments and the last weights, each all or none)."""
    try:
        _check_zip_directory(file)
        archive = zipfile.ZipFile(file)
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise CheckpointError("that file is not a zip archive") from None
    with archive:
        members: dict[str, zipfile.ZipInfo] = {}
        for info in archive.infolist():
            base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
            if base in (CONFIG_FILE, WEIGHTS_FILE, STATE_FILE) and not info.is_dir():
                if base in members:
                    raise CheckpointError(f"the zip holds more than one {base}")
                members[base] = info
        if not {CONFIG_FILE, WEIGHTS_FILE} <= set(members):
            raise CheckpointError(f"the zip must hold {CONFIG_FILE} and {WEIGHTS_FILE} (as downloaded from the app)")
        _check_declared(members[CONFIG_FILE], MAX_CONFIG_BYTES)
        config = _parse_config(_read_member(archive, members[CONFIG_FILE], MAX_CONFIG_BYTES), CONFIG_FILE)
        model_config, task, training = _config_parts(config, CONFIG_FILE)
        if check is not None:
            try:
                check(model_config, task.spec)
            except ValueError as e:
                raise CheckpointError(str(e)) from None
        with torch.device("meta"):  # shapes without memory
            meta = build_model(model_config)
        shapes = {name: list(t.shape) for name, t in meta.state_dict().items()}
        most = 8 + MAX_HEADER_BYTES + 8 * sum(math.prod(shape) for shape in shapes.values())  # float64 at most
        state_size = None
        if STATE_FILE in members:  # sized first: the larger member, and the one a model cannot vouch for
            _check_declared(members[STATE_FILE], state_max_bytes(meta))
            state_size = _state_size(_read_header(archive, members[STATE_FILE], MAX_STATE_HEADER_BYTES), meta)
            _check_declared(members[STATE_FILE], state_size, exact=True)
        weights_cap = min(most, max_weights_bytes)
        _check_declared(members[WEIGHTS_FILE], weights_cap)
        weights_size = _weights_size(_read_header(archive, members[WEIGHTS_FILE], MAX_HEADER_BYTES), shapes)
        _check_declared(members[WEIGHTS_FILE], weights_size, exact=True)
        data = _read_member(archive, members[WEIGHTS_FILE], weights_size)
        state = _read_member(archive, members[STATE_FILE], state_size) if state_size is not None else None
    _check_header(data, shapes)
    try:
        weights = load(data)
    except (SafetensorError, ValueError) as e:
        raise CheckpointError(f"{WEIGHTS_FILE} is damaged or not a safetensors file ({e})") from None
    del data
    model = build_model(model_config)  # weights overwritten below; never draws from the global generator
    model.load_state_dict(_check_weights(weights, model, WEIGHTS_FILE))
    model.eval()
    state = None if state is None else _check_state(state, model, STATE_FILE)
    return Checkpoint(model=model, task=task, training=training, state=state)


def _check_zip_directory(file: str | os.PathLike | BinaryIO) -> None:
    """Refuse a zip whose directory lists more entries than a checkpoint has, before zipfile reads it all."""
    f = open(file, "rb") if isinstance(file, (str, os.PathLike)) else file
    try:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 66_000))
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            raise ValueError("no zip directory")
        entries = int.from_bytes(tail[at + 10:at + 12], "little")
        if entries == 0xFFFF or tail.rfind(b"PK\x06\x06") >= 0:
            raise CheckpointError("the zip is in the zip64 format, which a checkpoint never needs")
        if entries > MAX_ZIP_ENTRIES:
            raise CheckpointError(f"the zip holds {entries:,} entries; a checkpoint has 2 or 3")
        f.seek(0)
    finally:
        if f is not file:
            f.close()


def _member_name(info: zipfile.ZipInfo) -> str:
    return info.filename.replace("\\", "/").rsplit("/", 1)[-1]


def _check_declared(info: zipfile.ZipInfo, size: int, exact: bool = False) -> None:
    """Refuse a member whose size, as the zip's directory declares it, is over `size` (or, `exact`, is not
    `size`), before a byte of it is decompressed. (The directory can lie: _read_member caps what it produces.)"""
    name = _member_name(info)
    if info.file_size > size:
        raise CheckpointError(f"{name} is larger than a checkpoint of this model can be ({size:,} bytes at most)")
    if exact and info.file_size != size:
        raise CheckpointError(f"{name} holds {info.file_size:,} bytes, but its tensors take {size:,}: it is damaged")


def _read_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int) -> tuple[dict[str, Any], int]:
    """A safetensors member's JSON header, read alone (its first 8 + n bytes, n at most `max_bytes`), and n."""
    name = _member_name(info)
    try:
        with archive.open(info) as f:
            head = f.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else -1
            if not 0 <= n <= max_bytes:
                raise CheckpointError(f"{name} is damaged or not a safetensors file (bad header length)")
            head += f.read(n)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise CheckpointError(f"{name} is damaged in the zip ({e})") from None
    except (RuntimeError, NotImplementedError) as e:  # encrypted, or a compression zipfile cannot read
        raise CheckpointError(f"{name} cannot be read ({e})") from None
    try:
        return safetensors_header(head, max_bytes, name), n
    except ValueError as e:
        raise CheckpointError(str(e)) from None


def _data_size(header: dict[str, Any], layout: dict[str, tuple[str | None, list[int]]], name: str,
               misfit: str) -> int:
    """The bytes after a safetensors header whose tensors are exactly `layout` (name -> (dtype, shape); a dtype
    of None: any the header gives that DTYPE_BYTES knows), each where its data_offsets say, back to back."""
    spans = []
    for tensor, (dtype, shape) in layout.items():
        entry = header.get(tensor)
        if not isinstance(entry, dict):
            raise CheckpointError(f"{misfit}: missing {tensor}")
        got = entry.get("dtype") if dtype is None else dtype
        offsets = entry.get("data_offsets")
        if entry.get("dtype") != got or got not in DTYPE_BYTES or entry.get("shape") != shape or \
                not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
            raise CheckpointError(f"{misfit}: {tensor} should be {dtype or 'floating-point'} of shape {shape}")
        spans.append((offsets[0], offsets[1], DTYPE_BYTES[got] * math.prod(shape), tensor))
    end = 0
    for begin, stop, size, tensor in sorted(spans):
        if begin != end or stop - begin != size:
            raise CheckpointError(f"{name} is damaged: the bytes of {tensor} are not where its header says")
        end = stop
    return end


def _weights_size(read: tuple[dict[str, Any], int], shapes: dict[str, list[int]]) -> int:
    """model.safetensors' size from its header alone (`read`: the header and its length): the model's tensors,
    each in a float dtype."""
    header, length = dict(read[0]), read[1]
    header.pop("__metadata__", None)
    _check_entries(header, shapes)
    size = _data_size(header, {n: (None, shape) for n, shape in shapes.items()}, WEIGHTS_FILE,
                      f"{WEIGHTS_FILE} does not fit the model in {CONFIG_FILE}")
    return 8 + length + size


def _state_size(read: tuple[dict[str, Any], int], meta: Seq2Seq) -> int:
    """train_state.safetensors' size from its header alone (`read`: the header and its length): exactly the
    tensors a state of this model has (the generators, and Adam's moments and the last weights, each for every
    parameter or none), nothing more."""
    header, length = dict(read[0]), read[1]
    header.pop("__metadata__", None)
    params = dict(meta.named_parameters())
    layout = _state_layout(params, with_adam=any(n.startswith("adam.") for n in header),
                           with_last=any(n.startswith("last.") for n in header))
    misfit = f"{STATE_FILE}: the training state does not fit the model"
    unexpected = sorted(set(header) - set(layout))
    if unexpected:
        more = " ..." if len(unexpected) > 3 else ""
        raise CheckpointError(f"{misfit}: unexpected {', '.join(unexpected[:3])}{more}")
    return 8 + length + _data_size(header, layout, STATE_FILE, misfit)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    """A member's bytes, decompressed with a cap on what is actually produced (headers can lie)."""
    name = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
    chunks, total = [], 0
    try:
        with archive.open(info) as f:
            while True:
                chunk = f.read(min(1 << 20, cap + 1 - total))
                if not chunk:
                    break
                total += len(chunk)
                if total > cap:
                    raise CheckpointError(f"{name} is larger than a checkpoint of this model can be "
                                          f"({cap:,} bytes at most)")
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise CheckpointError(f"{name} is damaged in the zip ({e})") from None
    except (RuntimeError, NotImplementedError) as e:  # encrypted, or a compression zipfile cannot read
        raise CheckpointError(f"{name} cannot be read ({e})") from None
    return b"".join(chunks)


def _check_header(data: bytes, shapes: dict[str, list[int]]) -> None:
    """The safetensors header names exactly the model's tensors, with its shapes, in a float dtype."""
    try:
        header = safetensors_header(data, MAX_HEADER_BYTES, WEIGHTS_FILE)
    except ValueError as e:
        raise CheckpointError(str(e)) from None
    _check_entries(header, shapes)


def _check_entries(header: dict[str, Any], shapes: dict[str, list[int]]) -> None:
    header = dict(header)
    header.pop("__metadata__", None)
    _check_names(set(header), set(shapes), WEIGHTS_FILE)
    for name, entry in header.items():
        if not isinstance(entry, dict) or entry.get("shape") != shapes[name]:
            got = entry.get("shape") if isinstance(entry, dict) else entry
            raise CheckpointError(f"{WEIGHTS_FILE}: tensor {name} has shape {got} but the model in "
                                  f"{CONFIG_FILE} needs {shapes[name]}")
        if entry.get("dtype") not in ("F16", "BF16", "F32", "F64"):
            raise CheckpointError(f"{WEIGHTS_FILE}: tensor {name} holds {entry.get('dtype')}, not floating-point "
                                  f"weights")
