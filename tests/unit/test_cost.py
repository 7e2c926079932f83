import json
import re
import subprocess
import sys
from dataclasses import replace

import pytest

from playground import settings

from playground import cost
from seq2seq.config import ModelConfig, TrainConfig
from playground.budget import Budget, BudgetError, check
from playground.cost import estimate, eval_seconds, val_size_within
from seq2seq import build_model, count_parameters
from seq2seq.tasks import Task, make_spec
from tests.helpers import ROOT

DIGITS = len(Task(make_spec("reverse")).vocab)   # 14
ADDITION = len(Task(make_spec("addition")).vocab)  # 15



def preset(name: str):
    """(model config, train config, task spec) of one of the app's presets, as the app reads them."""
    task, model_config, train_config = settings.read(settings.PRESETS[name])
    return model_config, train_config, task.spec


DEFAULT, SEED = preset("Tuned default"), preset("Seed tutorial settings")
LARGEST = (ModelConfig(DIGITS, DIGITS, cell="lstm", emb_dim=256, hidden_dim=512, n_layers=4, dropout=0.9,
                       attention=True),
           TrainConfig(batch_size=1024, teacher_forcing=0.0),
           make_spec("reverse", 50, 50))
FIELD_NAMES = ("hidden_dim", "batch_size", "n_layers", "emb_dim", "max_len", "teacher_forcing", "val_size")


@pytest.mark.parametrize("kw", [
    dict(), dict(cell="gru"), dict(n_layers=3, emb_dim=7, hidden_dim=5), dict(attention=True),
    dict(cell="gru", n_layers=4, attention=True, emb_dim=256, hidden_dim=512), dict(emb_dim=1, hidden_dim=1),
])
@pytest.mark.parametrize("vocab", [DIGITS, ADDITION])
def test_parameter_count_is_exact(kw, vocab):
    config = ModelConfig(vocab, vocab, **kw)
    assert cost.count_parameters(config) == count_parameters(build_model(config))
    spec = make_spec("addition" if vocab == ADDITION else "copy")
    assert estimate(config, TrainConfig(), spec).parameters == count_parameters(build_model(config))


@pytest.mark.parametrize("preset", [DEFAULT, SEED], ids=["default", "seed"])
def test_the_presets_fit_the_default_budget_easily(preset):
    budget = Budget()
    got = check(*preset, budget)
    assert got == estimate(*preset)
    assert got.memory_mb < budget.memory_mb / 2
    assert got.step_seconds < budget.step_seconds / 4
    assert got.eval_seconds < budget.eval_seconds / 2
    assert val_size_within(preset[0], preset[2], budget.eval_seconds) == 500


def test_the_largest_form_setting_is_refused_in_plain_words():
    with pytest.raises(BudgetError) as e:
        check(*LARGEST, Budget())
    message = str(e.value)
    assert "GB" in message and "memory" in message
    assert "Hidden size 512" in message and "batch size 1024" in message and "4 layers" in message
    advice = message.split(": ")[-1]
    assert advice.startswith("lower") and "the batch size" in advice and "the hidden size" in advice
    assert not any(name in message for name in FIELD_NAMES), message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    assert isinstance(e.value, ValueError)


def test_a_slow_step_is_refused_with_its_time_and_the_teacher_forcing_way_out():
    model = ModelConfig(DIGITS, DIGITS, hidden_dim=256)
    train = TrainConfig(batch_size=256, teacher_forcing=0.5)
    spec = make_spec("reverse", 3, 50)
    fast = replace(train, teacher_forcing=1.0)
    budget = Budget(memory_mb=100_000, step_seconds=(cost.step_seconds(model, 256, 1.0, spec)
                                                     + cost.step_seconds(model, 256, 0.5, spec)) / 2)
    assert check(model, fast, spec, budget)
    with pytest.raises(BudgetError) as e:
        check(model, train, spec, budget)
    message = str(e.value)
    assert "per training step" in message and "Stop" in message
    assert "with teacher-forcing ratio 0.5" in message and "raise the teacher-forcing ratio to 1" in message
    assert not any(name in message for name in FIELD_NAMES), message


