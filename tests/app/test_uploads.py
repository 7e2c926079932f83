"""Checkpoint uploads against a running `python app.py`: every limit of the form, a training state no larger than
its model can need (sized from its header before anything is decompressed), and several people loading the same
file at once (issue 16, items 2 and 6). Memory is read from /proc (the server's VmRSS and VmHWM), never timed."""
import json
import math
import threading
import zipfile
from pathlib import Path

from gradio_client import handle_file

from playground.uploads import UPLOAD_GRACE
from seq2seq import ModelConfig
from seq2seq.checkpoint import write_checkpoint_zip
from tests.app.test_safety import PeakRss, files, refused
from tests.helpers import CHECKPOINTS, client, wait_until

FORMAT = {"format": "seq2seq-playground", "version": 2}
DIGITS = ["<pad>", "<sos>", "<eos>", "<unk>", *"0123456789"]  # the reverse task's vocabulary


def shapes_of(model: ModelConfig) -> dict[str, list[int]]:
    """The model's tensors and their shapes, built on the meta device (no memory)."""
    import torch
    from seq2seq import build_model
    with torch.device("meta"):
        meta = build_model(model)
    return {name: list(t.shape) for name, t in meta.state_dict().items()}, meta


def header(tensors: dict[str, tuple[str, list[int]]], metadata: dict | None = None) -> tuple[bytes, int]:
    """A safetensors header for `tensors` (name -> (dtype, shape)) laid out back to back, and their bytes."""
    size = {"F16": 2, "F32": 4, "I64": 8, "U8": 1}
    entries, at = {}, 0
    for name, (dtype, shape) in tensors.items():
        n = size[dtype] * math.prod(shape)
        entries[name] = {"dtype": dtype, "shape": shape, "data_offsets": [at, at + n]}
        at += n
    if metadata:
        entries["__metadata__"] = metadata
    text = json.dumps(entries).encode()
    return len(text).to_bytes(8, "little") + text, at


def write_zeros(z: zipfile.ZipFile, name: str, head: bytes, zeros: int) -> None:
    """A member of `head` and then `zeros` zero bytes, deflated as it is written (nothing that size in memory)."""
    with z.open(name, "w", force_zip64=False) as f:
        f.write(head)
        block = bytes(1 << 20)
        while zeros > 0:
            f.write(block[:min(zeros, len(block))])
            zeros -= len(block)


def hostile_zip(path: Path, model: ModelConfig, state_bytes: int | None = None, last: bool = True) -> Path:
    """A checkpoint of `model` (reverse 3–10) with F16 zero weights and, if asked, a training state of
    `state_bytes` (its header the exact layout of Adam's moments and, if `last`, the last weights; then zeros)."""
    shapes, meta = shapes_of(model)
    config = {**FORMAT, "model": model.to_dict(), "task": {"name": "reverse", "min_len": 3, "max_len": 10},
              "vocab": DIGITS}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("c/config.json", json.dumps(config))
        head, size = header({name: ("F16", shape) for name, shape in shapes.items()})
        write_zeros(z, "c/model.safetensors", head, size)
        if state_bytes is not None:
            from seq2seq.training import _state_layout
            layout = _state_layout(dict(meta.named_parameters()), with_adam=True, with_last=last)
            head, size = header(layout, {"state": json.dumps({"format": "seq2seq-train-state", "version": 2})})
            assert state_bytes > len(head) + size  # more than the model can need
            write_zeros(z, "c/train_state.safetensors", head, state_bytes - len(head))
    return path


# the largest model the form trains within the default budget (~25 M parameters; about 300 MB of training state)
LARGEST = ModelConfig(14, 14, cell="gru", emb_dim=32, hidden_dim=512, n_layers=4, attention="additive",
                      bidirectional=True)


