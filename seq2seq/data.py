"""Your own data: pairs from a file or pasted text, checked, tokenised and split, as a task like the others.

    data = read_pairs("dates.tsv")                 # or read_pairs(text, name="pasted pairs", fmt="text")
    print(data.summary())                          # "600 pairs, 50 source symbols, 11 target symbols, ..."
    task = DataTask(data)                          # trains, evaluates and decodes like Task(make_spec("reverse"))

Formats: `.tsv` (source TAB target), `.csv` (source,target; quoted as the csv module writes), `.jsonl` (one
`{"source": ..., "target": ...}` per line) and text (a pasted line is `source<TAB>target` or `source -> target`).
A header row (source/target, src/tgt, input/output, ...) is recognised and skipped; columns after the second
are ignored. Tokens: each side is split into characters ("chars"; a space is the token "␣") or into
whitespace-separated words ("words"): detected from the data (words when they repeat, as in commands or
number words; characters otherwise, as in dates) and changeable.

Every limit (DataLimits: bytes, pairs, tokens per side, symbols per side) is enforced while reading, so a
huge file costs no more than the limit; anything wrong is a DataError, one sentence that names the first
offending line and what to change. Duplicated pairs are dropped and a source given several targets keeps
its first, both counted in the report. The held-out split is decided by a hash of each source and the
data's own content: the same pairs give the same split, and since every source occurs once, no source is
in both halves.
"""
from __future__ import annotations

import copy
import csv
import dataclasses
import hashlib
import io
import json
import os
import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Sequence

from .tasks import (DATA_TASK, MAX_SOURCE_TOKENS, SPACE, SPECIALS, TOKENISATIONS, Example, Task, TaskSpec, Vocab,
                    join_tokens, normalise, split_text)

FORMATS = ("tsv", "csv", "jsonl", "text")
MIN_PAIRS = 100          # fewer distinct pairs than this cannot be split into something to learn and to measure
MIN_HELD_OUT = 20        # the held-out half has at least this many pairs ...
HELD_OUT_SHARE = 0.1     # ... and about this share of them
MAX_LINE_CHARS = 2000    # a longer line is refused before it is split
SINGLETON_SHARE = 0.2    # a side is read as words when at most this share of its different words occur only once
HEADERS = {("source", "target"), ("src", "tgt"), ("src", "trg"), ("input", "output"), ("from", "to"),
           ("question", "answer")}
ARROW = "->"


class DataError(ValueError):
    """Data that cannot be used, said in one sentence a person can act on."""


@dataclass(frozen=True)
class DataLimits:
    """How much data a run may bring. The defaults suit a shared server (a public Space); each can be set with
    its environment variable (`from_env`), and the command line reads the same ones."""
    max_bytes: int = 2_000_000  # SEQ2SEQ_DATA_BYTES: the file (or the pasted text) as bytes
    max_pairs: int = 20_000     # SEQ2SEQ_DATA_PAIRS: lines with a pair
    max_tokens: int = 100       # SEQ2SEQ_DATA_TOKENS: tokens in one source or one target
    max_symbols: int = 200      # SEQ2SEQ_DATA_SYMBOLS: different tokens on one side

    ENV = {"max_bytes": "SEQ2SEQ_DATA_BYTES", "max_pairs": "SEQ2SEQ_DATA_PAIRS",
           "max_tokens": "SEQ2SEQ_DATA_TOKENS", "max_symbols": "SEQ2SEQ_DATA_SYMBOLS"}
    HIGHEST = {"max_bytes": 100_000_000, "max_pairs": 1_000_000, "max_tokens": MAX_SOURCE_TOKENS,
               "max_symbols": 5_000}
    LOWEST = {"max_bytes": 1_000, "max_pairs": MIN_PAIRS, "max_tokens": 1, "max_symbols": 2}

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "DataLimits":
        """The limits, each from its environment variable where set; ValueError for a value that is not a
        whole number in its range (a server should not start with a limit it cannot keep)."""
        env = os.environ if env is None else env
        values: dict[str, int] = {}
        for name, var in cls.ENV.items():
            text = env.get(var)
            if text is None or not text.strip():
                continue
            try:
                value = int(text)
            except ValueError:
                raise ValueError(f"{var} must be a whole number, got {text!r}") from None
            low, high = cls.LOWEST[name], cls.HIGHEST[name]
            if not low <= value <= high:
                raise ValueError(f"{var} must be between {low:,} and {high:,}, got {value:,}")
            values[name] = value
        return cls(**values)

    def describe(self) -> str:
        return (f"at most {self.max_bytes / 1e6:g} MB, {self.max_pairs:,} pairs, {self.max_tokens} tokens per "
                f"source or target and {self.max_symbols} different tokens per side")


