"""The package's import structure: what importing it costs, and that its modules form no cycle.

`import seq2seq` must stay cheap (no torch, no gradio: `python -m seq2seq --help` relies on it) and must never
reach into the web app; the modules inside it import each other in one direction only (counting imports inside
functions too, which a cycle can hide behind; `if TYPE_CHECKING:` blocks are annotations, not imports); and
`seq2seq.train` is the training function however the package was imported. Checked in fresh processes where
what this one has already imported would hide the answer.
"""
from __future__ import annotations

import ast
import inspect
import subprocess
import sys

import pytest

import seq2seq
from tests.helpers import ROOT

PACKAGE = ROOT / "seq2seq"
HEAVY = ("torch", "gradio", "playground")


def fresh(code: str) -> str:
    """Run `code` in a new interpreter at the repository's root; its stdout (it fails the test if it fails)."""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def loaded_after(statement: str) -> list[str]:
    """Which of HEAVY (or their submodules) a fresh interpreter has loaded after `statement`."""
    out = fresh(f"import sys\n{statement}\n"
                f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))")
    return eval(out)  # a printed list of strings


@pytest.mark.parametrize("statement", ["import seq2seq", "import seq2seq.controls",
                                       "from seq2seq.controls import SETTINGS, DECODING, read",
                                       "import seq2seq.config, seq2seq.tasks"])
def test_importing_the_package_and_its_table_loads_no_torch_gradio_or_playground(statement):
    assert loaded_after(statement) == []


# ---------------------------------------------------------------- the module graph


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def sibling_imports(source: str, siblings: set[str], exported_by: dict[str, str]) -> set[str]:
    """The sibling modules `source` (a module of the package) imports anywhere, in functions too, leaving out
    `if TYPE_CHECKING:` blocks (their `else` still counts). `from . import x` / `from seq2seq import x` count as
    x's module when x is a module, else as the module the package exports x from (the lazy exports import it)."""
    found: set[str] = set()

    def named(name: str) -> str | None:
        return name if name in siblings else exported_by.get(name)

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.orelse:
                    visit_one(stmt)
                continue
            visit_one(child)

    def visit_one(node: ast.AST) -> None:
        if isinstance(node, ast.ImportFrom):
            relative = node.level == 1
            absolute = node.level == 0 and (node.module or "").split(".")[0] == "seq2seq"
            module = (node.module or "") if relative else ".".join((node.module or "").split(".")[1:])
            if relative or absolute:
                if module:
                    found.add(module.split(".")[0])
                else:
                    found.update(filter(None, (named(alias.name) for alias in node.names)))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "seq2seq" and len(parts) > 1:
                    found.add(parts[1])
        visit(node)

    visit(ast.parse(source))
    return {name for name in found if name in siblings}


def module_graph() -> dict[str, set[str]]:
    siblings = {path.stem for path in PACKAGE.glob("*.py")}
    exported_by = dict(seq2seq._MODULE_OF)
    return {path.stem: sibling_imports(path.read_text(encoding="utf-8"), siblings, exported_by) - {path.stem}
            for path in sorted(PACKAGE.glob("*.py"))}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := walk(start)):
            return cycle
    return None


def test_the_walk_sees_imports_inside_functions_and_skips_type_checking_blocks():
    source = ("from typing import TYPE_CHECKING\nfrom .config import X\nif TYPE_CHECKING:\n    from .model import M\n"
              "def f():\n    from .transformer import T\n    import seq2seq.decode\n"
              "    from seq2seq import strategy, train\n")
    siblings = {"config", "model", "transformer", "decode", "strategy", "training"}
    assert sibling_imports(source, siblings, {"train": "training"}) == \
        {"config", "transformer", "decode", "strategy", "training"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_modules_of_the_package_import_each_other_without_a_cycle():
    graph = module_graph()
    cycle = find_cycle(graph)
    edges = "; ".join(f"{name} -> {', '.join(sorted(deps))}" for name, deps in graph.items() if deps)
    assert cycle is None, f"import cycle: {' -> '.join(cycle)} (the graph: {edges})"
    print(f"seq2seq's import graph: {edges}")
    assert "transformer" not in graph["model"] and "model" in graph["transformer"]  # builder.py chooses
    assert {"model", "transformer"} <= graph["builder"]


# ---------------------------------------------------------------- the exports


def test_every_exported_name_resolves():
    for name in seq2seq.__all__:
        assert getattr(seq2seq, name) is not None, name
    assert {"count_parameters", "Strategy", "what_if", "accuracy_by_length", "beam_search", "NEVER_CHOSEN",
            "build_model", "DoneEvent", "Seq2Seq", "train"} <= set(seq2seq.__all__)
    assert set(seq2seq.__all__) <= set(dir(seq2seq))
    with pytest.raises(AttributeError):
        seq2seq.no_such_name  # noqa: B018


def test_seq2seq_train_is_the_function_whatever_was_imported_first():
    firsts = ["import seq2seq.training", "from seq2seq import train", "import seq2seq; seq2seq.train",
              "from seq2seq.training import train"]
    check = ("\nimport inspect, types, seq2seq, seq2seq.training\nfrom seq2seq import train\n"
             "print(inspect.isfunction(seq2seq.train), train is seq2seq.training.train is seq2seq.train,\n"
             "      type(seq2seq) is types.ModuleType, inspect.ismodule(seq2seq.training))")
    # a fresh interpreter each (the order of the imports is the point), all at once: each imports torch
    processes = {first: subprocess.Popen([sys.executable, "-c", first + check], cwd=ROOT, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True) for first in firsts}
    for first, process in processes.items():
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, (first, err)
        assert out.split() == ["True"] * 4, (first, out)


def test_the_package_module_is_a_plain_module_here_too():
    import types

    import seq2seq.training
    assert type(seq2seq) is types.ModuleType
    assert inspect.isfunction(seq2seq.train) and seq2seq.train is seq2seq.training.train
