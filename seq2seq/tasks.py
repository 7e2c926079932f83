"""Toy sequence-to-sequence tasks, the vocabulary, batching and an honest held-out split.

Every example is a pair of token lists, e.g. reverse: ["3", "1", "4"] -> ["4", "1", "3"].
Whether an example is held out is decided by a hash of its source alone (minGPT's adder idea), so
the held-out set never changes between runs and no held-out source is ever trained on.
"""
from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:  # torch only where batches are made: `python -m seq2seq --help` should not wait for it
    import torch

PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
SPECIALS = (PAD, SOS, EOS, UNK)
PAD_ID, SOS_ID, EOS_ID, UNK_ID = range(4)
# the tokens no output holds, so no decoding ever chooses them (greedy, sampling, beam search, a forced
# "what if"), however probable the model makes them: padding, the start token and unknown
NEVER_CHOSEN = (PAD, SOS, UNK)
NEVER_CHOSEN_IDS = (PAD_ID, SOS_ID, UNK_ID)

DIGITS = tuple("0123456789")
HELD_OUT_PER_MILLE = 100  # 10% of all possible sources are held out for validation
MAX_SOURCE_TOKENS = 200   # longer sources are refused: nothing here was trained on anything close
MAX_SOURCE_CHARS = 2000   # and longer texts are refused before they are split into tokens


SPACE = "\u2423"  # "␣": the token a space is in character-level text (a token holds no whitespace)
TOKENISATIONS = ("chars", "words")  # how a side's text becomes tokens: every character, or whitespace-separated


def normalise(text: str) -> str:
    """Text as tokenisation reads it: runs of whitespace become one space, none at the ends."""
    return " ".join(text.split())


def split_text(text: str, how: str) -> list[str]:
    """A side's text to tokens: "chars", every character (a space is SPACE); "words", whitespace-separated."""
    text = normalise(text)
    if how == "chars":
        return [SPACE if c == " " else c for c in text]
    return text.split(" ") if text else []


def join_tokens(tokens: Sequence[str], how: str | None) -> str:
    """Tokens back to text as a person writes it: "2021-03-03", "three hundred and twelve"; None (the digit
    tasks): separated by spaces, as their outputs have always been shown."""
    if how == "chars":
        return "".join(" " if t == SPACE else t for t in tokens)
    return " ".join(tokens)