@dataclass(frozen=True)
class Row:
    line: int    # 1-based line of the file (of its last line, for a quoted CSV record over several)
    source: str
    target: str


@dataclass
class Report:
    """What reading found, beside the pairs kept."""
    lines: int = 0            # lines with a pair, header and blank lines not counted
    header: bool = False      # the first row was a header and was skipped
    extra_columns: int = 0    # rows with more than two columns (the rest ignored)
    duplicates: int = 0       # pairs dropped because the same pair came earlier
    conflicts: int = 0        # pairs dropped because their source came earlier with another target
    conflicting_sources: int = 0


@dataclass
class DataSet:
    """Pairs as tokens, split into training and held-out, with what reading them found.

    `name`: the file's name (or "pasted pairs"); `tokenize`: (source, target), each "chars" or "words";
    `sha256`: of the pairs as text (whitespace normalised), which seeds the split and identifies the data in
    checkpoints."""
    name: str
    tokenize: tuple[str, str]
    train: list[Example]
    held_out: list[Example]
    sha256: str
    report: Report = field(default_factory=Report)
    detected: tuple[str, str] = ("chars", "chars")  # what detection chose (tokenize may differ: the user's choice)

    @property
    def pairs(self) -> int:
        return len(self.train) + len(self.held_out)

    def examples(self) -> list[Example]:
        return self.train + self.held_out

    def symbols(self, side: str) -> list[str]:
        """The different tokens of one side ("source" or "target"), in order of first appearance."""
        return list(dict.fromkeys(t for ex in self.examples() for t in (ex.source if side == "source"
                                                                           else ex.target)))

    def vocab(self) -> Vocab:
        """The vocabulary both sides share: source tokens sorted, then the target tokens the sources lack."""
        source = sorted(self.symbols("source"))
        target = sorted(set(self.symbols("target")) - set(source))
        return Vocab(source + target, self.tokenize)

    def lengths(self, side: str) -> tuple[int, int]:
        sizes = [len(ex.source if side == "source" else ex.target) for ex in self.examples()]
        return min(sizes), max(sizes)

    def summary(self) -> str:
        """One line: "600 pairs, 50 source symbols, 11 target symbols, lengths 6–29 → 10; 60 held out"."""
        lo, hi = self.lengths("source")
        tlo, thi = self.lengths("target")
        source = f"{lo}" if lo == hi else f"{lo}–{hi}"
        target = f"{tlo}" if tlo == thi else f"{tlo}–{thi}"
        return (f"{self.pairs:,} pairs, {len(self.symbols('source'))} source symbols, "
                f"{len(self.symbols('target'))} target symbols, lengths {source} → {target}; "
                f"{len(self.held_out):,} held out")

    def notes(self) -> list[str]:
        """Sentences about what reading changed or skipped (empty when nothing was)."""
        r, out = self.report, []
        if r.header:
            out.append("The first line is a header and was skipped.")
        if r.extra_columns:
            out.append(f"{r.extra_columns:,} line(s) have more than two columns; only the first two are read.")
        if r.duplicates:
            out.append(f"{r.duplicates:,} duplicated pair(s) dropped.")
        if r.conflicts:
            out.append(f"{r.conflicting_sources:,} source(s) are given more than one target: the first target of "
                       f"each is kept ({r.conflicts:,} pair(s) dropped).")
        return out

    def describe(self) -> dict[str, Any]:
        """What a checkpoint says about the data it was trained on: name, size, hash, tokenisation; not the data."""
        return {"name": self.name, "pairs": self.pairs, "held_out": len(self.held_out), "sha256": self.sha256,
                "tokenize": list(self.tokenize)}

    def nbytes(self) -> int:
        """About the memory the pairs take as a DataTask holds them (for a session's budget): per pair its objects
        and its place in the task's lookups, per token a pointer (two for a source: its list, and the key the
        task looks answers up by); each different token is one shared string. Measured with tracemalloc on 20,000
        pairs of dates (13.5 MB) and of number words (9.7 MB): this says 14.0 and 11.0."""
        source = sum(len(ex.source) for ex in self.examples())
        target = sum(len(ex.target) for ex in self.examples())
        return 16 * source + 8 * target + 400 * self.pairs


