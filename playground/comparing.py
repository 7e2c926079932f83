"""Compare, as the page and /compare both call it: two models' answers to one source side by side, and their
held-out exact match at every source length. Every bad value is a gr.Error with one sentence."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import anyio
import pandas as pd

from typing import TYPE_CHECKING

import seq2seq
from seq2seq import Task
from seq2seq.data import DataTask

from . import limits, views
from .cost import eval_seconds
from .decoding import check_decode_cost, check_source, decoded_view, parse_source
from .models import (COMPARE_CHOICES, COMPARE_DEFAULTS, SESSION, attention_model_for, describe_model, model_label,
                     pick_model)
from .registry import checked, problem, session_of
from .sessions import Session
from .charts import measure

if TYPE_CHECKING:
    from seq2seq import Seq2Seq


# Compare's own queue: its charts are measured in worker processes, never in the decodes' slots
COMPARES = dict(concurrency_id="compare", concurrency_limit=limits.COMPARES_AT_ONCE)
_BUNDLED_ROWS: dict[tuple, list] = {}  # (bundled model, task, lengths, n) -> rows: bundled models never change


def sources_per_length(model: Seq2Seq, task: Task, lengths: range) -> tuple[int, float]:
    """How many held-out sources per length Compare evaluates a model on (BY_LENGTH_N, or fewer down to
    BY_LENGTH_FLOOR so that it fits COMPARE_SECONDS) and the estimated seconds; a gr.Error when even the
    fewest do not fit, saying what to pick instead. Estimated before anything is computed."""
    def seconds(n: int) -> float:
        return sum(eval_seconds(model.config, task.spec_at(length), n) for length in lengths)

    n = limits.BY_LENGTH_N
    while n > limits.BY_LENGTH_FLOOR and seconds(n) > limits.COMPARE_SECONDS:
        n = max(limits.BY_LENGTH_FLOOR, n // 2)
    took = seconds(n)
    if took > limits.COMPARE_SECONDS:
        raise problem(f"Evaluating {describe_model(model)} at the {len(lengths)} source lengths "
                      f"{lengths.start}–{lengths.stop - 1}, even on {n} sources each, takes about {took:.0f} s; this "
                      f"app allows {limits.COMPARE_SECONDS:g} s for a comparison: compare a smaller model, or one "
                      f"trained on shorter sources.", "Too slow to compare")
    return n, took


def task_key(task: Task) -> str:
    """What a chart's cache tells tasks apart by: a built-in task's name, your pairs' hash."""
    return f"data:{task.info.get('sha256')}" if isinstance(task, DataTask) else task.name


async def by_length(choice: str, model: Seq2Seq, task: Task, lengths: range, session: Session | None,
                    request=None, size: tuple[int, float] | None = None, trained: Task | None = None) -> list:
    """Held-out exact match of `model` at each length of `task`, measured in a worker process (bounded in time and
    memory, at a lower priority than trainings, killed if the request is cancelled) and kept: a bundled model's for
    the server's life, a session's model's until it changes. `size`: sources_per_length's answer, if known;
    `trained`: the model's own task, when `task` is another's (your pairs, for a bundled model)."""
    n, took = size or sources_per_length(model, task, lengths)
    key = (choice, task_key(task), lengths.start, lengths.stop, n)
    bundled = choice.startswith("bundled:")
    rows = _BUNDLED_ROWS.get(key) if bundled else session.rows_for(model, key) if session is not None else None
    if rows is not None:
        return rows
    found = await measure(model, task, lengths, n, took, request, trained)
    if bundled:
        _BUNDLED_ROWS[key] = found
    elif session is not None:
        session.keep_rows(model, key, found)
    return found


def chart_lengths(a: Task, b: Task) -> range:
    """The chart's source lengths: from the shortest either model was trained on to BY_LENGTH_MORE past the
    longest (as far as the task can make them); your pairs': the lengths they have."""
    if isinstance(a, DataTask):
        return range(a.spec.min_len, a.spec.max_len + 1)
    return range(min(a.spec.min_len, b.spec.min_len),
                 min(a.spec.max_len_cap, max(a.spec.max_len, b.spec.max_len) + limits.BY_LENGTH_MORE) + 1)


