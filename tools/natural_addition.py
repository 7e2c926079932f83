"""Exact match of an addition checkpoint on sums as a user types them: both operands uniform in 0-999.

The task trains on operands whose digit count is uniform 1-3, so 3+3-digit sums are only 1/9 of its
training and of its own held-out figure; a user's operands mostly have 3 digits. This draws a + b with a, b
uniform in 0..999 (random.Random(seed)), keeps only the sums the task holds out (never trained on) until n
distinct ones, decodes them greedily in batches, and prints exact match overall, by the digits of the sum,
and by whether there is a carry into the hundreds / into the thousands.

    .venv/bin/python tools/natural_addition.py --checkpoint checkpoints/addition [--n 2000] [--seed 0] [--json]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without PYTHONPATH

from seq2seq.checkpoint import load_checkpoint  # noqa: E402
from seq2seq.decode import decode_batch, evaluating, exact_and_token_hits  # noqa: E402
from seq2seq.tasks import Example, make_batch  # noqa: E402


def uniform_sums(task, n: int, seed: int) -> list[tuple[int, int]]:
    """n distinct held-out (a, b), a and b uniform in 0..999."""
    rng, seen = random.Random(seed), {}
    while len(seen) < n:
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        if task.is_held_out(list(f"{a}+{b}")):
            seen.setdefault((a, b), None)
    return list(seen)


def correct_rows(model, task, pairs: list[tuple[int, int]], batch_size: int = 500) -> list[bool]:
    """Greedy decoding of each a+b; True where the output (and its <eos>) is exactly the sum."""
    examples = [Example(list(f"{a}+{b}"), list(str(a + b))) for a, b in pairs]
    hits: list[bool] = []
    with evaluating(model):
        for start in range(0, len(examples), batch_size):
            batch = make_batch(examples[start:start + batch_size], task.vocab)
            pred, _, _ = decode_batch(model, batch.src, batch.src_lens, batch.trg.shape[1] - 1, stop_at_eos=False)
            hits += exact_and_token_hits(pred, batch.trg)[0].tolist()
    return hits


def groups(a: int, b: int) -> list[str]:
    """The breakdown rows a sum belongs to."""
    into_hundreds = a % 100 + b % 100 >= 100
    into_thousands = a + b >= 1000
    return [f"sum of {len(str(a + b))} digits",
            "carry into hundreds" if into_hundreds else "no carry into hundreds",
            "carry into thousands" if into_thousands else "no carry into thousands"]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="one JSON line instead of a table")
    args = parser.parse_args(argv)

    checkpoint = load_checkpoint(args.checkpoint)
    if checkpoint.task.name != "addition":
        parser.error(f"{args.checkpoint} is a {checkpoint.task.name} model, not addition")
    pairs = uniform_sums(checkpoint.task, args.n, args.seed)
    hits = correct_rows(checkpoint.model, checkpoint.task, pairs)

    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # name -> [correct, n]
    for (a, b), ok in zip(pairs, hits):
        for name in groups(a, b):
            tally[name][0] += ok
            tally[name][1] += 1
    result = {"checkpoint": args.checkpoint, "n": len(pairs), "seed": args.seed,
              "exact_match": round(sum(hits) / len(hits), 4),
              "by": {name: {"exact_match": round(c / t, 4), "n": t} for name, (c, t) in sorted(tally.items())},
              "errors": [f"{a}+{b}" for (a, b), ok in zip(pairs, hits) if not ok][:20]}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.checkpoint}: exact match {result['exact_match']:.2%} on {len(pairs)} held-out sums "
              f"(operands uniform 0-999, seed {args.seed})")
        for name, row in result["by"].items():
            print(f"  {name:26} {row['exact_match']:7.2%}  n={row['n']}")
        if result["errors"]:
            print("  some errors: " + ", ".join(result["errors"]))
    return result


if __name__ == "__main__":
    main()
