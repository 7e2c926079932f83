"""The models shipped in checkpoints/ do what README promises, driven through the CLI's main() as a user would
(in-process: tests/test_cli.py checks that `python -m seq2seq` is this same main())."""
import json
from pathlib import Path

import pytest

from seq2seq.__main__ import main
from seq2seq.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def in_the_repository(monkeypatch):
    monkeypatch.chdir(ROOT)  # where README's commands are run


def cli(capsys, *args: str) -> str:
    """stdout of `python -m seq2seq ARGS`, which must succeed."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0 and err == "", err
    return out


def test_bundled_reverse_decodes_the_readme_example(capsys):
    assert cli(capsys, "decode", "--checkpoint", "checkpoints/reverse", "3 1 4 1 5 9") == "9 5 1 4 1 3\n"


@pytest.mark.parametrize("name", ["reverse", "addition", "copy", "sort"])
def test_bundled_models_reach_99_percent_on_held_out_examples(capsys, name):
    metrics = json.loads(cli(capsys, "eval", "--checkpoint", f"checkpoints/{name}", "--json"))
    assert metrics["n"] == 1000
    assert metrics["exact_match"] >= 0.99 and metrics["token_accuracy"] >= 0.99


def test_bundled_addition_adds(capsys):
    trace = json.loads(cli(capsys, "decode", "--checkpoint", "checkpoints/addition", "--json", "1 2 3 + 4 5"))
    assert trace["output"] == "1 6 8" and trace["finished"]  # 123 + 45 = 168


@pytest.mark.parametrize("name", ["reverse", "addition", "copy", "sort"])
def test_bundled_models_are_small_and_described(name):
    folder = ROOT / "checkpoints" / name
    assert sum(f.stat().st_size for f in folder.iterdir()) < 5_000_000
    checkpoint = load_checkpoint(folder)
    assert checkpoint.task.name == name
    assert checkpoint.training["exact_match"] >= 0.99
    if name == "reverse":  # the seed's architecture: LSTM, no attention
        assert checkpoint.model.config.cell == "lstm" and not checkpoint.model.config.attention
