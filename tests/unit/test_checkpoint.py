"""seq2seq/checkpoint.py: round trips, the on-disk format (no pickle), atomic saves, and every way a
checkpoint can be broken failing with a one-line CheckpointError that names the problem."""
import json
import pickle
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

import seq2seq.checkpoint as checkpoint_module
from seq2seq.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint, training_summary
from seq2seq.config import ModelConfig, TrainConfig
from seq2seq.decode import greedy_decode
from seq2seq.builder import build_model
from seq2seq.tasks import Task, make_spec
from seq2seq.training import DoneEvent, TrainState, train
from tests.helpers import ROOT, same_weights


TASK = Task(make_spec("reverse", 3, 5))
SOURCES = ["3 1 4 1", "3 1 4", "9 2 6 5 3", "0 0 7", "5 8 9 7"]
STEPS = 30


def model_config(**kw) -> ModelConfig:
    return ModelConfig(len(TASK.vocab), len(TASK.vocab), emb_dim=8, hidden_dim=16, **kw)


def trained_model(**kw):
    """A tiny model trained for STEPS steps (so its weights are not the initial ones) and its DoneEvent."""
    model = build_model(model_config(**kw), seed=0)
    events = list(train(model, TASK, TrainConfig(steps=STEPS, batch_size=32, eval_every=10, val_size=50)))
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.step == STEPS
    return model, done