# ---------------------------------------------------------------- reading


def read_pairs(file: str | os.PathLike | bytes | BinaryIO, *, name: str | None = None, fmt: str | None = None,
               tokenize: tuple[str | None, str | None] | str | None = None,
               limits: DataLimits | None = None) -> DataSet:
    """Read, check, tokenise and split pairs from a path, bytes, an open binary file or (fmt "text") a str.

    `fmt`: one of FORMATS, else from the name's extension (.tsv, .csv, .jsonl; anything else is text).
    `tokenize`: "chars" or "words" for both sides, or a (source, target) pair, None meaning detect. Raises
    DataError with one sentence."""
    limits = limits or DataLimits()
    rows, report, name = read_rows(file, name=name, fmt=fmt, limits=limits)
    return make_dataset(rows, name=name, tokenize=tokenize, limits=limits, report=report)


def read_rows(file: str | os.PathLike | bytes | BinaryIO, *, name: str | None = None, fmt: str | None = None,
              limits: DataLimits | None = None) -> tuple[list[Row], Report, str]:
    """The rows of a file (read_pairs' first half: reading and checking lines, no tokens yet), what reading found,
    and the data's name. Reads at most limits.max_bytes + 1 bytes."""
    limits = limits or DataLimits()
    if isinstance(file, (str, os.PathLike)) and not (isinstance(file, str) and fmt == "text"):
        path = Path(file)
        name = name or path.name
        try:
            with open(path, "rb") as f:
                raw = f.read(limits.max_bytes + 1)
        except OSError as e:
            raise DataError(f"cannot read {path.name}: {e.strerror or e}") from None
    elif isinstance(file, str):
        raw = file.encode("utf-8", "surrogatepass")[:limits.max_bytes + 1]
    elif isinstance(file, bytes):
        raw = file[:limits.max_bytes + 1]
    else:
        raw = file.read(limits.max_bytes + 1)
    pasted = isinstance(file, str) and fmt == "text"
    name = name or "pasted pairs"
    fmt = fmt or format_of(name)
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    what = "the pasted text" if pasted else "the file"
    if len(raw) > limits.max_bytes:
        raise DataError(f"{what} is larger than {limits.max_bytes / 1e6:g} MB, the most this server reads "
                        f"(SEQ2SEQ_DATA_BYTES): use fewer pairs.")
    rows, report = parse_rows(_text(raw), fmt, limits, what)
    return rows, report, name


def format_of(name: str) -> str:
    """The format a file's name implies: tsv, csv or jsonl by extension, text otherwise."""
    suffix = Path(name).suffix.lower().lstrip(".")
    return suffix if suffix in ("tsv", "csv", "jsonl") else "text"


