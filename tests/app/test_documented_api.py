"""The API exactly as README.md and docs/api.md show it: their gradio_client example is read from the Markdown and
run, statement by statement, against the tier's shared server, and each value is checked against what its
comment says; the parameter tables of docs/api.md are checked against the server's own description of its
endpoints. A change to the docs that breaks an example, or to the app that breaks the docs, fails here.
"""
from __future__ import annotations

import ast
import contextlib
import io
import re
import tokenize
from pathlib import Path

import pytest

from tests.helpers import CHECKPOINT, ROOT, client

DOCS = [ROOT / "README.md", ROOT / "docs" / "api.md"]
DOCUMENTED_URL = "http://127.0.0.1:7860/"  # where `python app.py` listens by default; the test's server is elsewhere
API_MD = (ROOT / "docs" / "api.md").read_text()


def python_example(page: Path) -> str:
    """The page's fenced Python block that calls the app with gradio_client (there is one)."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", page.read_text(), re.S) if "gradio_client" in b]
    assert len(blocks) == 1, f"{page.name}: {len(blocks)} gradio_client examples"
    return blocks[0]


def statements(code: str) -> list[tuple[str, ast.stmt, list[str]]]:
    """Each top-level statement: its source, its node, and the comments on its lines (in order)."""
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    return [(ast.get_source_segment(code, node), node,
             [comments[line] for line in range(node.lineno, node.end_lineno + 1) if line in comments])
            for node in ast.parse(code).body]


def pattern(text: str, numbers: bool = False) -> re.Pattern:
    """A documented value as a pattern: "..." or "…" stands for anything (with the punctuation just before it, which
    belongs to what was left out), and with `numbers`, every figure for any figure."""
    parts = re.split(r"\s*(?:\.\.\.|…)", text)
    escaped = [re.escape(part.rstrip(";,.") if i < len(parts) - 1 else part) for i, part in enumerate(parts)]
    if numbers:
        escaped = [re.sub(r"\d(?:[\d,]|\\\.)*", r"[\\d,.]+", part) for part in escaped]
    return re.compile(".*".join(escaped), re.S)


def quoted(comment: str) -> str | None:
    """The value a comment quotes ('...' at its start, closed or left open), or None for a comment in words."""
    found = re.match(r"'([^']*)'?", comment)
    return found[1] if found else None


def stop_answers() -> set[str]:
    """What docs/api.md says /stop returns (its list item: "It returns `"Stopping…"`, or ...")."""
    item = re.search(r"^- `/stop\(\)`(.*?)(?=^- |\n\n)", API_MD, re.S | re.M)[1]
    answers = set(re.findall(r'`"([^"`]+)"`', item.split("returns", 1)[1]))
    assert len(answers) >= 2, item
    return answers


def check_value(source: str, value, comment: str | None) -> None:
    """The value of one expression of the example, against what its comment says."""
    said = quoted(comment) if comment else None
    if said is not None:
        if "..." in said or "…" in said or not comment.startswith(f"'{said}'"):
            assert isinstance(value, str) and pattern(said).match(value), (source, value)
        else:
            assert value == said, (source, value)
    elif 'api_name="/stop"' in source:  # "stops this client's training; the model stays"
        assert value in stop_answers(), value
    elif "(SVG)" in (comment or ""):
        assert isinstance(value, str) and "<svg" in value, (source, value[:200])
    elif 'api_name="/what_if"' in source:  # "the decoding with 7 forced at step 2, beside the original"
        token, step = re.search(r"with (\S+) forced at step (\d+)", comment).groups()
        assert f"what if: {token} at step {step}" in value and "as decoded" in value, value[:300]
    elif 'api_name="/compare"' in source:  # both models' panels, the by-length chart's data and its note
        panel_a, panel_b, chart, note = value
        assert 'id="compare-a-body"' in panel_a and 'id="compare-b-body"' in panel_b
        assert chart["columns"] == ["source length", "exact match (%)", "model"] and chart["data"]
        assert "was trained on lengths" in note
    else:
        raise AssertionError(f"no check for {source!r} ({comment!r}): say in its comment what it returns")


def distinct_examples() -> dict[str, list[str]]:
    """Each different example, with the pages that show it (one run for an example two pages share)."""
    examples: dict[str, list[str]] = {}
    for page in DOCS:
        examples.setdefault(python_example(page), []).append(page.name)
    return examples


EXAMPLES = distinct_examples()


@pytest.mark.parametrize("code", EXAMPLES, ids=["+".join(pages) for pages in EXAMPLES.values()])
def test_the_documented_example_runs_as_written(code, server):
    page = Path(EXAMPLES[code][0])
    assert code.count(DOCUMENTED_URL) == 1, code
    code = code.replace(DOCUMENTED_URL, server.url)
    namespace: dict = {}
    checked = 0
    for source, node, comments in statements(code):
        if 'api_name="/load"' in source:
            # the file the example loads is the one its /train run downloaded
            name = re.search(r'handle_file\("([^"]+)"\)', source)[1]
            downloaded = Path(namespace["update"][CHECKPOINT])
            assert downloaded.name == name, (downloaded.name, name)
            source = source.replace(f'"{name}"', repr(str(downloaded)))
        if isinstance(node, ast.Expr):
            value = eval(compile(source, page.name, "eval"), namespace)
            check_value(source, value, comments[-1] if comments else None)
            checked += 1
            continue
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(source, page.name, "exec"), namespace)
        if isinstance(node, ast.For):  # the stream: what it prints is what the print's comment shows
            lines = printed.getvalue().splitlines()
            shown = pattern(comments[-1], numbers=True)
            assert any(shown.match(line) for line in lines), (comments[-1], lines)
            finished = re.search(r"`(Done: [^`]*)` at the end", API_MD)[1]
            assert pattern(finished).match(lines[-1]), (finished, lines[-1])
            checked += 1
    calls = sum(isinstance(node, (ast.Expr, ast.For)) for _, node, _ in statements(code))
    assert checked == calls >= 8, (checked, calls)  # every call of the example was checked


def parameter_tables() -> dict[str, list[tuple[str, object]]]:
    """docs/api.md's parameter tables: endpoint -> [(parameter, its default, or REQUIRED)], in order."""
    tables: dict[str, list[tuple[str, object]]] = {}
    for endpoint, section in re.findall(r"^### `(/\w+)`[^\n]*\n(.*?)(?=^### |^## )", API_MD, re.S | re.M):
        rows = re.findall(r"^\| [\d–]+ \| ([^|]+) \| ([^|]+) \|", section, re.M)
        if not rows:
            continue
        params = []
        for names, default in rows:
            default = default.strip()
            for name in re.findall(r"`(\w+)`", names):
                if default.startswith("required"):
                    params.append((name, REQUIRED))
                elif default.startswith("as for `/"):
                    other = re.match(r"as for `(/\w+)`", default)[1]
                    params.append((name, dict(tables[other])[name]))
                else:
                    params.append((name, ast.literal_eval(default.strip("`"))))
        tables[endpoint] = params
    return tables