def test_a_64_head_transformer_is_refused_naming_heads_and_their_range(server, tmp_path):
    """The issue's upload: a Transformer (d_model 64, 4 layers) with 64 heads, which the form never allows."""
    path = hostile_zip(tmp_path / "heads64.zip", ModelConfig(14, 14, arch="transformer", hidden_dim=64, n_layers=4,
                                                             heads=64))
    c = client(server.url)
    refused(lambda: c.predict(handle_file(str(path)), api_name="/load"),
            r"^Cannot load heads64\.zip: its model has attention heads 64; this app allows 1–8\. Your current model "
            r"is unchanged\.$")
    for name, changes, reason in [
            ("ff", {"ff_dim": 16_384}, r"its model has a feed-forward width of 16384; this app builds 256"),
            ("learned", {"positions": "learned"}, r"its model has learned positions; this app trains sinusoidal"),
            ("hidden", {"hidden_dim": 1024, "heads": 8}, r"its model has hidden size 1024; this app allows 8–512")]:
        model = ModelConfig(14, 14, arch="transformer", hidden_dim=64, n_layers=2, heads=4)
        path = hostile_zip(tmp_path / f"{name}.zip", ModelConfig(**{**model.to_dict(), **changes}))
        refused(lambda: c.predict(handle_file(str(path)), api_name="/load"), reason)


def test_a_training_state_larger_than_its_model_can_need_is_refused_before_it_is_decompressed(server, tmp_path):
    """The issue's ~400 KB zip: F16 zero weights and a 341 MB training state of zeros, deflated. Its model is the
    largest the form allows, so only the state's size gives it away: read from its header, before decompressing."""
    path = hostile_zip(tmp_path / "state.zip", LARGEST, state_bytes=341_000_000)
    assert path.stat().st_size < 1_000_000, path.stat().st_size
    c = client(server.url)
    with PeakRss(server.pid) as rss:
        refused(lambda: c.predict(handle_file(str(path)), api_name="/load"),
                r"^Cannot load state\.zip: train_state\.safetensors is larger than a checkpoint of this model can be "
                r"\(301,[\d,]+ bytes at most\)\. Your current model is unchanged\.$")
    print(f"server peak RSS growth loading the 341 MB state: {rss.growth_mb:.0f} MB")
    assert rss.growth_mb < 100, rss.growth_mb  # before: +916 MB
    # within that cap, but larger than its header's tensors take (here: Adam's moments alone, then zeros)
    path = hostile_zip(tmp_path / "padded.zip", LARGEST, state_bytes=300_000_000, last=False)
    with PeakRss(server.pid) as rss:
        refused(lambda: c.predict(handle_file(str(path)), api_name="/load"),
                r"^Cannot load padded\.zip: train_state\.safetensors is larger than a checkpoint of this model can be "
                r"\(200,[\d,]+ bytes at most\)\. Your current model is unchanged\.$")
    assert rss.growth_mb < 100, rss.growth_mb


def zipped_checkpoint(folder: Path) -> Path:
    return write_checkpoint_zip(CHECKPOINTS / "reverse", folder / "reverse.zip")


def test_four_people_loading_the_same_file_at_once_all_succeed_and_it_is_deleted(server, tmp_path):
    """Gradio stores an upload under its content's hash: four uploads of one zip share one path. Every load
    succeeds, and the file goes once nobody needs it (UPLOAD_GRACE after the last load)."""
    path = zipped_checkpoint(tmp_path)
    uploads = lambda: {p for p in files(server.temp) if "seq2seq-session-" not in str(p)}  # noqa: E731
    baseline = uploads()
    clients = [client(server.url) for _ in range(4)]
    start = threading.Barrier(len(clients))
    results: dict[int, str] = {}

    def load(i: int) -> None:
        start.wait()
        try:
            results[i] = clients[i].predict(handle_file(str(path)), api_name="/load")
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = f"failed: {e}"

    threads = [threading.Thread(target=load, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 4 and all(r.startswith("Loaded reverse.zip") for r in results.values()), results
    for c in clients:
        assert "uploaded reverse.zip" in c.predict("3 1 4", "session", api_name="/decode")[-1]
    wait_until(lambda: uploads() <= baseline, "the uploaded file deleted", timeout=UPLOAD_GRACE + 30, every=0.5)