def summary(done: DoneEvent) -> dict:
    return training_summary(done.step, done.elapsed, done.exact_match, done.token_accuracy)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(model, done, folder): the trained one-layer LSTM, saved once for the read-only tests."""
    model, done = trained_model()
    folder = save_checkpoint(tmp_path_factory.mktemp("saved") / "reverse", model, TASK, summary(done))
    return model, done, folder


# --- round trip ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [{}, dict(cell="gru", n_layers=2, dropout=0.1), dict(attention=True),
                                dict(attention="general", bidirectional=True, cell="gru"),
                                dict(attention="additive", bidirectional=True, n_layers=2),
                                dict(arch="transformer", heads=2, n_layers=2, positions="learned", dropout=0.1)],
                         ids=["lstm", "gru-2-layers", "lstm-attention", "general-bidirectional-gru",
                              "additive-bidirectional", "transformer"])
def test_round_trip_gives_identical_weights_and_decodes(tmp_path, kw):
    model, done = trained_model(**kw)
    assert not same_weights(model, build_model(model.config, seed=0))  # really trained, not the init weights

    folder = save_checkpoint(tmp_path / "ck", model, TASK, summary(done))
    assert folder == tmp_path / "ck"
    loaded = load_checkpoint(folder)

    assert isinstance(loaded, Checkpoint)
    assert loaded.model.config == model.config
    assert loaded.task.spec == TASK.spec and loaded.task.vocab == TASK.vocab
    assert same_weights(loaded.model, model)
    for source in SOURCES:
        expected = greedy_decode(model, TASK.vocab, source).to_dict()
        assert expected["steps"], source
        assert greedy_decode(loaded.model, loaded.task.vocab, source).to_dict() == expected
    assert loaded.training["steps"] == STEPS
    assert loaded.training["torch_version"] == torch.__version__
    assert loaded.training["exact_match"] == pytest.approx(done.exact_match, abs=1e-6)


def test_round_trip_keeps_a_non_default_task_spec(tmp_path):
    task = Task(make_spec("sort", 2, 7))
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), emb_dim=4, hidden_dim=8), seed=3)
    save_checkpoint(tmp_path / "ck", model, task)
    loaded = load_checkpoint(tmp_path / "ck")
    assert loaded.task.spec == make_spec("sort", 2, 7)
    assert loaded.task.spec != TASK.spec
    assert same_weights(loaded.model, model)


def test_loading_never_unpickles(saved, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint load must not unpickle anything")

    for target, name in ((torch, "load"), (pickle, "load"), (pickle, "loads")):
        monkeypatch.setattr(target, name, refuse)
    model, _, folder = saved
    assert same_weights(load_checkpoint(folder).model, model)


# --- the files on disk -----------------------------------------------------------------------------------

def test_config_json_is_human_readable_and_complete(saved):
    model, done, folder = saved
    text = (folder / "config.json").read_text(encoding="utf-8")
    assert text.count("\n") > 10  # indented, one field a line, not one long blob

    def no_nan(constant):
        raise AssertionError(f"config.json holds {constant}, which is not standard JSON")

    config = json.loads(text, parse_constant=no_nan)
    assert {"format", "version", "model", "task", "vocab", "training"} <= set(config)
    assert config["format"] == "seq2seq-playground"
    assert config["version"] == 2
    assert config["model"] == model.config.to_dict()
    assert config["model"]["cell"] == "lstm" and config["model"]["hidden_dim"] == 16
    assert config["task"] == {"name": "reverse", "min_len": 3, "max_len": 5}
    assert config["vocab"] == TASK.vocab.itos == ["<pad>", "<sos>", "<eos>", "<unk>", *"0123456789"]
    training = config["training"]
    assert training["torch_version"] == torch.__version__
    assert training["steps"] == STEPS
    assert training["exact_match"] == round(done.exact_match, 6)
    assert training["token_accuracy"] == round(done.token_accuracy, 6)


def test_weights_are_safetensors_and_there_is_no_pickle_file(saved):
    model, _, folder = saved
    raw = (folder / "model.safetensors").read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    assert 2 <= header_len < len(raw) - 8
    assert raw[8:9] == b"{"
    header = json.loads(raw[8:8 + header_len])
    header.pop("__metadata__", None)
    state = model.state_dict()
    assert set(header) == set(state)
    for name, entry in header.items():
        assert entry["dtype"] == "F32", name
        assert entry["shape"] == list(state[name].shape), name
    # the tensors' bytes fill the rest of the file exactly: nothing else is hidden in it
    assert max(entry["data_offsets"][1] for entry in header.values()) == len(raw) - 8 - header_len
    assert not raw.startswith(b"\x80") and not raw.startswith(b"PK")  # pickle / torch.save zip magic

    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    assert not [p for p in folder.parent.rglob("*") if p.suffix in (".pt", ".pth", ".pkl", ".pickle", ".bin")]


# --- atomic saves ----------------------------------------------------------------------------------------

def test_saving_twice_replaces_the_checkpoint_and_leaves_no_temporary_folders(tmp_path):
    first, done = trained_model()
    second = build_model(first.config, seed=9)
    assert not same_weights(first, second)
    save_checkpoint(tmp_path / "ck", first, TASK, summary(done))
    assert same_weights(load_checkpoint(tmp_path / "ck").model, first)

    save_checkpoint(tmp_path / "ck", second, TASK, {"steps": 0})
    loaded = load_checkpoint(tmp_path / "ck")
    assert same_weights(loaded.model, second)
    assert loaded.training["steps"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["config.json", "model.safetensors"]


def test_a_failed_save_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    first, done = trained_model()
    save_checkpoint(tmp_path / "ck", first, TASK, summary(done))

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint_module, "save_file", disk_full)
    with pytest.raises(OSError):
        save_checkpoint(tmp_path / "ck", build_model(first.config, seed=9), TASK)
    monkeypatch.undo()
    assert same_weights(load_checkpoint(tmp_path / "ck").model, first)
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]  # the temporary folder was removed


def test_saving_into_a_new_nested_or_an_empty_folder_works(tmp_path):
    model = build_model(model_config(), seed=1)
    save_checkpoint(tmp_path / "a" / "b" / "ck", model, TASK)
    assert same_weights(load_checkpoint(tmp_path / "a" / "b" / "ck").model, model)
    (tmp_path / "empty").mkdir()
    save_checkpoint(tmp_path / "empty", model, TASK)
    assert same_weights(load_checkpoint(tmp_path / "empty").model, model)


def test_saving_into_a_folder_with_other_files_refuses_and_touches_nothing(tmp_path):
    model = build_model(model_config(), seed=1)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="other files") as info:
        save_checkpoint(mine, model, TASK)
    assert "notes.txt" in str(info.value) and "\n" not in str(info.value)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert (mine / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # no temporary folder either


def test_saving_to_a_path_that_is_a_file_refuses(tmp_path):
    model = build_model(model_config(), seed=1)
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(CheckpointError, match="exists and is not a folder"):
        save_checkpoint(tmp_path / "file", model, TASK)
    assert (tmp_path / "file").read_text() == "not a folder"
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


# --- broken checkpoints ----------------------------------------------------------------------------------

def copy_of(folder, tmp_path):
    target = tmp_path / "ck"
    shutil.copytree(folder, target)
    return target


def edit_config(change):
    def damage(folder):
        config = json.loads((folder / "config.json").read_text())
        change(config)
        (folder / "config.json").write_text(json.dumps(config, indent=2))
    return damage


def edit_weights(change):
    def damage(folder):
        weights = load_file(str(folder / "model.safetensors"))
        change(weights)
        save_file(weights, str(folder / "model.safetensors"))
    return damage


def truncate(name, keep):
    def damage(folder):
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[:keep(len(data))])
    return damage


def rename_tensor(weights):
    weights["decoder.out.weight"] = weights.pop("decoder.fc_out.weight")


def put_nan(weights):
    weights["encoder.rnn.weight_hh_l0"][2, 3] = float("nan")


# name -> (how to break a good checkpoint, the substrings the message must contain)
BREAKAGES = {
    "missing config.json": (lambda f: (f / "config.json").unlink(), ["no config.json"]),
    "truncated config.json": (truncate("config.json", lambda n: n // 2), ["config.json", "not valid JSON"]),
    "config.json garbage": (lambda f: (f / "config.json").write_text("garbage"), ["not valid JSON"]),
    "wrong format": (edit_config(lambda c: c.update(format="pytorch-lightning")),
                     ["not a seq2seq playground checkpoint"]),
    "newer version": (edit_config(lambda c: c.update(version=4)), ["version 4", "upgrade"]),
    "missing model section": (edit_config(lambda c: c.pop("model")), ["missing model"]),
    "unknown task": (edit_config(lambda c: c["task"].update(name="juggle")), ["unknown task 'juggle'"]),
    "bad task lengths": (edit_config(lambda c: c["task"].update(min_len=0)), ["min (0)"]),
    "bad cell": (edit_config(lambda c: c["model"].update(cell="transformer")), ["cell", "'transformer'"]),
    "bad hidden_dim": (edit_config(lambda c: c["model"].update(hidden_dim="big")), ["hidden_dim", "'big'"]),
    "unknown model field": (edit_config(lambda c: c["model"].update(kernel=4)), ["unknown field", "kernel"]),
    "version 1 with a newer field": (edit_config(lambda c: c.update(version=1) or c["model"].update(heads=4)),
                                    ["unknown field", "version 1", "heads"]),
    "vocab too short": (edit_config(lambda c: c.update(vocab=c["vocab"][:-1])), ["vocabulary does not match"]),
    "vocab reordered": (edit_config(lambda c: c["vocab"].reverse()), ["vocabulary does not match"]),
    "vocab size": (edit_config(lambda c: c["model"].update(trg_vocab_size=15)), ["trg_vocab_size is 15"]),
    "missing model.safetensors": (lambda f: (f / "model.safetensors").unlink(), ["no model.safetensors"]),
    "truncated model.safetensors": (truncate("model.safetensors", lambda n: n - 100),
                                    ["damaged or not a safetensors file"]),
    "truncated safetensors header": (truncate("model.safetensors", lambda n: 5),
                                     ["damaged or not a safetensors file"]),
    "garbage model.safetensors": (lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 40),
                                  ["damaged or not a safetensors file"]),
    "wrong shapes": (edit_config(lambda c: c["model"].update(hidden_dim=32)),
                     ["has shape [", "needs ["]),
    "wrong tensor name": (edit_weights(rename_tensor),
                          ["missing decoder.fc_out.weight", "unexpected decoder.out.weight"]),
    "missing layer": (edit_config(lambda c: c["model"].update(n_layers=2)), ["missing", "_l1"]),
    "integer tensor": (edit_weights(lambda w: w.update({"decoder.fc_out.bias": w["decoder.fc_out.bias"].long()})),
                       ["decoder.fc_out.bias", "not floating-point"]),
    "NaN weight": (edit_weights(put_nan), ["encoder.rnn.weight_hh_l0", "NaN"]),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_checkpoint_fails_with_a_one_line_message_naming_the_problem(saved, tmp_path, breakage):
    _, _, good = saved
    folder = copy_of(good, tmp_path)
    load_checkpoint(folder)  # the intact copy loads: the failure below is the damage's doing
    damage, expected = BREAKAGES[breakage]
    damage(folder)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(folder)
    message = str(info.value)
    for part in expected:
        assert part in message, message
    assert message.strip() and "\n" not in message and "\r" not in message, message


def test_a_missing_folder_or_a_file_fails_with_a_one_line_message(tmp_path):
    with pytest.raises(CheckpointError, match="not found") as info:
        load_checkpoint(tmp_path / "nothing")
    assert "nothing" in str(info.value) and "\n" not in str(info.value)
    (tmp_path / "model.safetensors").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="is not a folder") as info:
        load_checkpoint(tmp_path / "model.safetensors")
    assert "\n" not in str(info.value)


# --- zip archives from strangers -----------------------------------------------------------------------

def zipped(saved, tmp_path, name="ck.zip"):
    from seq2seq.checkpoint import write_checkpoint_zip
    _, _, folder = saved
    return write_checkpoint_zip(folder, tmp_path / name)


def test_a_checkpoint_zip_round_trips(saved, tmp_path):
    from seq2seq.checkpoint import load_checkpoint_zip
    model, _, _ = saved
    loaded = load_checkpoint_zip(zipped(saved, tmp_path), max_weights_bytes=10_000_000)
    assert same_weights(model, loaded.model)
    assert loaded.task.spec == TASK.spec


def rezip(source, target, change):
    """A copy of a checkpoint zip with `change(name, data) -> data` applied to each member."""
    import zipfile
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, change(info.filename.rsplit("/", 1)[-1], zin.read(info)))
    return target


def test_the_budget_check_runs_before_any_tensor_exists(saved, tmp_path, monkeypatch):
    from seq2seq.checkpoint import load_checkpoint_zip

    def big(name, data):
        if name != "config.json":
            return data
        config = json.loads(data)
        config["model"].update(hidden_dim=2048, n_layers=8, emb_dim=1024)
        return json.dumps(config).encode()

    archive = rezip(zipped(saved, tmp_path), tmp_path / "big.zip", big)
    built = []
    monkeypatch.setattr(checkpoint_module.Seq2Seq, "from_config", lambda *a: built.append(a) or 1 / 0)

    def refuse(model_config, spec):
        raise ValueError(f"hidden size {model_config.hidden_dim} is too big")
    with pytest.raises(CheckpointError, match="hidden size 2048 is too big"):
        load_checkpoint_zip(archive, max_weights_bytes=10_000_000, check=refuse)
    assert built == []


def test_weights_shapes_are_checked_from_the_header_before_loading(saved, tmp_path, monkeypatch):
    from seq2seq.checkpoint import load_checkpoint_zip

    def other(name, data):
        if name != "config.json":
            return data
        config = json.loads(data)
        config["model"]["hidden_dim"] = 24  # the weights are for 16
        return json.dumps(config).encode()

    archive = rezip(zipped(saved, tmp_path), tmp_path / "other.zip", other)
    monkeypatch.setattr(checkpoint_module, "load", lambda data: pytest.fail("weights loaded before the check"))
    with pytest.raises(CheckpointError, match=r"tensor .* has shape \[\d+, 16\] but the model in config.json needs"):
        load_checkpoint_zip(archive, max_weights_bytes=10_000_000)


def test_decompression_is_capped_by_what_is_produced_not_what_the_header_says(saved, tmp_path):
    import tracemalloc
    from seq2seq.checkpoint import load_checkpoint_zip
    archive = rezip(zipped(saved, tmp_path), tmp_path / "bomb.zip",
                    lambda name, data: data if name == "config.json" else bytes(300_000_000))
    tracemalloc.start()
    with pytest.raises(CheckpointError, match="model.safetensors is larger than a checkpoint of this model can be"):
        load_checkpoint_zip(archive, max_weights_bytes=10_000_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50_000_000  # read in 1 MB pieces, stopped at the cap


@pytest.mark.parametrize("what, members, message", [
    ("no config", {"model.safetensors": b"x"}, "must hold config.json and model.safetensors"),
    ("two configs", {"a/config.json": b"{}", "b/config.json": b"{}", "model.safetensors": b"x"},
     "more than one config.json"),
    ("deep config", {"config.json": b"[" * 5000 + b"]" * 5000, "model.safetensors": b"x"},
     "nested too deeply|not valid JSON"),
    ("huge config", {"config.json": b" " * 100_000, "model.safetensors": b"x"}, "config.json is larger than"),
], ids=["no-config", "two-configs", "deep-config", "huge-config"])
def test_broken_or_hostile_zips_are_refused_with_a_sentence(tmp_path, what, members, message):
    import zipfile
    from seq2seq.checkpoint import load_checkpoint_zip
    archive = tmp_path / "x.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint_zip(archive, max_weights_bytes=10_000_000)
    assert str(tmp_path) not in str(info.value)


def with_extra_entries(archive, target, total: int):
    """A copy of a checkpoint zip padded with small notes to `total` entries: a plain zip, not zip64."""
    import zipfile
    with zipfile.ZipFile(archive) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        infos = zin.infolist()
        for info in infos:
            zout.writestr(info.filename, zin.read(info))
        for i in range(total - len(infos)):
            zout.writestr(f"notes/{i}.txt", b"")
    with open(target, "rb") as f:
        assert b"PK\x06\x06" not in f.read()  # no zip64 directory: the entry count is what is checked
    with zipfile.ZipFile(target) as z:
        assert len(z.infolist()) == total
    return target


def test_a_zip_with_more_entries_than_the_cap_is_refused_by_its_directory(saved, tmp_path, monkeypatch):
    from seq2seq.checkpoint import load_checkpoint_zip
    archive = zipped(saved, tmp_path)
    at_cap = with_extra_entries(archive, tmp_path / "100.zip", checkpoint_module.MAX_ZIP_ENTRIES)
    assert checkpoint_module.MAX_ZIP_ENTRIES == 100
    assert same_weights(load_checkpoint_zip(at_cap, max_weights_bytes=10_000_000).model, saved[0])  # 100: loads
    over = with_extra_entries(archive, tmp_path / "101.zip", 101)
    monkeypatch.setattr(checkpoint_module.zipfile, "ZipFile", lambda *a: pytest.fail("the directory was read"))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint_zip(over, max_weights_bytes=10_000_000)
    assert str(info.value) == "the zip holds 101 entries; a checkpoint has 2 or 3"


# --- the training state -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def with_state(tmp_path_factory):
    """(model, state, folder): a two-layer GRU trained with a TrainState, saved with it."""
    model = build_model(model_config(cell="gru", n_layers=2, dropout=0.1), seed=0)
    state = TrainState.fresh(0)
    list(train(model, TASK, TrainConfig(steps=5, batch_size=16, val_size=20), state=state))
    folder = save_checkpoint(tmp_path_factory.mktemp("state") / "ck", model, TASK, {"steps": 5}, state=state)
    return model, state, folder


def test_a_checkpoint_keeps_the_training_state_and_old_ones_have_none(saved, with_state, tmp_path):
    model, state, folder = with_state
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors", "train_state.safetensors"]
    loaded = load_checkpoint(folder)
    assert loaded.state == state.to_bytes()
    assert TrainState.from_bytes(loaded.state, loaded.model).to_bytes() == loaded.state
    assert load_checkpoint(saved[2]).state is None  # saved without one
    assert load_checkpoint(ROOT / "checkpoints" / "reverse").state is None  # the bundled ones, unchanged
    # saving over it without a state leaves no stale one behind
    save_checkpoint(copy_of(folder, tmp_path), model, TASK)
    assert load_checkpoint(tmp_path / "ck").state is None


def test_a_damaged_training_state_fails_naming_its_file(with_state, tmp_path):
    _, state, folder = with_state
    folder = copy_of(folder, tmp_path)
    data = (folder / "train_state.safetensors").read_bytes()
    (folder / "train_state.safetensors").write_bytes(data[:-10])
    with pytest.raises(CheckpointError, match=r"train_state.safetensors: the training state is damaged"):
        load_checkpoint(folder)
    (folder / "train_state.safetensors").write_bytes(data + bytes(checkpoint_module.state_max_bytes(state_model())))
    with pytest.raises(CheckpointError, match=r"train_state.safetensors is larger than"):
        load_checkpoint(folder)


def state_model():
    return build_model(model_config(cell="gru", n_layers=2, dropout=0.1))


def test_a_zip_carries_the_training_state(with_state, tmp_path):
    from seq2seq.checkpoint import load_checkpoint_zip, write_checkpoint_zip
    _, state, folder = with_state
    archive = write_checkpoint_zip(folder, tmp_path / "ck.zip")
    loaded = load_checkpoint_zip(archive, max_weights_bytes=10_000_000)
    assert loaded.state == state.to_bytes()


def test_a_zips_training_state_is_capped_and_its_header_checked_before_loading(with_state, tmp_path, monkeypatch):
    from seq2seq.checkpoint import load_checkpoint_zip, write_checkpoint_zip
    _, _, folder = with_state
    archive = write_checkpoint_zip(folder, tmp_path / "ck.zip")
    cap = checkpoint_module.state_max_bytes(state_model())
    assert cap < 3 * (folder / "model.safetensors").stat().st_size + 300_000  # about twice the weights
    bomb = rezip(archive, tmp_path / "bomb.zip",
                 lambda name, data: bytes(100_000_000) if name == "train_state.safetensors" else data)
    with pytest.raises(CheckpointError, match=f"train_state.safetensors is larger than a checkpoint of this model "
                                              f"can be \\({cap:,} bytes at most\\)"):
        load_checkpoint_zip(bomb, max_weights_bytes=10_000_000)

    other = TrainState.fresh(0)
    other_model = build_model(ModelConfig(len(TASK.vocab), len(TASK.vocab), emb_dim=8, hidden_dim=24, cell="gru",
                                          n_layers=2))
    list(train(other_model, TASK, TrainConfig(steps=1, batch_size=4, val_size=5), state=other))
    swapped = rezip(archive, tmp_path / "swapped.zip",
                    lambda name, data: other.to_bytes() if name == "train_state.safetensors" else data)
    from seq2seq import training as train_module
    monkeypatch.setattr(train_module, "load_safetensors", lambda data: pytest.fail("state loaded before the check"))
    with pytest.raises(CheckpointError, match="train_state.safetensors: the training state does not fit the model"):
        load_checkpoint_zip(swapped, max_weights_bytes=10_000_000)



def test_a_zips_members_are_sized_from_their_headers_before_a_byte_is_decompressed(with_state, tmp_path,
                                                                                 monkeypatch):
    """A state or weights whose zip entry is longer, or shorter, than its header's tensors take is refused from the
    header alone (a few KB read): the rest of it is never decompressed."""
    from seq2seq.checkpoint import load_checkpoint_zip, write_checkpoint_zip
    _, state, folder = with_state
    archive = write_checkpoint_zip(folder, tmp_path / "ck.zip")
    exact = len(state.to_bytes())
    padded = rezip(archive, tmp_path / "padded.zip",
                   lambda name, data: data + bytes(1000) if name == "train_state.safetensors" else data)
    cut = rezip(archive, tmp_path / "cut.zip",
                lambda name, data: data[:-4] if name == "model.safetensors" else data)
    extra = rezip(archive, tmp_path / "extra.zip",  # a tensor no model has, named in the header
                  lambda name, data: _with_tensor(data, "adam.extra", 1000) if name == "train_state.safetensors"
                  else data)
    monkeypatch.setattr(checkpoint_module, "_read_member", _only_small_reads(checkpoint_module._read_member))
    with pytest.raises(CheckpointError, match=rf"^train_state.safetensors is larger than a checkpoint of this model "
                                              rf"can be \({exact:,} bytes at most\)$"):
        load_checkpoint_zip(padded, max_weights_bytes=10_000_000)
    with pytest.raises(CheckpointError, match=r"^model.safetensors holds [\d,]+ bytes, but its tensors take [\d,]+: "
                                              r"it is damaged$"):
        load_checkpoint_zip(cut, max_weights_bytes=10_000_000)
    with pytest.raises(CheckpointError, match=r"^train_state.safetensors: the training state does not fit the model: "
                                              r"unexpected adam.extra$"):
        load_checkpoint_zip(extra, max_weights_bytes=10_000_000)


def _only_small_reads(read):
    """_read_member, failing the test if it is asked for a safetensors member (config.json only: they are sized
    first, and the refusals above come before any is read whole)."""
    def checked(archive, info, cap):
        assert info.filename.endswith("config.json"), f"{info.filename} read before it was sized"
        return read(archive, info, cap)
    return checked


def _with_tensor(data: bytes, name: str, size: int) -> bytes:
    """safetensors bytes with one more U8 tensor of `size` bytes at the end, named in the header."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    end = max(e["data_offsets"][1] for k, e in header.items() if k != "__metadata__")
    header[name] = {"dtype": "U8", "shape": [size], "data_offsets": [end, end + size]}
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data[8 + n:] + bytes(size)


