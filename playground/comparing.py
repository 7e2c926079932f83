"""Compare, as the page and /compare both call it: two models' answers to one source side by side, and their
held-out exact match at every source length. Every bad value is a gr.Error with one sentence."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from typing import TYPE_CHECKING

import seq2seq
from seq2seq import Task

from . import limits, views
from .decoding import check_source, parse_source, shown_tokens
from .models import COMPARE_CHOICES, describe_model, model_label, pick_model
from .registry import problem

if TYPE_CHECKING:
    from seq2seq import Seq2Seq


_BY_LENGTH: dict[tuple, list] = {}  # (bundled model, task, lengths) -> rows: bundled models never change


def by_length(choice: str, model: Seq2Seq, task: Task, lengths: range) -> list:
    key = (choice, task.name, lengths.start, lengths.stop)
    if choice.startswith("bundled:") and key in _BY_LENGTH:
        return _BY_LENGTH[key]
    rows = seq2seq.accuracy_by_length(model, task.name, lengths, task.spec, limits.BY_LENGTH_N)
    if choice.startswith("bundled:"):
        _BY_LENGTH[key] = rows
    return rows


@dataclass
class Comparison:
    """Two models on one source: each one's panel, and their exact match by source length (chart and note)."""
    a: str
    b: str
    by_length: pd.DataFrame
    note: str


def compare(source, choice_a, choice_b, session, request) -> Comparison:
    """Both models' answers to `source` (greedy, marked, with attention) and their held-out exact match at each
    source length, from the shortest either was trained on to BY_LENGTH_MORE past the longest."""
    for choice in (choice_a, choice_b):
        if choice not in {v for _, v in COMPARE_CHOICES}:
            raise problem("Each model must be one of the menu's choices.", "Unknown model")
    if choice_a == choice_b:
        raise problem("Pick two different models to compare.", "Same model")
    check_source(source)
    (model_a, task_a, _), (model_b, task_b, _) = (pick_model(c, "reverse", session, request)
                                                  for c in (choice_a, choice_b))
    if task_a.name != task_b.name:
        raise problem(f"Model A learns {task_a.name} and model B {task_b.name}: pick two models for the same task.",
                      "Different tasks")
    tokens = parse_source(source, task_a)
    names = {f"A: {model_label(choice_a)}": (choice_a, model_a, task_a),
             f"B: {model_label(choice_b)}": (choice_b, model_b, task_b)}
    lengths = range(min(task_a.spec.min_len, task_b.spec.min_len),
                    min(task_a.spec.max_len_cap, max(task_a.spec.max_len, task_b.spec.max_len) + limits.BY_LENGTH_MORE) + 1)
    panels, results = [], {}
    for which, (name, (choice, model, task)) in zip("ab", names.items()):
        trace = seq2seq.greedy_decode(model, task.vocab, tokens, top_k=3)
        decoded = views.Decoded(trace, task.expected(tokens), shown_tokens(task), itos=task.vocab.itos)
        panels.append(views.compare_html(f"{name} — {describe_model(model)}", decoded, which))
        results[name] = (task.spec, by_length(choice, model, task, lengths))
    same_range = task_a.spec.max_len == task_b.spec.max_len
    frame = views.by_length_frame({name: rows for name, (_, rows) in results.items()},
                                  task_a.spec.max_len if same_range else None)
    return Comparison(panels[0], panels[1], frame, views.by_length_note(results))