class Vocab:
    """Token <-> id mapping. Ids 0-3 are always PAD, SOS, EOS, UNK.

    `tokenize`: how the (source, target) texts are split into tokens, "chars" or "words" each (see
    split_text); None for the digit tasks, whose sources may be typed with or without spaces."""

    def __init__(self, tokens: Sequence[str], tokenize: tuple[str | None, str | None] = (None, None)):
        self.itos: list[str] = list(SPECIALS) + [t for t in tokens if t not in SPECIALS]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary has repeated tokens")
        if any(not t or any(c.isspace() for c in t) for t in self.itos):
            raise ValueError("vocabulary tokens must be non-empty and contain no spaces")
        if any(how not in (None, *TOKENISATIONS) for how in tokenize) or len(tokenize) != 2:
            raise ValueError(f"tokenize must be two of {', '.join(TOKENISATIONS)} (or None), got {tokenize!r}")
        self.tokenize = tuple(tokenize)

    def __len__(self) -> int:
        return len(self.itos)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos and self.tokenize == other.tokenize

    @property
    def tokens(self) -> list[str]:
        """The task's own tokens, without the specials."""
        return self.itos[len(SPECIALS):]

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.stoi.get(t, UNK_ID) for t in tokens]

    def decode(self, ids: Sequence[int]) -> list[str]:
        """Ids to tokens, stopping at the first EOS and leaving out PAD and SOS."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i not in (PAD_ID, SOS_ID):
                out.append(self.itos[i])
        return out

    def text(self, tokens: Sequence[str], side: str = "target") -> str:
        """Tokens of a source or target as a person writes them (join_tokens with that side's tokenisation)."""
        return join_tokens(tokens, self.tokenize[0 if side == "source" else 1])

    def known(self, limit: int = 40) -> str:
        """The tokens a user may type, for messages: "0 1 2 ..." (at most `limit` of them, then how many more)."""
        shown = [t for t in self.tokens[:limit]]
        more = len(self.tokens) - len(shown)
        return " ".join(shown) + (f" … and {more} more" if more > 0 else "")

    def split(self, text: str, side: str = "source") -> list[str]:
        """Text to tokens as this vocabulary's side ("source" or "target") is split, unchecked: by its tokenisation,
        or for the digit tasks by spaces, which are optional when every token is one character."""
        how = self.tokenize[0 if side == "source" else 1]
        if how is not None:
            return split_text(text, how)
        if all(len(t) == 1 for t in self.tokens) and text.strip():
            return [c for c in text if not c.isspace()]
        return text.split()

    def parse(self, text: str) -> list[str]:
        """A user's source string to tokens; raises ValueError with a message a person understands.

        With a tokenisation (a data set, a real-looking task), the text is split as the data was: "3 March 2021"
        is 12 character tokens (spaces included), "jump twice" two words. For the digit tasks tokens are
        separated by spaces, and when every token is one character spaces are optional, so "314" and "3 1 4"
        mean the same.
        """
        if not isinstance(text, str):
            raise ValueError("the source must be text")
        if len(text) > MAX_SOURCE_CHARS:  # before splitting: a huge paste must cost nothing
            raise ValueError(f"the source is {len(text):,} characters long; at most {MAX_SOURCE_TOKENS} tokens "
                             f"({MAX_SOURCE_CHARS:,} characters) are allowed")
        how = self.tokenize[0]
        tokens = self.split(text, "source")
        if not tokens:
            example = self.text(self.tokens[:3], "source") if how else " ".join(self.tokens[:3])
            hint = "type the source as in the data" if how else "type tokens separated by spaces"
            raise ValueError(f"the source is empty: {hint}, e.g. {example!r}")
        if len(tokens) > MAX_SOURCE_TOKENS:
            raise ValueError(f"the source has {len(tokens)} tokens; at most {MAX_SOURCE_TOKENS} are allowed")
        unknown = sorted({t for t in tokens if t not in self.stoi or t in SPECIALS})
        if unknown:
            shown = ", ".join(repr(" " if t == SPACE else t) for t in unknown[:5])
            raise ValueError(f"unknown token(s) {shown}: this model knows only {self.known()}")
        return tokens


@dataclass(frozen=True)
class TaskSpec:
    """Which task, and its length range (for addition: digits per operand)."""
    name: str
    min_len: int
    max_len: int

    @property
    def max_len_cap(self) -> int:
        """The largest max length this task allows (see length_cap)."""
        return length_cap(self.name)

    @property
    def unit(self) -> str:
        """What a length counts (see length_unit)."""
        return length_unit(self.name)

    @property
    def max_source_len(self) -> int:
        """Tokens in the longest source (see source_length)."""
        return source_length(self.name, self.max_len)

    @property
    def max_target_len(self) -> int:
        """Tokens in the longest target, without <sos> and <eos> (see target_length)."""
        return target_length(self.name, self.max_len)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "min_len": self.min_len, "max_len": self.max_len}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TaskSpec":
        if not isinstance(data, dict) or "name" not in data:
            raise ValueError("task must be an object with a name")
        return make_spec(data["name"], data.get("min_len"), data.get("max_len"))


@dataclass(frozen=True)
class Example:
    source: list[str]
    target: list[str]


@dataclass(frozen=True)
class Kind:
    """What a built-in task is: its tokens, default and largest lengths, a description, and for the real-looking
    tasks the generator (seq2seq.generators) that writes their pairs and solves a typed source."""
    tokens: tuple[str, ...]
    min_len: int
    max_len: int
    cap: int
    description: str
    generator: str | None = None  # the name of a seq2seq.generators generator
    floor: int = 1                # the smallest min length (a real-looking task's shortest source)


