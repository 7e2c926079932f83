"""Seeded generators of realistic text pairs: dates, numbers in words and SCAN commands.

Each generator draws (source text, target text) pairs as a person would type them and knows the right answer
for any source typed in its language, so the app can train on drawn pairs and mark what a visitor types:

- `dates` (chars → chars): a date as people write it → ISO 8601. Numeric forms are read DAY first
  (03/04/2021 is 3 April 2021), the European convention; US month-first forms are never drawn (they would
  make the same source mean two dates).
- `numbers` (words → chars): 0-999,999 in British English words → its digits.
- `commands` (words → words): SCAN (Lake & Baroni 2018) commands → action sequences.

A generator has `name`, `description`, `source_tokens` and `target_tokens` ("chars": every character is a
token, a space too; "words": tokens are separated by whitespace), `sample(rng)`, `solve(source)` (the target,
or None when the source is not a sentence of the task) and `source_symbols()` / `target_symbols()` (the
closed, sorted set of tokens each side can ever contain). Standard library only, so it imports in
milliseconds (no torch).
"""
from __future__ import annotations

import datetime
import functools
import random
import re
from collections.abc import Callable
from typing import Protocol

CHARS = "chars"
WORDS = "words"


class Generator(Protocol):
    """What every generator offers (see the module docstring)."""

    name: str
    description: str
    source_tokens: str
    target_tokens: str
    min_len: int          # tokens in the shortest and longest source it writes (the task's length range),
    max_len: int
    max_target_len: int   # and in the longest target

    def sample(self, rng: random.Random) -> tuple[str, str]: ...

    def solve(self, source: str) -> str | None: ...

    def source_symbols(self) -> tuple[str, ...]: ...

    def target_symbols(self) -> tuple[str, ...]: ...


def tokenize(text: str, tokens: str) -> list[str]:
    """`text` split into tokens the way `tokens` ("chars" or "words") says."""
    if tokens == CHARS:
        return list(text)
    if tokens == WORDS:
        return text.split()
    raise ValueError(f"tokens must be {CHARS!r} or {WORDS!r}, not {tokens!r}")


# ---------------------------------------------------------------- dates

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")  # date.weekday() order
FIRST_DATE = datetime.date(1950, 1, 1)
LAST_DATE = datetime.date(2049, 12, 31)
# the 3-letter abbreviations ("Mar", "Wed") and full names, lower-cased, to their number (month 1-12, weekday 0-6)
_MONTH_NUMBER = {name.lower(): number for number, full in enumerate(MONTHS, 1) for name in (full, full[:3])}
_WEEKDAY_NUMBER = {name.lower(): number for number, full in enumerate(WEEKDAYS) for name in (full, full[:3])}


def ordinal(day: int) -> str:
    """`day` with its English ordinal suffix: 1st 2nd 3rd 4th ... 11th 12th 13th ... 21st 22nd 23rd ... 31st."""
    if day % 100 in (11, 12, 13):
        return f"{day}th"
    return f"{day}{({1: 'st', 2: 'nd', 3: 'rd'}).get(day % 10, 'th')}"


def _month(day: datetime.date) -> str:
    return MONTHS[day.month - 1]


def _weekday(day: datetime.date) -> str:
    return WEEKDAYS[day.weekday()]


