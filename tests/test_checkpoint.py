import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from seq2seq.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, training_summary
from seq2seq.config import ModelConfig, TrainConfig
from seq2seq.decode import greedy_decode
from seq2seq.model import build_model
from seq2seq.tasks import Task, make_spec
from seq2seq.train import train

TASK = Task(make_spec("reverse", 3, 5))
SOURCES = ["3 1 4", "1 5 9 2", "6 5 3 5 8"]


def trained(**kw):
    model = build_model(ModelConfig(len(TASK.vocab), len(TASK.vocab), emb_dim=8, hidden_dim=16, **kw), seed=0)
    *_, done = train(model, TASK, TrainConfig(steps=30, batch_size=32, eval_every=10, val_size=50))
    return model, done


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model, done = trained()
    folder = save_checkpoint(tmp_path_factory.mktemp("ck") / "reverse", model, TASK,
                             training_summary(done.step, done.elapsed, done.exact_match, done.token_accuracy))
    return model, folder


@pytest.mark.parametrize("kw", [{}, dict(cell="gru", n_layers=2), dict(attention=True)])
def test_round_trip_gives_identical_weights_and_decodes(tmp_path, kw):
    model, _ = trained(**kw)
    save_checkpoint(tmp_path / "ck", model, TASK, {"steps": 30})
    loaded = load_checkpoint(tmp_path / "ck")
    assert loaded.task.spec == TASK.spec and loaded.training["steps"] == 30
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.model.state_dict()[name])
    for source in SOURCES:
        assert greedy_decode(loaded.model, loaded.task.vocab, source).to_dict() == \
            greedy_decode(model, TASK.vocab, source).to_dict()


def test_config_is_readable_json_and_weights_are_safetensors_not_pickle(saved):
    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    assert {"format", "version", "model", "task", "vocab", "training"} <= set(config)
    assert config["task"] == {"name": "reverse", "min_len": 3, "max_len": 5}
    assert config["training"]["steps"] == 30 and config["training"]["torch_version"] == torch.__version__
    raw = (folder / "model.safetensors").read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    assert raw[8:9] == b"{" and json.loads(raw[8:8 + header_len])
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]


def test_saving_again_replaces_atomically_and_never_clobbers_other_files(tmp_path):
    first, _ = trained()
    second = build_model(first.config, seed=9)
    save_checkpoint(tmp_path / "ck", first, TASK)
    save_checkpoint(tmp_path / "ck", second, TASK)
    assert torch.equal(load_checkpoint(tmp_path / "ck").model.decoder.fc_out.weight, second.decoder.fc_out.weight)
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]  # no temporary folders left behind
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="other files"):
        save_checkpoint(tmp_path / "mine", first, TASK)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="not a folder"):
        save_checkpoint(tmp_path / "file", first, TASK)


def copy_of(saved, tmp_path):
    _, folder = saved
    target = tmp_path / "ck"
    target.mkdir()
    for f in folder.iterdir():
        (target / f.name).write_bytes(f.read_bytes())
    return target


def edit_config(folder, change):
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config))


def rename_tensor(folder):
    weights = load_file(str(folder / "model.safetensors"))
    weights["decoder.out.weight"] = weights.pop("decoder.fc_out.weight")
    save_file(weights, str(folder / "model.safetensors"))


def nan_tensor(folder):
    weights = load_file(str(folder / "model.safetensors"))
    weights["decoder.fc_out.bias"][0] = float("nan")
    save_file(weights, str(folder / "model.safetensors"))


BREAKAGES = {
    "missing config.json": (lambda f: (f / "config.json").unlink(), "no config.json"),
    "truncated json": (lambda f: (f / "config.json").write_text('{"format": "seq2seq-pl'), "not valid JSON"),
    "wrong format": (lambda f: edit_config(f, lambda c: c.update(format="other")), "not a seq2seq playground"),
    "newer version": (lambda f: edit_config(f, lambda c: c.update(version=99)), "version 99"),
    "unknown task": (lambda f: edit_config(f, lambda c: c["task"].update(name="juggle")), "unknown task 'juggle'"),
    "bad cell": (lambda f: edit_config(f, lambda c: c["model"].update(cell="transformer")), "cell"),
    "bad hidden": (lambda f: edit_config(f, lambda c: c["model"].update(hidden_dim="big")), "hidden_dim"),
    "vocab mismatch": (lambda f: edit_config(f, lambda c: c.update(vocab=c["vocab"][:-1])), "vocabulary"),
    "missing weights": (lambda f: (f / "model.safetensors").unlink(), "no model.safetensors"),
    "garbage weights": (lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 40), "damaged"),
    "wrong shapes": (lambda f: edit_config(f, lambda c: c["model"].update(hidden_dim=32)), "has shape"),
    "wrong names": (rename_tensor, "missing decoder.fc_out.weight"),
    "nan weights": (nan_tensor, "NaN"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_broken_checkpoints_fail_with_a_clear_one_line_message(saved, tmp_path, breakage):
    folder = copy_of(saved, tmp_path)
    load_checkpoint(folder)  # intact copy loads
    damage, expected = BREAKAGES[breakage]
    damage(folder)
    with pytest.raises(CheckpointError, match=expected) as info:
        load_checkpoint(folder)
    assert "\n" not in str(info.value)


def test_missing_folder_and_file_path(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nothing")
    (tmp_path / "f").write_text("x")
    with pytest.raises(CheckpointError, match="not a folder"):
        load_checkpoint(tmp_path / "f")
