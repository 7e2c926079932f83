"""How sharp the bundled attention models' maps are (the figures README quotes).

Over 200 held-out sources (seed 3), decoded greedily, for each output step but the last (<eos> reads
nothing in particular) it takes the step's row of attention weights over the source and reports, per model:

- the row's largest weight: median, mean and the 10th-90th percentile;
- copy / reverse: the share of steps whose largest weight is on the token being written (the "right" one), and
  the share whose largest weight is on the right token or an equal digit elsewhere (a repeated digit, often its
  neighbour: as good a source for the token); the weight on the right token and its two neighbours (a band three
  tokens wide);
- addition: the summed weight on the two operand digits of the place being written (ones with ones, tens with
  tens; the leading carry digit of a longer sum has no such digits and is left out), and the share of steps
  whose largest weight is on one of them;
- dates: for the two month digits of the ISO date (YYYY-MM-DD), the summed weight on the characters that write
  the month in the source ("March", "Mar", "03", "3": seq2seq.generators.DATES.month_span), and the share of
  those steps whose largest weight is on one of them; likewise for the day's and the year's digits;
- the row's entropy as a share of a uniform row's (1 = uniform, 0 = all weight on one token): median, mean.

A Transformer's row is the mean of its cross-attention over layers and heads (what the app shows); its
sharpest single head (by median row maximum) is reported too.

    PYTHONPATH=. python tools/attention_stats.py                      # every bundled model with attention
    PYTHONPATH=. python tools/attention_stats.py checkpoints/copy /tmp/run --n 100 --json
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

from seq2seq import greedy_decode, load_checkpoint, validation_set
from seq2seq.generators import DATES

ROOT = Path(__file__).resolve().parents[1]


def right_places(task_name: str, source: list[str], t: int) -> list[int]:
    """Source positions the t-th output token (0-based) is made from: one for copy/reverse, the operand digits
    of the same place for addition (empty for the leading carry digit), none for other tasks."""
    n = len(source)
    if task_name == "copy":
        return [t] if t < n else []
    if task_name == "reverse":
        return [n - 1 - t] if t < n else []
    if task_name == "dates":
        return date_places(source, t)[1]
    if task_name == "addition":
        plus = source.index("+")
        left, right = plus, n - plus - 1
        width = len(str(int("".join(source[:plus])) + int("".join(source[plus + 1:]))))
        place = width - 1 - t  # 0 = ones
        return ([plus - 1 - place] if place < left else []) + ([n - 1 - place] if place < right else [])
    return []


DATE_PARTS = {0: "year", 1: "year", 2: "year", 3: "year", 5: "month", 6: "month", 8: "day", 9: "day"}  # ISO places


def date_places(source: list[str], t: int) -> tuple[str | None, list[int]]:
    """For the t-th character of an ISO date: which part it writes ("year", "month", "day"; None for a "-") and the
    source positions that write that part (characters: the source's tokens, a space being one)."""
    part = DATE_PARTS.get(t)
    text = "".join(" " if c == "\u2423" else c for c in source)
    span = None if part is None else getattr(DATES, f"{part}_span", None)
    found = span(text) if span is not None else None
    return part, (list(range(*found)) if found else [])


def entropy_share(row: list[float]) -> float:
    return -sum(w * math.log(w) for w in row if w > 0) / math.log(len(row)) if len(row) > 1 else 0.0


def percentile(values: list[float], q: float) -> float:
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, int(q * len(ranked)))]