def _text(raw: bytes) -> str:
    """UTF-8 bytes to text (a byte-order mark dropped); DataError naming the first line that is not UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1  # as parse_rows counts
        raise DataError(f"line {line} is not UTF-8 text: save the file as UTF-8 (in a spreadsheet: "
                        f"\"CSV UTF-8\").") from None
    return text[1:] if text.startswith("\ufeff") else text


def _bad_character(text: str) -> str | None:
    """The first character that is not text a person reads (a control or formatting character), as U+XXXX."""
    for c in text:
        if c not in "\t\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return f"U+{ord(c):04X}"
    return None


def parse_rows(text: str, fmt: str, limits: DataLimits, what: str = "the file") -> tuple[list[Row], Report]:
    """The (source, target) rows of a file's text, checked line by line; DataError for the first bad one. Lines end
    at \\n, \\r\\n or \\r (not at the other characters str.splitlines() would break at: those are refused as
    invisible, on their own line)."""
    report = Report()
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, line in enumerate(lines, 1):
        if len(line) > MAX_LINE_CHARS:
            raise DataError(f"line {number} is {len(line):,} characters long; at most {MAX_LINE_CHARS:,} are "
                            f"allowed: is it really one pair per line?")
        _check_characters(line, number)
    if fmt == "csv":
        records = _csv_records("\n".join(lines))
    elif fmt == "jsonl":
        records = ((n, _json_cells(line, n)) for n, line in enumerate(lines, 1))
    else:
        records = ((n, _split_line(line, fmt)) for n, line in enumerate(lines, 1))
    rows: list[Row] = []
    first = True
    for number, cells in records:
        if not cells or all(not c.strip() for c in cells):
            continue  # blank lines
        header = first and len(cells) >= 2 and (cells[0].strip().lower(), cells[1].strip().lower()) in HEADERS
        first = False
        if header:
            report.header = True
            continue
        if len(cells) < 2:
            raise DataError(f"line {number} has one column: {_separator(fmt)}.")
        if len(cells) > 2:
            report.extra_columns += 1
        for cell in cells[:2]:  # what a CSV quote or a JSON escape holds, too
            _check_characters(cell, number)
        source, target = normalise(cells[0]), normalise(cells[1])
        if not source or not target:
            raise DataError(f"line {number} has an empty {'source' if not source else 'target'}: every line needs "
                            f"both.")
        rows.append(Row(number, source, target))
        if len(rows) > limits.max_pairs:
            raise DataError(f"{what} has more than {limits.max_pairs:,} pairs, the most this server takes "
                            f"(SEQ2SEQ_DATA_PAIRS): line {number} is one too many.")
    report.lines = len(rows)
    if not rows:
        raise DataError(f"{what} holds no pairs: write one pair per line, {_separator(fmt, short=True)}.")
    return rows, report


def _check_characters(text: str, line: int) -> None:
    bad = _bad_character(text)
    if bad:
        raise DataError(f"line {line} contains the invisible character {bad}: remove it.")


def _csv_records(text: str):
    """(line, cells) of CSV text; a DataError naming the line where a bad record begins (a quote left open, a stray
    quote)."""
    reader = csv.reader(io.StringIO(text), strict=True)  # strict: a stray quote is refused, not rows merged
    begins = 1
    try:
        for cells in reader:
            yield reader.line_num, cells
            begins = reader.line_num + 1
    except csv.Error as e:
        if "unexpected end of data" in str(e):
            raise DataError(f"line {begins} opens a quote that is never closed: close it, or remove it.") from None
        raise DataError(f"line {reader.line_num} cannot be read as CSV ({e}): check its quotes.") from None


def _separator(fmt: str, short: bool = False) -> str:
    how = {"tsv": "a source and a target separated by a tab",
           "csv": "a source and a target separated by a comma (quote a field that holds a comma)",
           "jsonl": "a JSON object with \"source\" and \"target\" strings",
           "text": "a source and a target separated by a tab or by \"->\""}[fmt]
    return how if short else f"each line needs {how}"


def _split_line(line: str, fmt: str) -> list[str]:
    if "\t" in line or fmt == "tsv":
        return line.split("\t")
    source, arrow, target = line.partition(ARROW)
    return [source, target] if arrow else [line]


def _json_cells(line: str, number: int) -> list[str]:
    if not line.strip():
        return []
    try:
        item = json.loads(line)
    except (ValueError, RecursionError):
        item = None
    if not (isinstance(item, dict) and isinstance(item.get("source"), str) and isinstance(item.get("target"), str)):
        raise DataError(f"line {number} is not a JSON object with \"source\" and \"target\" strings, e.g. "
                        f"{{\"source\": \"3 March 2021\", \"target\": \"2021-03-03\"}}.")
    return [item["source"], item["target"]]


# ---------------------------------------------------------------- tokens, checks and the split


def detect(texts: Sequence[str]) -> str:
    """How a side's texts are best split: "words" when they hold spaces and their different words mostly repeat
    (commands, number words, digits separated by spaces), else "chars" (dates, names, anything whose words are
    mostly new)."""
    if not any(" " in t for t in texts):
        return "chars"
    counts = Counter(w for t in texts for w in t.split(" "))
    once = sum(1 for c in counts.values() if c == 1)
    return "words" if once <= SINGLETON_SHARE * len(counts) else "chars"


def make_dataset(rows: Sequence[Row], *, name: str, tokenize: tuple[str | None, str | None] | str | None = None,
                 limits: DataLimits | None = None, report: Report | None = None) -> DataSet:
    """Tokenise, check against the limits, drop duplicates and conflicts, and split: the DataSet of `rows`."""
    limits = limits or DataLimits()
    report = report or Report(lines=len(rows))
    if isinstance(tokenize, str) or tokenize is None:
        tokenize = (tokenize, tokenize)
    for how in tokenize:
        if how is not None and how not in TOKENISATIONS:
            raise DataError(f"tokens must be {' or '.join(TOKENISATIONS)}, got {how!r}")
    detected = (detect([r.source for r in rows]), detect([r.target for r in rows]))
    chosen = (tokenize[0] or detected[0], tokenize[1] or detected[1])
    kept: dict[str, Row] = {}
    conflicted: set[str] = set()
    for row in rows:
        first = kept.get(row.source)
        if first is None:
            kept[row.source] = row
        elif first.target == row.target:
            report.duplicates += 1
        else:
            report.conflicts += 1
            conflicted.add(row.source)
    report.conflicting_sources = len(conflicted)
    shared: dict[str, str] = {}  # one string object per different token (a word repeated is not copied)
    examples = [_tokens(row, chosen, limits, shared) for row in kept.values()]
    for side in ("source", "target"):
        _check_symbols(examples, list(kept.values()), side, limits, chosen)
    if len(examples) < MIN_PAIRS:
        dropped = " after dropping duplicates and conflicts" if report.duplicates or report.conflicts else ""
        raise DataError(f"only {len(examples):,} different pair{'s' if len(examples) != 1 else ''}{dropped}: at least "
                        f"{MIN_PAIRS} are needed "
                        f"({MIN_HELD_OUT} or more are held out to measure accuracy).")
    sha = _content_hash(kept.values())
    train, held_out = split(examples, sha, chosen)
    return DataSet(name=name, tokenize=chosen, train=train, held_out=held_out, sha256=sha, report=report,
                   detected=detected)


def _tokens(row: Row, tokenize: tuple[str, str], limits: DataLimits, shared: dict[str, str]) -> Example:
    sides = []
    for side, text, how in (("source", row.source, tokenize[0]), ("target", row.target, tokenize[1])):
        if how == "chars" and SPACE in text:
            raise DataError(f"line {row.line} contains \"{SPACE}\", which stands for a space in character tokens: "
                            f"replace it.")
        tokens = [shared.setdefault(t, t) for t in split_text(text, how)]
        if len(tokens) > limits.max_tokens:
            advice = " or use word tokens" if how == "chars" and " " in text else ""
            raise DataError(f"line {row.line}: the {side} has {len(tokens)} tokens; at most {limits.max_tokens} are "
                            f"allowed (SEQ2SEQ_DATA_TOKENS): shorten it{advice}.")
        reserved = next((t for t in tokens if t in SPECIALS), None)
        if reserved:
            raise DataError(f"line {row.line}: \"{reserved}\" is a token the model reserves for itself: rename it.")
        sides.append(tokens)
    return Example(sides[0], sides[1])


def _check_symbols(examples: Sequence[Example], rows: Sequence[Row], side: str, limits: DataLimits,
                   tokenize: tuple[str, str]) -> None:
    seen: set[str] = set()
    for ex, row in zip(examples, rows):
        for token in ex.source if side == "source" else ex.target:
            if token not in seen:
                seen.add(token)
                if len(seen) > limits.max_symbols:
                    how = tokenize[0 if side == "source" else 1]
                    advice = "use character tokens, or fewer different words" if how == "words" \
                        else "use fewer different characters"
                    raise DataError(f"the {side}s use more than {limits.max_symbols} different tokens, the most "
                                    f"allowed (SEQ2SEQ_DATA_SYMBOLS); the first beyond that, {token!r}, is on line "
                                    f"{row.line}: {advice}.")


def _content_hash(rows: Any) -> str:
    """The pairs' hash, whatever their order in the file (a sorted copy of a file is the same data)."""
    h = hashlib.sha256()
    for line in sorted(f"{row.source}\t{row.target}\n" for row in rows):
        h.update(line.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def split(examples: Sequence[Example], sha256: str, tokenize: tuple[str, str]) -> tuple[list[Example], list[Example]]:
    """(training, held-out): the held-out pairs are those whose source hashes lowest with the data's own hash, about
    HELD_OUT_SHARE of them and at least MIN_HELD_OUT; both halves keep the file's order. Every source occurs once,
    so none is in both halves."""
    n_held = max(MIN_HELD_OUT, round(HELD_OUT_SHARE * len(examples)))

    def key(ex: Example) -> bytes:
        text = join_tokens(ex.source, tokenize[0])
        return hashlib.blake2b(f"{sha256}\0{text}".encode("utf-8", "surrogatepass"), digest_size=8).digest()

    held = {id(ex) for ex in sorted(examples, key=key)[:n_held]}
    return [ex for ex in examples if id(ex) not in held], [ex for ex in examples if id(ex) in held]


def read_eval_pairs(file: str | os.PathLike, vocab: Vocab, limits: DataLimits | None = None) -> list[Example]:
    """Every pair of a file (duplicates too), split as `vocab`'s sides are, to evaluate a model on: DataError for
    a bad file or a token the model does not know (naming its line). No minimum and no split."""
    limits = limits or DataLimits()
    path = Path(file)
    try:
        with open(path, "rb") as f:
            raw = f.read(limits.max_bytes + 1)
    except OSError as e:
        raise DataError(f"cannot read {path.name}: {e.strerror or e}") from None
    if len(raw) > limits.max_bytes:
        raise DataError(f"the file is larger than {limits.max_bytes / 1e6:g} MB (SEQ2SEQ_DATA_BYTES): use fewer "
                        f"pairs.")
    rows, _ = parse_rows(_text(raw), format_of(path.name), limits)
    out = []
    for row in rows:
        sides = []
        for side, text in (("source", row.source), ("target", row.target)):
            if vocab.tokenize[0 if side == "source" else 1] == "chars" and SPACE in text:
                raise DataError(f"line {row.line} contains \"{SPACE}\", which stands for a space in character "
                                f"tokens: replace it.")
            tokens = vocab.split(text, side)
            if len(tokens) > limits.max_tokens:
                raise DataError(f"line {row.line}: the {side} has {len(tokens)} tokens; at most {limits.max_tokens} "
                                f"are allowed (SEQ2SEQ_DATA_TOKENS).")
            unknown = next((t for t in tokens if t not in vocab.stoi or t in SPECIALS), None)
            if unknown is not None:
                shown = " " if unknown == SPACE else unknown
                raise DataError(f"line {row.line}: the {side} has {shown!r}, a token this model does not know "
                                f"(it knows {vocab.known()}).")
            sides.append(tokens)
        out.append(Example(sides[0], sides[1]))
    return out


# ---------------------------------------------------------------- a data set as a task


@dataclass(frozen=True)
class DataSpec(TaskSpec):
    """A data set's lengths: sources of min_len to max_len tokens (the longest also its cap: there are no longer
    ones to ask for), targets up to target_len."""
    target_len: int = 1
    unit_name: str = "tokens"

    @property
    def max_len_cap(self) -> int:
        return self.max_len

    @property
    def unit(self) -> str:
        return self.unit_name

    @property
    def max_source_len(self) -> int:
        return self.max_len

    @property
    def max_target_len(self) -> int:
        return self.target_len

    def to_dict(self) -> dict[str, Any]:
        return {"name": "data", "min_len": self.min_len, "max_len": self.max_len, "target_len": self.target_len}




class DataTask(Task):
    """A data set as a task: batches drawn from its training pairs, evaluation on its held-out pairs, the correct
    answer of a source that is in the data. Made from a checkpoint without its data (`data` None) it still
    decodes, with no correct answers, and refuses to train or evaluate until the data is given."""

    def __init__(self, data: DataSet | None, *, info: dict[str, Any] | None = None, vocab: Vocab | None = None,
                 spec: DataSpec | None = None):
        self.data = data
        self.info = data.describe() if data is not None else dict(info or {})
        self.vocab = data.vocab() if data is not None else vocab
        self.generator = None
        if data is not None:
            lo, hi = data.lengths("source")
            unit = "characters" if data.tokenize[0] == "chars" else "words"
            spec = DataSpec(DATA_TASK, lo, hi, data.lengths("target")[1], unit)
            self._answers = {tuple(ex.source): ex.target for ex in data.examples()}
            self._held = {tuple(ex.source) for ex in data.held_out}
            self._length = {ex_len: [ex for ex in data.held_out if len(ex.source) == ex_len]
                            for ex_len in range(lo, hi + 1)}
        else:
            self._answers, self._held, self._length = {}, set(), {}
        if spec is None or self.vocab is None:
            raise ValueError("a data task needs its data, or a checkpoint's description, vocabulary and lengths")
        self.spec = spec

    @property
    def title(self) -> str:
        """The data's name, as the page and messages show it."""
        return str(self.info.get("name") or "your data")

    def description(self) -> str:
        return f"your data: {self.title}"

    def _need_data(self) -> DataSet:
        if self.data is None:
            raise ValueError(f"this model was trained on {self.title}; load that data to train or evaluate on it")
        return self.data

    def expected(self, source: Sequence[str]) -> list[str] | None:
        """The target of the pair whose source this is; None for a source that is not in the data."""
        return self._answers.get(tuple(source))

    def loss_floor(self) -> float:
        return 0.0  # every source has one target (conflicts are dropped)

    def is_held_out(self, source: Sequence[str]) -> bool:
        return tuple(source) in self._held

    def draw_length(self, rng: random.Random) -> int:
        return len(self._need_data().train[rng.randrange(len(self.data.train))].source)

    def sample(self, rng: random.Random, length: int | tuple[int, int] | None = None) -> Example:
        pool = self._need_data().examples()
        if length is not None:
            pool = [ex for ex in pool if len(ex.source) == length]
            if not pool:
                raise ValueError(f"{self.title} has no source of {length} {self.spec.unit}")
        return pool[rng.randrange(len(pool))]

    def examples(self, rng: random.Random, n: int, *, held_out: bool, one_length: bool = False,
                 distinct: bool = False) -> list[Example]:
        """n training pairs drawn with replacement (batches mix lengths, padded), or held-out ones: with
        `distinct`, up to n different ones, drawn without replacement."""
        data = self._need_data()
        pool = data.held_out if held_out else data.train
        if distinct:
            return rng.sample(pool, min(n, len(pool)))
        return [pool[rng.randrange(len(pool))] for _ in range(n)]

    def held_out_of_length(self, length: int, n: int = 200, seed: int = 0) -> list[Example]:
        """Up to n of the held-out pairs whose source has `length` tokens (none outside the data's lengths)."""
        pool = self._length.get(length, [])
        return list(pool) if len(pool) <= n else random.Random(seed).sample(pool, n)

    def through(self, vocab: Vocab) -> "DataTask":
        """The same pairs and split, encoded with another model's vocabulary (a token it lacks becomes <unk>, so that
        model cannot get it right): to measure a model of another task on these pairs."""
        other = copy.copy(self)
        other.vocab = vocab
        return other

    def spec_at(self, length: int) -> DataSpec:
        """The spec of this data's sources of one length (what a chart at that length costs)."""
        return dataclasses.replace(self.spec, min_len=length, max_len=length)

    def to_dict(self, with_pairs: bool = True) -> dict[str, Any]:
        """The task as plain data: the spec, the description, the vocabulary and tokenisation, and (for a
        training worker) the pairs."""
        out = {**self.spec.to_dict(), "data": dict(self.info), "vocab": list(self.vocab.itos),
               "unit": self.spec.unit}
        if with_pairs and self.data is not None:
            out["pairs"] = {"train": [[ex.source, ex.target] for ex in self.data.train],
                            "held_out": [[ex.source, ex.target] for ex in self.data.held_out]}
        return out


def data_task_from_dict(d: dict[str, Any]) -> DataTask:
    """A DataTask from DataTask.to_dict (with its pairs: a worker's; without: a checkpoint's); ValueError if damaged."""
    if not isinstance(d, dict) or d.get("name") != DATA_TASK or not isinstance(d.get("data"), dict):
        raise ValueError("a data task must have name \"data\" and a data description")
    info = d["data"]
    if not isinstance(info.get("name"), str) or not 0 < len(info["name"]) <= 200 or _bad_character(info["name"]) \
            or "\n" in info["name"]:
        raise ValueError("the data's name must be text of 1 to 200 visible characters")
    for key in ("pairs", "held_out"):
        if key in info and (isinstance(info[key], bool) or not isinstance(info[key], int) or info[key] < 0):
            raise ValueError(f"the data's {key} must be a whole number")
    if not isinstance(info.get("sha256"), str) or not re.fullmatch(r"[0-9a-f]{64}", info["sha256"]):
        raise ValueError("the data's sha256 must be 64 hexadecimal digits")
    tokenize = info.get("tokenize")
    if not (isinstance(tokenize, list) and len(tokenize) == 2 and all(t in TOKENISATIONS for t in tokenize)):
        raise ValueError(f"the data's tokenize must be two of {', '.join(TOKENISATIONS)}")
    itos = d.get("vocab")
    if not (isinstance(itos, list) and all(isinstance(t, str) for t in itos)
            and itos[:len(SPECIALS)] == list(SPECIALS)):
        raise ValueError("the data task's vocabulary must be a list of tokens starting with the specials")
    vocab = Vocab(itos[len(SPECIALS):], (tokenize[0], tokenize[1]))
    for key in ("min_len", "max_len", "target_len"):
        if isinstance(d.get(key), bool) or not isinstance(d.get(key), int) or not 1 <= d[key] <= MAX_SOURCE_TOKENS:
            raise ValueError(f"the data task's {key} must be a whole number from 1 to {MAX_SOURCE_TOKENS}")
    if d["min_len"] > d["max_len"]:
        raise ValueError("the data task's min_len is above its max_len")
    unit = "characters" if tokenize[0] == "chars" else "words"
    spec = DataSpec(DATA_TASK, d["min_len"], d["max_len"], d["target_len"], unit)
    pairs = d.get("pairs")
    if pairs is None:
        return DataTask(None, info=info, vocab=vocab, spec=spec)
    data = DataSet(name=str(info.get("name", "your data")), tokenize=(tokenize[0], tokenize[1]),
                   train=[Example(list(s), list(t)) for s, t in pairs["train"]],
                   held_out=[Example(list(s), list(t)) for s, t in pairs["held_out"]],
                   sha256=str(info.get("sha256", "")))
    task = DataTask(data)
    task.info = dict(info)
    return task


def task_to_dict(task: Task, with_pairs: bool = True) -> dict[str, Any]:
    """Any task as plain data (a worker's job, a checkpoint's config): a built-in's spec, or a data task's."""
    return task.to_dict(with_pairs) if isinstance(task, DataTask) else task.spec.to_dict()


def task_from_dict(d: dict[str, Any]) -> Task:
    """The inverse of task_to_dict; ValueError with a sentence when it is damaged."""
    if isinstance(d, dict) and d.get("name") == DATA_TASK:
        return data_task_from_dict(d)
    return Task(TaskSpec.from_dict(d))


def with_data(task: DataTask, data: DataSet) -> DataTask:
    """A checkpoint's data task given its data again: the data's own task when it is the same data (same
    hash and tokenisation, same vocabulary), else ValueError saying what differs."""
    if data.sha256 != task.info.get("sha256"):
        raise ValueError(f"these pairs are not the data the model was trained on ({task.title}, "
                         f"{task.info.get('pairs', '?')} pairs)")
    new = DataTask(data)
    if new.vocab != task.vocab:
        raise ValueError("these pairs give another vocabulary than the model's: check the tokenisation")
    return new


__all__ = ["DataError", "DataLimits", "DataSet", "DataSpec", "DataTask", "Report", "Row", "detect", "format_of",
           "make_dataset", "parse_rows", "read_eval_pairs", "read_pairs", "read_rows", "split", "task_from_dict",
           "task_to_dict", "with_data"]