def test_a_zip_whose_directory_declares_a_bomb_is_refused_before_decompressing(saved, tmp_path, monkeypatch):
    """The zip's own directory says model.safetensors is 1 GiB: refused from that, before inflating a byte."""
    import zipfile
    from seq2seq.checkpoint import load_checkpoint_zip
    archive = zipped(saved, tmp_path)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zout:
        zout.writestr("c/config.json", zin.read(next(i for i in zin.infolist() if i.filename.endswith("config.json"))))
        with zout.open("c/model.safetensors", "w") as f:
            for _ in range(1024):
                f.write(bytes(1 << 20))
    monkeypatch.setattr(checkpoint_module, "_read_member", _only_small_reads(checkpoint_module._read_member))
    monkeypatch.setattr(checkpoint_module, "_read_header", lambda *a: pytest.fail("header read before the size"))
    with pytest.raises(CheckpointError, match=r"^model.safetensors is larger than a checkpoint of this model can be"):
        load_checkpoint_zip(bomb, max_weights_bytes=10_000_000)


def test_a_zip_with_two_training_states_is_refused(with_state, tmp_path):
    import zipfile
    from seq2seq.checkpoint import load_checkpoint_zip, write_checkpoint_zip
    _, state, folder = with_state
    archive = write_checkpoint_zip(folder, tmp_path / "ck.zip")
    with zipfile.ZipFile(archive, "a") as z:
        z.writestr("other/train_state.safetensors", state.to_bytes())
    with pytest.raises(CheckpointError, match="more than one train_state.safetensors"):
        load_checkpoint_zip(archive, max_weights_bytes=10_000_000)