_TASKS: dict[str, Kind] = {
    "reverse": Kind(DIGITS, 3, 10, 50, "the same digits in reverse order"),
    "copy": Kind(DIGITS, 3, 10, 50, "the same digits unchanged"),
    "sort": Kind(DIGITS, 3, 10, 50, "the digits sorted in ascending order"),
    "addition": Kind(DIGITS + ("+",), 1, 3, 9, "the sum of two numbers, most significant digit first"),
    "random": Kind(DIGITS, 5, 5, 50, "a random target unrelated to the source: it cannot be learned"),
}
GENERATED = ("dates", "numbers", "commands")  # the real-looking tasks: lengths count source tokens (characters or
                                             # words), and every length in the range is one the generator writes
TASK_NAMES = tuple(_TASKS) + GENERATED
DATA_TASK = "data"  # the name your own pairs' task has (seq2seq.data.DataTask; the form's "your pairs")
MAX_LENGTH_CAP = 50  # the largest max length of any task


def _kind(name: str) -> Kind:
    """A task's Kind; the real-looking ones are made from their generator on first use."""
    if name not in _TASKS and name in GENERATED:
        from . import generators
        g = generators.GENERATORS[name]
        symbols = [SPACE if c == " " else c for c in (*g.source_symbols(), *g.target_symbols())]
        _TASKS[name] = Kind(tuple(dict.fromkeys(symbols)), g.min_len, g.max_len, g.max_len, g.description, name,
                            g.min_len)
    return _TASKS[name]


def length_floor(name: str) -> int:
    """The smallest min length task `name` allows (1, or a real-looking task's shortest source)."""
    return _kind(name).floor


def length_cap(name: str) -> int:
    """The largest max length task `name` allows (for addition: digits per operand; its sums' sources are
    2n + 1 tokens long)."""
    return _kind(name).cap


def length_unit(name: str) -> str:
    """What a length of task `name` counts: "digits per number" for addition (a length of n is two
    n-digit operands), "characters" or "words" for the real-looking tasks' sources, "tokens" otherwise."""
    if name == "addition":
        return "digits per number"
    if name in GENERATED:
        from . import generators
        return "characters" if generators.GENERATORS[name].source_tokens == "chars" else "words"
    return "tokens"


def source_length(name: str, n: int) -> int:
    """Tokens in a source of length n: 2n + 1 for addition (n digits, "+", n digits), n otherwise."""
    return 2 * n + 1 if name == "addition" else n


def target_length(name: str, n: int) -> int:
    """Tokens in the longest target for a source of length n (without <sos> and <eos>): n + 1 for addition
    (a carry can add a digit), the generator's longest for a real-looking task, n otherwise."""
    if name == "addition":
        return n + 1
    if name in GENERATED:
        from . import generators
        return generators.GENERATORS[name].max_target_len
    return n