# Every way `sample` writes a date, by name; the name says the shape, for 3 March 2021 (a Wednesday).
_RENDER: dict[str, Callable[[datetime.date], str]] = {
    "d month yyyy": lambda d: f"{d.day} {_month(d)} {d.year}",  # 3 March 2021
    "dd month yyyy": lambda d: f"{d.day:02} {_month(d)} {d.year}",  # 03 March 2021
    "month d, yyyy": lambda d: f"{_month(d)} {d.day}, {d.year}",  # March 3, 2021
    "month dth, yyyy": lambda d: f"{_month(d)} {ordinal(d.day)}, {d.year}",  # March 3rd, 2021
    "dth of month yyyy": lambda d: f"{ordinal(d.day)} of {_month(d)} {d.year}",  # 3rd of March 2021
    "mon d, yyyy": lambda d: f"{_month(d)[:3]} {d.day}, {d.year}",  # Mar 3, 2021
    "d mon yyyy": lambda d: f"{d.day} {_month(d)[:3]} {d.year}",  # 3 Mar 2021
    "weekday d month yyyy": lambda d: f"{_weekday(d)} {d.day} {_month(d)} {d.year}",  # Wednesday 3 March 2021
    "wkd, d mon yyyy": lambda d: f"{_weekday(d)[:3]}, {d.day} {_month(d)[:3]} {d.year}",  # Wed, 3 Mar 2021
    "weekday, month d, yyyy": lambda d: f"{_weekday(d)}, {_month(d)} {d.day}, {d.year}",  # Wednesday, March 3, 2021
    "dd/mm/yyyy": lambda d: f"{d.day:02}/{d.month:02}/{d.year}",  # 03/03/2021
    "d/m/yy": lambda d: f"{d.day}/{d.month}/{d.year % 100:02}",  # 3/3/21
    "dd.mm.yyyy": lambda d: f"{d.day:02}.{d.month:02}.{d.year}",  # 03.03.2021
    "yyyy-mm-dd": lambda d: d.isoformat(),  # 2021-03-03
    "yyyymmdd": lambda d: f"{d.year:04}{d.month:02}{d.day:02}",  # 20210303
    "d month yyyy lower": lambda d: f"{d.day} {_month(d).lower()} {d.year}",  # 3 march 2021
    "MONTH D YYYY upper": lambda d: f"{_month(d).upper()} {d.day} {d.year}",  # MARCH 3 2021
}
DATE_FORMATS: tuple[str, ...] = tuple(_RENDER)

# What `solve` reads, case-insensitively, with any whitespace around and between words. A weekday (full or
# "Wed") may lead, followed by a comma or a space; months are full or 3-letter; a day may carry its ordinal
# suffix, which must be the right one, and "of" may follow an ordinal; a comma may stand before the year and,
# month first, after the day. Text forms take 4-digit years; numeric ones are day first (d/m/yy, dd.mm.yyyy,
# dd-mm-yyyy: one separator throughout) or year first (yyyy-mm-dd, yyyymmdd).
_GAP = r"(?:\s*,\s*|\s+)"  # a comma or a space between words
_WEEKDAY = rf"(?:(?P<weekday>[a-z]+){_GAP})?"
_DAY = r"(?P<day>\d{1,2})(?:(?P<suffix>st|nd|rd|th)(?:\s+of)?)?"
_DATE_PATTERNS = tuple(re.compile(rf"\s*{pattern}\s*", re.IGNORECASE | re.ASCII) for pattern in (
    rf"{_WEEKDAY}{_DAY}\s+(?P<month>[a-z]+){_GAP}(?P<year>\d{{4}})",
    rf"{_WEEKDAY}(?P<month>[a-z]+)\s+{_DAY}{_GAP}(?P<year>\d{{4}})",
    r"(?P<day>\d{1,2})(?P<sep>[/.-])(?P<month>\d{1,2})(?P=sep)(?P<year>\d{2}|\d{4})",
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})",
    r"(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})",
))


def _full_year(digits: str) -> int:
    """A written year as a number: two digits 50-99 are 1950-1999 and 00-49 are 2000-2049."""
    year = int(digits)
    if len(digits) == 2:
        return year + (1900 if year >= 50 else 2000)
    return year


def _read_date(match: re.Match[str]) -> datetime.date | None:
    """The date a pattern's match names, or None if it names none (31 February, a wrong weekday or suffix)."""
    fields = match.groupdict()
    month = fields["month"]
    number = int(month) if month.isdigit() else _MONTH_NUMBER.get(month.lower())
    if number is None:
        return None
    try:
        day = datetime.date(_full_year(fields["year"]), number, int(fields["day"]))
    except ValueError:
        return None
    suffix, weekday = fields.get("suffix"), fields.get("weekday")
    if suffix and ordinal(day.day) != f"{day.day}{suffix.lower()}":
        return None
    if weekday and _WEEKDAY_NUMBER.get(weekday.lower()) != day.weekday():
        return None
    return day


