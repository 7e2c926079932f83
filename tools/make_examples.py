"""Write the example data files a visitor can upload in the app to try "your own data".

Each file holds (source, target) pairs of one generator in `seq2seq.generators`, in one of the formats the app
reads, so the three together show every format once:

- examples/dates.tsv: a header row `source<TAB>target`, then 600 pairs ("3rd of March 2021" → "2021-03-03");
- examples/numbers.csv: a header row `source,target`, then 400 pairs ("forty-two" → "42");
- examples/commands.jsonl: 500 lines of {"source": ..., "target": ...} ("jump twice" → "JUMP JUMP").

Sources are distinct within a file. Fixed seeds make the files the same on every run, so rewriting them changes
nothing unless the generators change:

    python tools/make_examples.py            # writes examples/ under the project's root
"""
from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq.generators import COMMANDS, DATES, NUMBERS, Generator  # after ROOT is on sys.path

EXAMPLES = ROOT / "examples"
SEED = 2024


def distinct_pairs(generator: Generator, count: int, seed: int = SEED) -> list[tuple[str, str]]:
    """The first `count` pairs `generator` draws from `seed` whose sources have not been drawn before."""
    rng = random.Random(seed)
    pairs: dict[str, str] = {}
    while len(pairs) < count:
        source, target = generator.sample(rng)
        pairs.setdefault(source, target)
    return list(pairs.items())


def write_tsv(path: Path, pairs: list[tuple[str, str]]) -> None:
    """Pairs as tab-separated lines under a `source<TAB>target` header (the sources hold no tabs)."""
    lines = ["source\ttarget", *(f"{source}\t{target}" for source, target in pairs)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_csv(path: Path, pairs: list[tuple[str, str]]) -> None:
    """Pairs as comma-separated values under a `source,target` header, quoted where csv must."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(("source", "target"))
        writer.writerows(pairs)


def write_jsonl(path: Path, pairs: list[tuple[str, str]]) -> None:
    """Pairs as one JSON object per line: {"source": ..., "target": ...}."""
    lines = (json.dumps({"source": source, "target": target}, ensure_ascii=False) for source, target in pairs)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def main() -> None:
    EXAMPLES.mkdir(exist_ok=True)
    for write, name, generator, count in ((write_tsv, "dates.tsv", DATES, 600), (write_csv, "numbers.csv", NUMBERS, 400),
                                          (write_jsonl, "commands.jsonl", COMMANDS, 500)):
        write(EXAMPLES / name, distinct_pairs(generator, count))
        print(f"wrote {count} {generator.name} pairs to {(EXAMPLES / name).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
