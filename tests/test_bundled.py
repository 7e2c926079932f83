"""The models shipped in checkpoints/ do what README promises, driven through the CLI as a user would."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from seq2seq.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seq2seq", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_bundled_reverse_decodes_the_readme_example():
    result = cli("decode", "--checkpoint", "checkpoints/reverse", "3 1 4 1 5 9")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "9 5 1 4 1 3\n"


@pytest.mark.parametrize("name", ["reverse", "addition", "copy", "sort"])
def test_bundled_models_reach_99_percent_on_held_out_examples(name):
    result = cli("eval", "--checkpoint", f"checkpoints/{name}", "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["n"] == 1000
    assert metrics["exact_match"] >= 0.99 and metrics["token_accuracy"] >= 0.99


def test_bundled_addition_adds():
    result = cli("decode", "--checkpoint", "checkpoints/addition", "--json", "1 2 3 + 4 5")
    assert json.loads(result.stdout)["output"] == "1 6 8"


@pytest.mark.parametrize("name", ["reverse", "addition", "copy", "sort"])
def test_bundled_models_are_small_and_described(name):
    folder = ROOT / "checkpoints" / name
    assert sum(f.stat().st_size for f in folder.iterdir()) < 5_000_000
    checkpoint = load_checkpoint(folder)
    assert checkpoint.task.name == name
    assert checkpoint.training["exact_match"] >= 0.99
    if name == "reverse":  # the seed's architecture: LSTM, no attention
        assert checkpoint.model.config.cell == "lstm" and not checkpoint.model.config.attention