def _parse_date(source: str) -> tuple[re.Match[str], datetime.date] | None:
    """The match and the date of a source `solve` reads, or None."""
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(source)
        if match:
            day = _read_date(match)
            return (match, day) if day else None
    return None


class Dates:
    """A date as people write it → ISO 8601 (YYYY-MM-DD); numeric forms are day first (03/04/2021 is 3 April).

    `sample` draws a date uniformly from 1950-01-01 to 2049-12-31 and writes it in one of DATE_FORMATS, chosen
    uniformly; weekdays are the date's true one. `solve` reads those forms and their near relatives (see
    _DATE_PATTERNS) for any year 1-9999, and rejects dates that do not exist or name the wrong weekday.
    """

    name = "dates"
    description = "a date as people write it → ISO 8601 (YYYY-MM-DD); numeric dates are day first (03/04 is 3 April)"
    source_tokens = CHARS
    target_tokens = CHARS
    min_len, max_len, max_target_len = 6, 29, 10  # "1/1/50", "Wednesday, September 30, 2021"; "2021-03-03"

    def draw(self, rng: random.Random) -> tuple[str, datetime.date]:
        """A format's name and a date, as `sample` draws them."""
        fmt = rng.choice(DATE_FORMATS)
        return fmt, datetime.date.fromordinal(rng.randint(FIRST_DATE.toordinal(), LAST_DATE.toordinal()))

    def render(self, day: datetime.date, fmt: str) -> str:
        """`day` written in the format named `fmt` (one of DATE_FORMATS)."""
        return _RENDER[fmt](day)

    def sample(self, rng: random.Random) -> tuple[str, str]:
        fmt, day = self.draw(rng)
        return self.render(day, fmt), day.isoformat()

    def solve(self, source: str) -> str | None:
        parsed = _parse_date(source)
        return parsed[1].isoformat() if parsed else None

    def month_span(self, source: str) -> tuple[int, int] | None:
        """Where the month (name, abbreviation or digits) stands in `source`: [start, end), or None if `solve`
        reads no date in it. For measuring where attention looks."""
        parsed = _parse_date(source)
        return parsed[0].span("month") if parsed else None

    def day_span(self, source: str) -> tuple[int, int] | None:
        """Where the day's digits stand in `source` (without an ordinal suffix), or None if `solve` reads no date."""
        parsed = _parse_date(source)
        return parsed[0].span("day") if parsed else None

    def year_span(self, source: str) -> tuple[int, int] | None:
        """Where the year's digits stand in `source` (two or four), or None if `solve` reads no date in it."""
        parsed = _parse_date(source)
        return parsed[0].span("year") if parsed else None

    def weekday_span(self, source: str) -> tuple[int, int] | None:
        """Where the weekday stands in `source`: [start, end), or None if it names none or no date."""
        parsed = _parse_date(source)
        return parsed[0].span("weekday") if parsed and parsed[0].groupdict().get("weekday") else None

    def source_symbols(self) -> tuple[str, ...]:
        # month and weekday names in title case, months in lower and upper case too (the two case formats; no
        # format writes a weekday so, and no month has a "w"), the ordinal suffixes and "of", digits and the
        # punctuation of the numeric forms
        months = "".join(MONTHS)
        text = months + "".join(WEEKDAYS) + months.lower() + months.upper() + "stndrh of0123456789,/.-"
        return tuple(sorted(set(text)))

    def target_symbols(self) -> tuple[str, ...]:
        return tuple(sorted("0123456789-"))


# ---------------------------------------------------------------- numbers

_UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
          "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