def stats(folder: str | Path, n: int = 200, seed: int = 3) -> dict | None:
    """The figures for one checkpoint folder, or None when its model has no attention."""
    checkpoint = load_checkpoint(folder)
    config = checkpoint.model.config
    if config.arch != "transformer" and not config.attention:
        return None
    name = checkpoint.task.name
    maxima, entropy, on_right, on_same, aligned, band, scored = [], [], 0, 0, [], [], 0
    parts: dict[str, dict[str, list]] = {}  # dates: part -> {"weight": [...], "top": [...]}
    head_maxima: dict[tuple[int, int], list[float]] = {}
    for example in validation_set(checkpoint.task, n, seed=seed):
        trace = greedy_decode(checkpoint.model, checkpoint.task.vocab, example.source)
        for t, step in enumerate(trace.steps[:-1]):  # the <eos> step writes no token of the source
            row = step.attention
            top = row.index(max(row))
            maxima.append(max(row))
            entropy.append(entropy_share(row))
            places = right_places(name, example.source, t)
            if name == "dates":
                part = date_places(example.source, t)[0]
                if part is not None and places:
                    figures = parts.setdefault(part, {"weight": [], "top": []})
                    figures["weight"].append(sum(row[p] for p in places))
                    figures["top"].append(top in places)
                continue
            if places:
                scored += 1
                on_right += top in places
                on_same += top in places or (name != "addition" and example.source[top] == example.target[t])
                aligned.append(sum(row[p] for p in places))
                band.append(sum(row[max(0, places[0] - 1):places[0] + 2]))
            for layer, heads in enumerate(step.heads or []):
                for head, head_row in enumerate(heads):
                    head_maxima.setdefault((layer, head), []).append(max(head_row))
    result = {
        "checkpoint": str(folder), "task": name, "model": config.describe(), "rows": len(maxima),
        "max_median": statistics.median(maxima), "max_mean": statistics.fmean(maxima),
        "max_p10": percentile(maxima, 0.1), "max_p90": percentile(maxima, 0.9),
        "entropy_median": statistics.median(entropy), "entropy_mean": statistics.fmean(entropy),
    }
    if scored:
        result["on_right_share"] = on_right / scored
        result["on_same_digit_share"] = on_same / scored
        result["right_weight_median"] = statistics.median(aligned)
        result["right_weight_mean"] = statistics.fmean(aligned)
        if name != "addition":
            result["band_weight_median"] = statistics.median(band)
    for part, figures in parts.items():
        result[f"{part}_weight_median"] = statistics.median(figures["weight"])
        result[f"{part}_weight_mean"] = statistics.fmean(figures["weight"])
        result[f"{part}_top_share"] = statistics.fmean(figures["top"])
    if head_maxima:
        (layer, head), best = max(head_maxima.items(), key=lambda kv: statistics.median(kv[1]))
        result["sharpest_head"] = {"layer": layer + 1, "head": head + 1, "max_median": statistics.median(best),
                                   "max_mean": statistics.fmean(best)}
    return result


def describe(r: dict) -> str:
    text = (f"{Path(r['checkpoint']).name} ({r['model']}; {r['rows']} rows): largest weight per row median "
            f"{r['max_median']:.2f}, mean {r['max_mean']:.2f} (10th-90th percentile {r['max_p10']:.2f}-"
            f"{r['max_p90']:.2f}); entropy / uniform's median {r['entropy_median']:.2f}, mean {r['entropy_mean']:.2f}")
    if "on_right_share" in r:
        if r["task"] == "addition":
            text += (f"; weight on the two operand digits of the place written: median {r['right_weight_median']:.2f}, "
                     f"mean {r['right_weight_mean']:.2f}; largest weight on one of them at {r['on_right_share']:.0%} "
                     f"of steps")
        else:
            text += (f"; largest weight on the token written at {r['on_right_share']:.1%} of steps, on it or an "
                     f"equal digit at {r['on_same_digit_share']:.1%} (the right token's weight: median {r['right_weight_median']:.2f}, mean {r['right_weight_mean']:.2f}; "
                     f"on it and its two neighbours: median {r['band_weight_median']:.2f})")
    for part in ("month", "day", "year"):
        if f"{part}_weight_median" in r:
            text += (f"; the {part}'s digits: weight on the {part} in the source median "
                     f"{r[f'{part}_weight_median']:.2f}, mean {r[f'{part}_weight_mean']:.2f}, largest weight on it at {r[f'{part}_top_share']:.0%} of "
                     f"those steps")
    if "sharpest_head" in r:
        h = r["sharpest_head"]
        text += (f"; sharpest head (layer {h['layer']}, head {h['head']}): largest weight median "
                 f"{h['max_median']:.2f}, mean {h['max_mean']:.2f}")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="*", help="checkpoint folders (default: every bundled one)")
    parser.add_argument("--n", type=int, default=200, help="held-out sources (default 200)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="one JSON object per model")
    args = parser.parse_args(argv)
    folders = args.folders or sorted(str(p.relative_to(ROOT)) for p in (ROOT / "checkpoints").iterdir()
                                     if (p / "config.json").exists())
    for folder in folders:
        r = stats(folder if Path(folder).is_absolute() else ROOT / folder, args.n, args.seed)
        if r is None:
            continue
        r["checkpoint"] = folder
        print(json.dumps(r) if args.json else describe(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