def fits(model, train, spec, budget=Budget()) -> bool:
    try:
        check(model, train, spec, budget)
        return True
    except BudgetError:
        return False


@pytest.mark.parametrize("over", [1.15, 2, 6])
def test_following_any_one_piece_of_advice_is_enough(over):
    model = ModelConfig(DIGITS, DIGITS, hidden_dim=128, attention=True)
    spec = make_spec("reverse", 3, 50)
    low, high = 1, 1025  # the largest batch size that fits (cost grows with it)
    assert fits(model, TrainConfig(batch_size=low, teacher_forcing=0.5), spec)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if fits(model, TrainConfig(batch_size=mid, teacher_forcing=0.5), spec) else (low, mid)
    largest = low
    train = TrainConfig(batch_size=min(1024, int(largest * over) + 1), teacher_forcing=0.5)
    with pytest.raises(BudgetError) as e:
        check(model, train, spec, Budget())
    message = str(e.value)
    advice = re.findall(r"the (batch size|hidden size|max length|layers|embedding size) \(to (\d+) or less\)",
                        message)
    assert advice, message
    for label, value in advice:
        m, t, s = model, train, spec
        if label == "batch size":
            t = replace(t, batch_size=int(value))
        elif label == "hidden size":
            m = replace(m, hidden_dim=int(value))
        elif label == "max length":
            s = make_spec(s.name, min(s.min_len, int(value)), int(value))
        elif label == "layers":
            m = replace(m, n_layers=int(value))
        else:
            m = replace(m, emb_dim=int(value))
        check(m, t, s, Budget())
    assert ("raise the teacher-forcing ratio to 1" in message) == fits(model, replace(train, teacher_forcing=1.0),
                                                                       spec)


def test_when_nothing_alone_is_enough_the_advice_names_the_biggest_factors():
    with pytest.raises(BudgetError) as e:
        check(*LARGEST, Budget())
    assert "lower several of" in str(e.value) and "batch size" in str(e.value)


GROW = {
    "hidden": lambda m, t, s, k: (replace(m, hidden_dim=m.hidden_dim * k), t, s),
    "emb": lambda m, t, s, k: (replace(m, emb_dim=m.emb_dim * k), t, s),
    "layers": lambda m, t, s, k: (replace(m, n_layers=min(4, m.n_layers + k)), t, s),
    "batch": lambda m, t, s, k: (m, replace(t, batch_size=t.batch_size * k), s),
    "length": lambda m, t, s, k: (m, t, make_spec(s.name, s.min_len,
                                                  min(s.max_len + 3 * k, s.max_len_cap))),
    "val": lambda m, t, s, k: (m, replace(t, val_size=t.val_size * k), s),
    "attention": lambda m, t, s, k: (replace(m, attention=True), t, s),
    "dropout": lambda m, t, s, k: (replace(m, dropout=0.5), t, s),
}