# 0-99 as one word each: "zero" ... "nineteen", "twenty", "twenty-one" ... "ninety-nine"
_BELOW_100 = tuple(_UNITS[n] if n < 20 else _TENS[n // 10] + (f"-{_UNITS[n % 10]}" if n % 10 else "")
                   for n in range(100))
_WORD_VALUE = {word: n for n, word in enumerate(_BELOW_100)}
MAX_NUMBER = 999_999


def _below_1000(n: int) -> str:
    """1-999 in words: "forty-two", "three hundred", "three hundred and twelve"."""
    hundreds, rest = divmod(n, 100)
    if not hundreds:
        return _BELOW_100[rest]
    return f"{_UNITS[hundreds]} hundred" + (f" and {_BELOW_100[rest]}" if rest else "")


def number_words(n: int) -> str:
    """0-999,999 in British English words, the one form `Numbers.solve` reads: "zero", "forty-two", "three hundred
    and twelve", "one thousand and five", "two thousand", "one hundred and ten thousand"."""
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"{n} is outside 0-{MAX_NUMBER}")
    if n < 100:
        return _BELOW_100[n]
    thousands, rest = divmod(n, 1000)
    if not thousands:
        return _below_1000(rest)
    head = f"{_below_1000(thousands)} thousand"
    if not rest:
        return head
    return f"{head} and {_BELOW_100[rest]}" if rest < 100 else f"{head} {_below_1000(rest)}"


def _read_number(words: list[str]) -> int | None:
    """The value of `words` read loosely (word values added, "hundred" and "thousand" multiply, "and" skipped),
    or None if a word is not a number word or it passes MAX_NUMBER; `Numbers.solve` keeps it only if `words` is
    its canonical form."""
    total = current = 0
    for word in words:
        if word == "thousand":
            total, current = (total + current) * 1000, 0
        elif word == "hundred":
            current *= 100
        elif word in _WORD_VALUE:
            current += _WORD_VALUE[word]
        elif word != "and":
            return None
        if total + current > MAX_NUMBER:  # no sentence of the task; and a long "thousand thousand ..." stays cheap
            return None
    return total + current


class Numbers:
    """0-999,999 in British English words → its digits ("three hundred and twelve" → "312").

    `sample` draws the number of digits uniformly from 1-6, then the number uniformly among those with that many
    digits (0 counts as one digit), so small numbers are as common as large ones. `solve` is strict: it reads
    exactly the canonical form `number_words` writes ("and" after hundred and before a last part below 100,
    hyphenated tens as one word, "zero" for 0), in any case and with any whitespace; "a hundred", "one hundred
    twelve" or "fourty" are not sentences of the task.
    """

    name = "numbers"
    description = "a number 0–999,999 in British English words → its digits (\"forty-two\" → 42)"
    source_tokens = WORDS
    target_tokens = CHARS
    min_len, max_len, max_target_len = 1, 9, 6  # "zero"; "seven hundred and seventy-seven thousand seven ..."; 999999

    def sample(self, rng: random.Random) -> tuple[str, str]:
        digits = rng.randint(1, 6)
        n = rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10 ** digits - 1)
        return number_words(n), str(n)

    def solve(self, source: str) -> str | None:
        words = source.lower().split()
        n = _read_number(words)
        if n is None or number_words(n) != " ".join(words):
            return None
        return str(n)

    def source_symbols(self) -> tuple[str, ...]:
        return tuple(sorted((*_BELOW_100, "hundred", "thousand", "and")))

    def target_symbols(self) -> tuple[str, ...]:
        return tuple("0123456789")


# ---------------------------------------------------------------- commands (SCAN)

_ACTIONS = {"walk": "WALK", "look": "LOOK", "run": "RUN", "jump": "JUMP"}  # U
_TURNS = {"left": "LTURN", "right": "RTURN"}
_REPEATS = {"twice": 2, "thrice": 3}
_CONJUNCTIONS = ("and", "after")


def _verb_phrases() -> tuple[str, ...]:
    """Every V of SCAN's grammar: U, D (U left/right, turn left/right), and D[1] opposite/around D[2]; 34."""
    subjects = (*_ACTIONS, "turn")
    return (*_ACTIONS, *(f"{subject} {direction}" for subject in subjects for direction in _TURNS),
            *(f"{subject} {how} {direction}" for how in ("opposite", "around") for subject in subjects
              for direction in _TURNS))


_PHRASES = tuple(f"{verb}{repeat}" for verb in _verb_phrases() for repeat in ("", " twice", " thrice"))  # every S
N_COMMANDS = len(_PHRASES) * (1 + len(_CONJUNCTIONS) * len(_PHRASES))  # C: S, S and S, S after S: 20,910