def make_spec(name: str, min_len: int | None = None, max_len: int | None = None) -> TaskSpec:
    """A validated TaskSpec, with the task's default lengths where none are given."""
    if name not in TASK_NAMES:
        raise ValueError(f"unknown task {name!r}: choose one of {', '.join(TASK_NAMES)}")
    kind = _kind(name)
    min_len = kind.min_len if min_len is None else min_len
    max_len = kind.max_len if max_len is None else max_len
    for label, value in (("min length", min_len), ("max length", max_len)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{label} must be a whole number, got {value!r}")
    if not kind.floor <= min_len <= max_len <= kind.cap:
        raise ValueError(f"{name}: lengths must satisfy {kind.floor} <= min ({min_len}) <= max ({max_len}) <= "
                         f"{kind.cap}")
    return TaskSpec(name, min_len, max_len)


def describe(name: str) -> str:
    return _kind(name).description


def _number_tokens(rng: random.Random, n_digits: int) -> list[str]:
    low = 0 if n_digits == 1 else 10 ** (n_digits - 1)
    return list(str(rng.randint(low, 10 ** n_digits - 1)))


def _solve_addition(source: Sequence[str]) -> list[str] | None:
    text = "".join(source)
    left, plus, right = text.partition("+")
    if not plus or not left.isdigit() or not right.isdigit():
        return None
    return list(str(int(left) + int(right)))


_SOLVERS: dict[str, Callable[[Sequence[str]], list[str] | None]] = {
    "reverse": lambda s: list(reversed(s)),
    "copy": lambda s: list(s),
    "sort": lambda s: sorted(s),
    "addition": _solve_addition,
}


POOL_DRAWS = 30_000  # pairs drawn for a real-looking task's held-out examples by length (0.1-0.3 s)
_POOLS: dict[tuple[str, int], dict[int, list[Example]]] = {}


class Task:
    """A generator of examples for one TaskSpec, with its vocabulary and held-out split."""

    def __init__(self, spec: TaskSpec):
        self.spec = spec
        kind = _kind(spec.name)
        self.generator = None
        tokenize: tuple[str | None, str | None] = (None, None)
        if kind.generator is not None:
            from . import generators
            self.generator = generators.GENERATORS[kind.generator]
            tokenize = (self.generator.source_tokens, self.generator.target_tokens)
        self.vocab = Vocab(kind.tokens, tokenize)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def title(self) -> str:
        """The task's name as the page shows it (a data set's: its file's name)."""
        return self.spec.name

    def description(self) -> str:
        """One line for people: what the target is."""
        return describe(self.spec.name)

    def spec_at(self, length: int) -> TaskSpec:
        """The spec of this task's sources of one length (what a chart at that length costs)."""
        return make_spec(self.name, length, length)

    def held_out_of_length(self, length: int, n: int = 200, seed: int = 0) -> list[Example]:
        """Up to n distinct held-out examples whose source has `length` (for addition: digits per operand) -
        also lengths outside the range the task was made with, up to its cap. ValueError when it cannot make
        that length."""
        if self.generator is not None:
            pool = self._held_out_pool(seed).get(length, [])
            return pool[:n]
        one = Task(make_spec(self.name, length, length))
        return one.examples(random.Random(seed), n, held_out=True, distinct=True)

    def _held_out_pool(self, seed: int) -> dict[int, list[Example]]:
        """A real-looking task's distinct held-out examples by source length, from POOL_DRAWS pairs drawn as the
        generator draws them (its lengths are not equally common, and some within the range never occur)."""
        key = (self.name, seed)
        if key not in _POOLS:
            rng, seen, pool = random.Random(seed), set(), {}
            for _ in range(POOL_DRAWS):
                source, target = self.generator.sample(rng)
                tokens = split_text(source, self.vocab.tokenize[0])
                if tuple(tokens) not in seen and self.is_held_out(tokens):
                    seen.add(tuple(tokens))
                    pool.setdefault(len(tokens), []).append(Example(tokens, split_text(target, self.vocab.tokenize[1])))
            _POOLS[key] = pool
        return _POOLS[key]

    def expected(self, source: Sequence[str]) -> list[str] | None:
        """The correct target for a source, or None when there is none (random task, malformed sum, a date that
        does not exist, a command outside the grammar)."""
        if any(t not in self.vocab.stoi for t in source):
            return None
        if self.generator is not None:
            answer = self.generator.solve(self.vocab.text(source, "source"))
            return None if answer is None else split_text(answer, self.vocab.tokenize[1])
        solver = _SOLVERS.get(self.name)
        return None if solver is None else solver(source)

    def loss_floor(self) -> float:
        """The lowest mean training loss any model can reach: 0 where the target follows from the source. For
        random, each target digit is a fresh draw (ln 10 nats each, whatever the model) and only <eos> is
        certain, as the target is as long as the source: L ln 10 / (L + 1) for length L, averaged over the
        lengths (each batch has one length, so the loss is a mean over batches)."""
        if self.name != "random":
            return 0.0
        lengths = range(self.spec.min_len, self.spec.max_len + 1)
        return sum(n * math.log(10) / (n + 1) for n in lengths) / len(lengths)

    def is_held_out(self, source: Sequence[str]) -> bool:
        key = f"{self.name}:{' '.join(source)}".encode()
        bucket = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") % 1000
        return bucket < HELD_OUT_PER_MILLE

    def draw_length(self, rng: random.Random) -> int | tuple[int, int]:
        """A source length (for addition: the digits of each operand) from the task's range."""
        lo, hi = self.spec.min_len, self.spec.max_len
        if self.name == "addition":  # each digit count equally likely, so small sums are common too
            return rng.randint(lo, hi), rng.randint(lo, hi)
        return rng.randint(lo, hi)

    def sample(self, rng: random.Random, length: int | tuple[int, int] | None = None) -> Example:
        """One example from the whole space (held out or not), of a given or random length."""
        if self.generator is not None:
            return self._generated(rng, length)
        length = self.draw_length(rng) if length is None else length
        if self.name == "addition":
            source = _number_tokens(rng, length[0]) + ["+"] + _number_tokens(rng, length[1])
            return Example(source, _solve_addition(source))
        source = [rng.choice(DIGITS) for _ in range(length)]
        if self.name == "random":
            return Example(source, [rng.choice(DIGITS) for _ in range(len(source))])
        return Example(source, _SOLVERS[self.name](source))

    def _generated(self, rng: random.Random, length: int | None) -> Example:
        """A real-looking task's pair, drawn as its generator draws them, with a source of `length` tokens (any
        length of the task's range when None); raises ValueError when 10,000 draws give none."""
        lo, hi = (length, length) if length is not None else (self.spec.min_len, self.spec.max_len)
        source_how, target_how = self.vocab.tokenize
        for _ in range(10_000):
            source, target = self.generator.sample(rng)
            tokens = split_text(source, source_how)
            if lo <= len(tokens) <= hi:
                return Example(tokens, split_text(target, target_how))
        raise ValueError(f"{self.name} has almost no sources of {lo}-{hi} {self.spec.unit}; widen the length range")

    def examples(self, rng: random.Random, n: int, *, held_out: bool, one_length: bool = False,
                 distinct: bool = False) -> list[Example]:
        """n examples from the training part (held_out=False) or the held-out part of the space.

        one_length=True gives every source in the batch the same length: no padding, so the encoder
        needs no packing (about twice as fast to train); lengths still vary from batch to batch.
        distinct=True never repeats a source (for evaluation sets: a small corner of the space, like
        one-digit sums, then counts once per example rather than once per draw); it may return fewer
        than n examples when the space has fewer. A real-looking task's batches have sources of every
        length (padded: its lengths are not equally common, so one length per batch would change what it
        teaches)."""
        length = self.draw_length(rng) if one_length and self.generator is None else None
        out: list[Example] = []
        seen: set[tuple[str, ...]] = set()
        tries = 0
        while len(out) < n:
            ex = self.sample(rng, length)
            key = tuple(ex.source)
            if self.is_held_out(ex.source) == held_out and not (distinct and key in seen):
                out.append(ex)
                seen.add(key)
                tries = 0
                continue
            tries += 1
            if tries > 10_000:
                if distinct and out:
                    break
                part = "held-out" if held_out else "training"
                raise ValueError(f"{self.name} with lengths {self.spec.min_len}-{self.spec.max_len} has "
                                 f"too few distinct examples for a {part} set; widen the length range")
        return out


@dataclass
class Batch:
    src: torch.Tensor       # [batch, src_len] token ids, PAD after the end
    src_lens: torch.Tensor  # [batch] real lengths
    trg: torch.Tensor       # [batch, trg_len] <sos> tokens <eos>, PAD after the end

    def __len__(self) -> int:
        return self.src.shape[0]


def make_batch(examples: Sequence[Example], vocab: Vocab) -> Batch:
    srcs = [vocab.encode(ex.source) for ex in examples]
    trgs = [[SOS_ID] + vocab.encode(ex.target) + [EOS_ID] for ex in examples]
    import torch
    return Batch(_pad(srcs), torch.tensor([len(s) for s in srcs]), _pad(trgs))


def _pad(rows: list[list[int]]) -> torch.Tensor:
    import torch
    width = max(len(r) for r in rows)
    return torch.tensor([r + [PAD_ID] * (width - len(r)) for r in rows], dtype=torch.long)


VALIDATION_SEED = 20_240_601  # the held-out validation set is the same for every training run


def validation_set(task: Task, n: int, seed: int = VALIDATION_SEED) -> list[Example]:
    """Up to n distinct held-out examples (fewer only if the held-out part of the space is smaller)."""
    return task.examples(random.Random(seed), n, held_out=True, distinct=True)