@pytest.mark.parametrize("grow", list(GROW))
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("tf", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("task", ["reverse", "addition"])
def test_more_of_anything_never_costs_less(grow, cell, tf, task):
    vocab = ADDITION if task == "addition" else DIGITS
    costs = ("memory_mb", "step_seconds", "eval_seconds")
    grew = set()
    for hidden, layers, batch in ((1, 1, 1), (16, 1, 8), (128, 2, 128), (512, 4, 1024)):
        m = ModelConfig(vocab, vocab, cell=cell, emb_dim=8, hidden_dim=hidden, n_layers=layers)
        t = TrainConfig(batch_size=batch, teacher_forcing=tf, val_size=200)
        s = make_spec(task, 1, 3)
        before = estimate(m, t, s)
        for k in (1, 2, 3):
            after = estimate(*GROW[grow](m, t, s, k))
            for c in costs:
                assert getattr(after, c) >= getattr(before, c), c
                if getattr(after, c) > getattr(before, c):
                    grew.add(c)
            before = after
    # and the setting is costed at all: more of it costs more somewhere (more held-out examples cost only
    # evaluation time and memory; everything else also costs training time)
    assert grew >= ({"eval_seconds"} if grow == "val" else {"memory_mb", "step_seconds"}), grew


def test_budget_from_env():
    assert Budget.from_env({}) == Budget() == Budget(1024.0, 0.5, 0.5)
    env = {"SEQ2SEQ_TRAIN_MEMORY_MB": "2048", "SEQ2SEQ_STEP_SECONDS": "1.5", "SEQ2SEQ_EVAL_SECONDS": " 2 "}
    assert Budget.from_env(env) == Budget(2048.0, 1.5, 2.0)
    assert Budget.from_env({"SEQ2SEQ_STEP_SECONDS": ""}) == Budget()  # set but empty: the default
    for variable in ("SEQ2SEQ_TRAIN_MEMORY_MB", "SEQ2SEQ_STEP_SECONDS", "SEQ2SEQ_EVAL_SECONDS"):
        for garbage in ("lots", "-1", "0", "nan", "inf", "1GB"):
            with pytest.raises(ValueError, match=f"{variable} must be a positive number of"):
                Budget.from_env({variable: garbage})


def test_a_bigger_budget_accepts_more():
    model, train, spec = LARGEST
    needed = estimate(model, train, spec)
    generous = Budget(needed.memory_mb + 1, needed.step_seconds + 1, eval_seconds(model, spec, 50) + 1)
    assert check(model, train, spec, generous) == needed


def test_val_size_within_respects_floor_and_cap_and_shrinks_for_big_models():
    small_model, _, small_spec = DEFAULT
    big_model = ModelConfig(DIGITS, DIGITS, emb_dim=256, hidden_dim=512, n_layers=4, attention=True)
    long = make_spec("reverse", 3, 50)
    assert val_size_within(small_model, small_spec, 0.5) == 500
    assert val_size_within(small_model, small_spec, 0.5, cap=200) == 200
    assert val_size_within(small_model, small_spec, 1e9, cap=3000) == 3000
    assert val_size_within(big_model, long, 0.0) == 50           # never below the floor
    assert val_size_within(big_model, long, 0.0, floor=10) == 10
    mid = ModelConfig(DIGITS, DIGITS, hidden_dim=256, n_layers=2, attention=True)
    n = val_size_within(mid, long, 0.5)
    assert 50 < n < 500
    assert eval_seconds(mid, long, n) <= 0.5 < eval_seconds(mid, long, n + 1)
    sizes = [val_size_within(replace(mid, hidden_dim=h), long, 0.5) for h in (64, 128, 256, 384, 512)]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]


@pytest.mark.parametrize("module", ["cost", "cost_fitted", "budget"])
def test_cost_module_is_pure_arithmetic(module):
    """It imports nothing heavy (no torch, no gradio) and builds nothing: only the standard library and the
    library's torch-free config and tasks."""
    import ast
    tree = ast.parse((ROOT / "playground" / f"{module}.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    assert imported <= {"__future__", "math", "os", "dataclasses", "typing", "seq2seq.config", "seq2seq.tasks",
                        ".cost", ".cost_fitted"}, imported


def test_estimate_bounds_a_real_training_worker():
    """One real measurement, in a fresh process like the app's worker: the estimate is an upper bound of
    the peak memory above the idle worker, and not more than 4x it."""
    cfg = dict(task="reverse", length=30, cell="lstm", emb_dim=32, hidden_dim=256, n_layers=1, dropout=0.0,
               attention=True, batch_size=128, teacher_forcing=1.0, val_size=500, warmup=1, min_seconds=0.0,
               max_steps=3, eval_repeats=0)
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "fit_cost.py"), "--one", json.dumps(cfg)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    model = ModelConfig(DIGITS, DIGITS, emb_dim=32, hidden_dim=256, n_layers=1, attention=True)
    train = TrainConfig(batch_size=128, teacher_forcing=1.0, val_size=500)
    spec = make_spec("reverse", 3, 30)
    est = check(model, train, spec, Budget())  # the default budget accepts it
    assert measured["parameters"] == est.parameters
    assert measured["peak_mb"] <= est.memory_mb <= 4 * measured["peak_mb"], (measured["peak_mb"], est)