def common_task(task_a: Task, task_b: Task) -> Task:
    """The task both models are measured on: theirs when it is the same, your pairs when one of them learned them
    (the other model, of another task, is then measured on them with its own tokens, which must be split the same
    way); else a gr.Error."""
    if task_key(task_a) == task_key(task_b) and task_a.vocab == task_b.vocab:
        return task_a
    pairs = next((t for t in (task_a, task_b) if isinstance(t, DataTask) and t.data is not None), None)
    if pairs is None or task_a.vocab.tokenize != task_b.vocab.tokenize:
        own = any(isinstance(t, DataTask) for t in (task_a, task_b))
        raise problem(f"Model A learns {task_a.title} and model B {task_b.title}: pick two models for the same task"
                      + (" (or, beside yours, one that splits your pairs into tokens the same way)." if own else "."),
                      "Different tasks")
    return pairs

def measure_default_charts() -> bool:
    """The charts of the Compare tab's default pair, measured once in the background when the server starts (in
    a low-priority worker, as always), so the first visitor to press Compare gets them at once. Whether it did
    (not for a default pair of two tasks)."""
    choices = [choice for choice in COMPARE_DEFAULTS if choice.startswith("bundled:")]
    if len(choices) != 2:
        return False
    picked = [(choice, *pick_model(choice, "reverse", None, None)[:2]) for choice in choices]
    if task_key(picked[0][2]) != task_key(picked[1][2]):
        return False
    lengths = chart_lengths(picked[0][2], picked[1][2])
    for choice, model, task in picked:
        asyncio.run(by_length(choice, model, task, lengths, None))
    return True


@dataclass
class Comparison:
    """Two models on one source: each one's panel, and their exact match by source length (chart and note)."""
    a: str
    b: str
    by_length: pd.DataFrame
    note: str


async def compare(source, choice_a, choice_b, session, request) -> Comparison:
    """Both models' answers to `source` (greedy, marked, with attention) and their held-out exact match at each
    source length, from the shortest either was trained on to BY_LENGTH_MORE past the longest. The decodes run
    in a thread, the evaluations in worker processes: the server's event loop never waits on either."""
    for choice in (choice_a, choice_b):
        if choice not in {v for _, v in COMPARE_CHOICES}:
            raise problem("Each model must be one of the menu's choices.", "Unknown model")
    if choice_a == choice_b:
        raise problem("Pick two different models to compare.", "Same model")
    check_source(source)
    (model_a, task_a, _), (model_b, task_b, _) = (pick_model(c, "reverse", session, request)
                                                  for c in (choice_a, choice_b))
    common = common_task(task_a, task_b)
    tokens = {name: parse_source(source, task) for name, task in (("a", task_a), ("b", task_b))}
    names = {f"A: {model_label(choice_a)}": (choice_a, model_a, task_a),
             f"B: {model_label(choice_b)}": (choice_b, model_b, task_b)}
    lengths = chart_lengths(common, task_b if common is task_a else task_a)
    sizes = {}
    for (name, (_, model, task)), which in zip(names.items(), "ab"):  # refused before any work when over budget
        check_decode_cost(model, task, len(tokens[which]))
        sizes[name] = sources_per_length(model, common, lengths)
    session = session_of(session, request) if SESSION in (choice_a, choice_b) else checked(session)

    def panel(which: str, name: str, model: Seq2Seq, task: Task) -> str:
        trace = seq2seq.greedy_decode(model, task.vocab, tokens[which], top_k=3)
        decoded = decoded_view(trace, task, tokens[which])
        other = attention_model_for(task)  # named only when it is not already on this tab
        other = None if other is None or f"bundled:{other}" in (choice_a, choice_b) else other
        return views.compare_html(f"{name} — {describe_model(model)}", decoded, which, other)

    panels, results = [], {}
    for which, (name, (choice, model, task)) in zip("ab", names.items()):
        panels.append(await anyio.to_thread.run_sync(panel, which, name, model, task))
        rows = await by_length(choice, model, common, lengths, session, request, sizes[name],
                               None if task is common else task)
        results[name] = (task.spec, rows)
    same_range = task_a.spec.max_len == task_b.spec.max_len
    frame = views.by_length_frame({name: rows for name, (_, rows) in results.items()},
                                  task_a.spec.max_len if same_range and not isinstance(common, DataTask) else None)
    return Comparison(panels[0], panels[1], frame, views.by_length_note(results))