REQUIRED = object()


def test_the_parameter_tables_and_signatures_are_the_endpoints_parameters(server):
    tables = parameter_tables()
    assert sorted(tables) == ["/change", "/compare", "/data", "/decode", "/encoder_map", "/train", "/what_if"], \
        sorted(tables)
    endpoints = client(server.url).view_api(print_info=False, return_format="dict")["named_endpoints"]
    documented = re.findall(r"`(/\w+)`", API_MD.split("## Examples")[0])  # the first paragraph names them all
    assert sorted(endpoints) == sorted(set(documented)) == sorted(
        ["/data", "/train", "/stop", "/load", "/decode", "/what_if", "/compare", "/encoder_map", "/pause", "/resume",
         "/one_step", "/slow", "/change", "/runs", "/make_current", "/rename_run", "/delete_run"])
    for endpoint, documented in tables.items():
        actual = [(p["parameter_name"], p["parameter_default"] if p["parameter_has_default"] else REQUIRED)
                  for p in endpoints[endpoint]["parameters"]]
        assert [n for n, _ in actual] == [n for n, _ in documented], endpoint  # the names, in order
        for (name, default), (_, doc_default) in zip(actual, documented):
            assert default is doc_default if doc_default is REQUIRED else default == doc_default, \
                (endpoint, name, default, doc_default)
    # README's one-line signatures ("`/what_if(source, step, token, ...)`") name the first parameters, in order
    readme = (ROOT / "README.md").read_text()
    signatures = re.findall(r"`(/\w+)\(([^)`]*)\)`", readme)
    assert {name for name, _ in signatures} >= {"/load", "/decode", "/what_if", "/compare"}, signatures
    for endpoint, listed in signatures:
        names = [n.strip() for n in listed.split(",") if n.strip() and n.strip() != "..."]
        assert [p["parameter_name"] for p in endpoints[endpoint]["parameters"]][:len(names)] == names, endpoint
