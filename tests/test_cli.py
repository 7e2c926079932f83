"""The CLI contract, driven as a user would: python -m seq2seq in a subprocess."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seq2seq", *args], cwd=ROOT, capture_output=True, text=True,
                          input=stdin, timeout=300)


def assert_one_line_error(result, code=None):
    assert result.returncode != 0 if code is None else result.returncode == code
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0], result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "rev"
    result = cli("train", "--task", "reverse", "--min-len", "3", "--max-len", "5", "--steps", "300", "--hidden", "64",
                 "--emb", "16", "--eval-every", "100", "--seed", "0", "--json", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out, [json.loads(line) for line in result.stdout.splitlines()]


def test_train_json_streams_events_and_writes_the_checkpoint(trained):
    out, events = trained
    steps = [e for e in events if e["event"] == "step"]
    evals = [e for e in events if e["event"] == "eval"]
    assert [e["step"] for e in steps] == list(range(1, 301))
    assert [e["step"] for e in evals] == [100, 200, 300]
    done = events[-1]
    assert done["event"] == "done" and done["steps"] == 300
    assert all(isinstance(done[k], float) for k in ("seconds", "exact_match", "token_accuracy"))
    assert done["exact_match"] > 0.7
    assert sum(e["loss"] for e in steps[-20:]) < 0.2 * sum(e["loss"] for e in steps[:20])
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]


def test_train_without_json_prints_progress_and_a_summary(tmp_path):
    result = cli("train", "--task", "copy", "--min-len", "3", "--max-len", "4", "--steps", "100", "--hidden", "32",
                 "--eval-every", "50", "--out", str(tmp_path / "c"))
    assert result.returncode == 0, result.stderr
    assert "step 50/100" in result.stderr and "exact" in result.stderr
    assert str(tmp_path / "c") in result.stdout and "held-out exact match" in result.stdout


def test_time_budget_and_target_accuracy_stop_training(tmp_path):
    result = cli("train", "--task", "reverse", "--time-budget", "1", "--json", "--out", str(tmp_path / "t"))
    done = json.loads(result.stdout.splitlines()[-1])
    assert done["reason"] == "time_budget" and 1.0 <= done["seconds"] < 5
    result = cli("train", "--task", "reverse", "--min-len", "3", "--max-len", "4", "--hidden", "64",
                 "--target-accuracy", "0.3", "--eval-every", "50", "--json", "--out", str(tmp_path / "a"))
    done = json.loads(result.stdout.splitlines()[-1])
    assert done["reason"] == "target_accuracy" and done["exact_match"] >= 0.3 and done["steps"] < 3000


def test_eval_reports_held_out_metrics(trained):
    out, _ = trained
    result = cli("eval", "--checkpoint", str(out), "--n", "200", "--json")
    metrics = json.loads(result.stdout)
    assert metrics["n"] == 200 and 0.7 < metrics["exact_match"] <= metrics["token_accuracy"] <= 1.0
    plain = cli("eval", "--checkpoint", str(out), "--n", "50")
    assert plain.returncode == 0 and "exact match" in plain.stdout


def test_decode_prints_the_output_or_the_whole_trace(trained):
    out, _ = trained
    assert cli("decode", "--checkpoint", str(out), "3 1 4 1").stdout == "1 4 1 3\n"
    trace = json.loads(cli("decode", "--checkpoint", str(out), "--json", "3 1 4").stdout)
    assert trace["source"] == "3 1 4" and trace["output"] == "4 1 3"
    steps = trace["steps"]
    assert [s["token"] for s in steps] == ["4", "1", "3", "<eos>"]
    assert [s["input"] for s in steps] == ["<sos>", "4", "1", "3"]
    for s in steps:
        assert set(s) == {"input", "token", "prob", "top"}
        assert len(s["top"]) >= 3 and s["top"][0] == [s["token"], s["prob"]]
        assert [p for _, p in s["top"]] == sorted((p for _, p in s["top"]), reverse=True)


def test_decode_stdin_keeps_going_past_a_bad_line(trained):
    out, _ = trained
    result = cli("decode", "--checkpoint", str(out), "-", stdin="3 4 5\n3 x 5\n5 4 3 2\n")
    assert result.returncode == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    assert lines[0]["output"] == "5 4 3" and lines[2]["output"] == "2 3 4 5"
    assert lines[1]["source"] == "3 x 5" and "'x'" in lines[1]["error"] and "output" not in lines[1]


def test_errors_are_one_line_with_a_non_zero_exit(trained, tmp_path):
    out, _ = trained
    assert "not found" in assert_one_line_error(cli("decode", "--checkpoint", str(tmp_path / "none"), "1 2"), 1)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("garbage")
    assert "not valid JSON" in assert_one_line_error(cli("decode", "--checkpoint", str(broken), "1 2"), 1)
    assert "'z'" in assert_one_line_error(cli("decode", "--checkpoint", str(out), "1 z"), 1)
    assert "juggle" in assert_one_line_error(cli("train", "--task", "juggle", "--out", str(tmp_path / "j")), 2)
    assert "min" in assert_one_line_error(cli("train", "--task", "reverse", "--min-len", "5", "--max-len", "3",
                                              "--out", str(tmp_path / "m")), 1)
    assert "lr" in assert_one_line_error(cli("train", "--task", "reverse", "--lr", "-1", "--out", str(tmp_path / "l")))
    assert "--n" in assert_one_line_error(cli("eval", "--checkpoint", str(out), "--n", "0"))


def test_train_refuses_a_folder_with_other_files_before_training(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = cli("train", "--task", "reverse", "--json", "--out", str(tmp_path))
    assert "other files" in assert_one_line_error(result, 1)
    assert result.stdout == ""  # not a single training step ran
    assert (tmp_path / "notes.txt").read_text() == "mine"