# --- version 1 ---------------------------------------------------------------------------------------------

# what the bundled (version-1) checkpoints decoded before version 2 existed: output, the top 2 of the first two
# steps, and the attention rows of the first two steps (copy and addition were re-trained with other attention in
# version 2: their version-1 folders are kept in tests/v1_checkpoints)
V1_FOLDERS = {"reverse": ROOT / "checkpoints" / "reverse", "copy": ROOT / "tests" / "v1_checkpoints" / "copy",
              "addition": ROOT / "tests" / "v1_checkpoints" / "addition", "sort": ROOT / "checkpoints" / "sort"}
BUNDLED_V1 = {
    "reverse": ("3 1 4 1 5 9", "9 5 1 4 1 3", [[("9", 0.999845), ("5", 0.000137)], [("5", 0.999985), ("9", 1.3e-05)]],
                [None, None]),
    "copy": ("5 2 7", "5 2 7", [[("5", 0.999998), ("2", 2e-06)], [("2", 0.999997), ("7", 1e-06)]],
             [[0.37635, 0.363388, 0.260262], [0.216854, 0.434062, 0.349084]]),
    "addition": ("4 7 + 5 8", "1 0 5", [[("1", 0.999947), ("9", 5.3e-05)], [("0", 0.999669), ("1", 0.000331)]],
                 [[0.166817, 0.146179, 0.158053, 0.18472, 0.344231],
                  [0.173737, 0.193937, 0.204864, 0.207996, 0.219465]]),
    "sort": ("9 3 5 1", "1 3 5 9", [[("1", 0.999912), ("3", 7.2e-05)], [("3", 0.999884), ("5", 9.1e-05)]],
             [None, None]),
}