@functools.cache
def all_commands() -> tuple[str, ...]:
    """Every command SCAN's grammar generates, sorted: 20,910 distinct strings (the grammar is unambiguous)."""
    joined = (f"{first} {conjunction} {second}" for conjunction in _CONJUNCTIONS for first in _PHRASES
              for second in _PHRASES)
    return tuple(sorted((*_PHRASES, *joined)))


def _verb_actions(words: list[str]) -> list[str] | None:
    """The actions of a V ("jump", "turn left", "walk around right"), or None if `words` is not one."""
    subject, *rest = words
    if subject not in _ACTIONS and subject != "turn":
        return None
    action = [_ACTIONS[subject]] if subject in _ACTIONS else []
    if not rest:
        return action if action else None  # "turn" alone is no command
    *how, direction = rest
    if direction not in _TURNS or how not in ([], ["opposite"], ["around"]):
        return None
    step = [_TURNS[direction], *action]
    if how == ["opposite"]:
        return [_TURNS[direction], *step]
    return step * 4 if how == ["around"] else step


def _phrase_actions(words: list[str]) -> list[str] | None:
    """The actions of an S (a V, maybe followed by twice or thrice), or None if `words` is not one."""
    if not words:
        return None
    times = _REPEATS.get(words[-1], 1)
    verb = words[:-1] if times > 1 else words
    actions = _verb_actions(verb) if verb else None
    return actions * times if actions else None


class Commands:
    """SCAN (Lake & Baroni 2018): a navigation command → its actions ("jump twice and walk left" → "JUMP JUMP LTURN
    WALK").

    The grammar and meaning are SCAN's: C → S and S | S after S | S; S → V twice | V thrice | V; V → D[1] opposite
    D[2] | D[1] around D[2] | D | U; D → U left | U right | turn left | turn right; U → walk | look | run | jump.
    "x1 and x2" does x1 then x2, "x1 after x2" does x2 then x1; "opposite" turns twice before acting, "around"
    turns and acts four times. Actions are written WALK LOOK RUN JUMP LTURN RTURN (SCAN's without the I_ prefix).
    `sample` draws uniformly among all 20,910 commands; `solve` reads any of them in any case and whitespace.
    """

    name = "commands"
    description = "a SCAN navigation command → its actions (\"jump twice and walk left\" → JUMP JUMP LTURN WALK)"
    source_tokens = WORDS
    target_tokens = WORDS
    min_len, max_len, max_target_len = 1, 9, 48  # "walk"; "jump around left thrice and walk around right thrice"

    def sample(self, rng: random.Random) -> tuple[str, str]:
        # uniform over all commands without listing them: one number picks the command, read as digits in base
        # len(_PHRASES): a lone S, or (conjunction, first S, second S)
        index, n = rng.randrange(N_COMMANDS), len(_PHRASES)
        if index < n:
            source = _PHRASES[index]
        else:
            conjunction, pair = divmod(index - n, n * n)
            first, second = divmod(pair, n)
            source = f"{_PHRASES[first]} {_CONJUNCTIONS[conjunction]} {_PHRASES[second]}"
        target = self.solve(source)
        assert target is not None, source  # every drawn command is one solve reads
        return source, target

    def solve(self, source: str) -> str | None:
        words = source.lower().split()
        conjunctions = [i for i, word in enumerate(words) if word in _CONJUNCTIONS]
        if len(conjunctions) > 1:
            return None
        if not conjunctions:
            actions = _phrase_actions(words)
            return " ".join(actions) if actions else None
        i = conjunctions[0]
        first, second = _phrase_actions(words[:i]), _phrase_actions(words[i + 1:])
        if first is None or second is None:
            return None
        return " ".join(first + second if words[i] == "and" else second + first)

    def source_symbols(self) -> tuple[str, ...]:
        return tuple(sorted({*_ACTIONS, "turn", *_TURNS, "opposite", "around", *_REPEATS, *_CONJUNCTIONS}))

    def target_symbols(self) -> tuple[str, ...]:
        return tuple(sorted({*_ACTIONS.values(), *_TURNS.values()}))


DATES = Dates()
NUMBERS = Numbers()
COMMANDS = Commands()
GENERATORS: dict[str, Generator] = {generator.name: generator for generator in (DATES, NUMBERS, COMMANDS)}