VARIANTS = [dict(bidirectional=True), dict(bidirectional=True, cell="gru", n_layers=3), dict(attention="general"),
            dict(attention="additive"), dict(attention="additive", bidirectional=True, n_layers=2, emb_dim=7),
            dict(attention="dot", bidirectional=True, cell="gru"),
            dict(arch="transformer", hidden_dim=64, heads=4, n_layers=2),
            dict(arch="transformer", hidden_dim=32, heads=2, n_layers=3, ff_dim=50, positions="learned")]


@pytest.mark.parametrize("kw", VARIANTS)
@pytest.mark.parametrize("vocab", [DIGITS, ADDITION])
def test_parameter_count_is_exact_for_every_variant(kw, vocab):
    config = ModelConfig(vocab, vocab, **kw)
    assert cost.count_parameters(config) == count_parameters(build_model(config))


@pytest.mark.parametrize("kw", VARIANTS[:6])
@pytest.mark.parametrize("teacher_forcing", [1.0, 0.5])
def test_an_rnn_variant_costs_at_least_the_plain_model(kw, teacher_forcing):
    """A bidirectional encoder and general or additive attention only add work to the model they extend (the
    estimates were checked against measurements: 1.1-3.6x the measured step and evaluation times and peak
    memory of such models)."""
    spec, train = make_spec("reverse", 3, 20), TrainConfig(teacher_forcing=teacher_forcing)
    plain = ModelConfig(DIGITS, DIGITS, **{k: v for k, v in kw.items() if k in ("cell", "n_layers", "emb_dim")},
                        attention="dot" if kw.get("attention", "none") != "none" else "none")
    variant, base = estimate(ModelConfig(DIGITS, DIGITS, **kw), train, spec), estimate(plain, train, spec)
    assert variant.memory_mb >= base.memory_mb and variant.step_seconds > base.step_seconds
    assert variant.eval_seconds >= base.eval_seconds
    if kw.get("attention") == "additive" and teacher_forcing == 1.0:  # it has no fast path: it loops
        loop = estimate(plain, replace(train, teacher_forcing=0.5), spec)
        assert variant.step_seconds > loop.step_seconds


def test_a_transformer_estimate_grows_with_its_sizes_and_covers_what_was_measured():
    spec, train = make_spec("reverse", 3, 10), TrainConfig()
    small = ModelConfig(DIGITS, DIGITS, arch="transformer", hidden_dim=64, heads=4, n_layers=2)
    got = estimate(small, train, spec)
    # measured on this machine (one thread, CPU time): 0.028 s per step, 0.13-0.15 s per evaluation of 500, 140 MB
    assert got.step_seconds >= 0.028 * 1.3 and got.eval_seconds >= 0.15 and got.memory_mb >= 140 * 1.3
    assert got.step_seconds < 0.5 and got.memory_mb < 1024  # and the app's default budget still takes it
    for bigger in (dict(hidden_dim=128), dict(n_layers=4), dict(ff_dim=1024), dict(heads=8)):
        more = estimate(replace(small, **bigger), train, spec)
        assert more.step_seconds > got.step_seconds and more.memory_mb >= got.memory_mb, bigger
    assert estimate(small, replace(train, teacher_forcing=0.5), spec).step_seconds > got.step_seconds
    assert estimate(small, train, make_spec("reverse", 3, 30)).memory_mb > got.memory_mb
    with pytest.raises(BudgetError, match="Transformer"):
        check(replace(small, hidden_dim=512, n_layers=8), TrainConfig(batch_size=1024), make_spec("reverse", 3, 50),
              Budget())