@pytest.mark.parametrize("name", BUNDLED_V1)
def test_the_bundled_version_1_checkpoints_load_and_decode_as_before(name):
    folder = V1_FOLDERS[name]
    config = json.loads((folder / "config.json").read_text())
    assert config["version"] == 1 and isinstance(config["model"]["attention"], bool)
    model = load_checkpoint(folder).model
    assert model.config.attention == ("dot" if config["model"]["attention"] else "none")
    assert model.config.arch == "rnn" and not model.config.bidirectional
    source, output, tops, attention = BUNDLED_V1[name]
    trace = greedy_decode(model, load_checkpoint(folder).task.vocab, source, top_k=2)
    assert trace.output == output
    assert [s.top for s in trace.steps[:2]] == tops
    assert [s.attention for s in trace.steps[:2]] == attention


def test_a_version_1_checkpoint_saved_again_is_version_2_and_decodes_the_same(tmp_path):
    old = load_checkpoint(V1_FOLDERS["copy"])
    save_checkpoint(tmp_path / "copy", old.model, old.task)
    config = json.loads((tmp_path / "copy" / "config.json").read_text())
    assert config["version"] == 2 and config["model"]["attention"] == "dot" and config["model"]["arch"] == "rnn"
    new = load_checkpoint(tmp_path / "copy")
    assert greedy_decode(new.model, new.task.vocab, "5 2 7").to_dict() == \
        greedy_decode(old.model, old.task.vocab, "5 2 7").to_dict()
