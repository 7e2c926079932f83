"""The house rules of issue 15, checked so they stay true: a thin entry point, small modules, no invisible
buttons or forged signatures, every private Gradio attribute in one module, a page that builds without torch,
a README that is a front page whose links resolve, and an architecture page that names every module."""
import ast
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

APP_MODULES = sorted((ROOT / "playground").rglob("*.py"))
LIBRARY_MODULES = sorted((ROOT / "seq2seq").glob("*.py"))
MAX_LINES = 400  # "no module in the app package over ~400 lines": lines of code, docstrings and comments aside


def code_lines(path: Path) -> int:
    """Lines that are not blank, comments or the module docstring."""
    tree = ast.parse(path.read_text())
    doc = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) else None
    skip = set(range(doc.lineno, doc.end_lineno + 1)) if doc else set()
    return sum(1 for i, line in enumerate(path.read_text().splitlines(), 1)
               if i not in skip and line.strip() and not line.strip().startswith("#"))


def test_app_py_is_an_entry_point_of_a_few_lines():
    assert code_lines(ROOT / "app.py") <= 6, (ROOT / "app.py").read_text()


def test_no_module_of_the_web_app_is_long():
    long = {p.relative_to(ROOT).as_posix(): n for p in APP_MODULES if (n := code_lines(p)) > MAX_LINES}
    assert not long, f"over {MAX_LINES} lines: {long}"


def test_no_invisible_buttons_forged_signatures_or_swapped_classes():
    for path in APP_MODULES + LIBRARY_MODULES + [ROOT / "app.py"]:
        text = path.read_text()
        where = path.relative_to(ROOT)
        assert not re.search(r"gr\.Button\([^)]*visible=False", text), f"{where}: an invisible button"
        assert "__signature__" not in text, f"{where}: a forged function signature"
        assert not re.search(r"\.__class__\s*=", text), f"{where}: a class swapped at run time"


PRIVATE_GRADIO = re.compile(r"\._queue\b|\bstate_holder\b|\._data\b|api_component|_process_single_file|"
                            r"\.pending_messages_per_session")


def test_private_gradio_attributes_appear_in_one_module_only():
    users = {p.relative_to(ROOT).as_posix() for p in APP_MODULES + [ROOT / "app.py"]
             if PRIVATE_GRADIO.search(p.read_text())}
    assert users == {"playground/gradio_internals.py"}, users


def test_importing_the_app_builds_the_page_and_nothing_else():
    """Start fast: building the page imports no torch (it loads in the background once the server listens),
    starts no process and loads no model."""
    probe = ("import sys, threading, app; import playground.models as m, playground.training as t; "
             "print('torch' in sys.modules, len(m._BUNDLED), t.WORKERS._zygote is None, threading.active_count())")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    torch_imported, loaded, no_zygote, threads = out.stdout.split()
    assert (torch_imported, loaded, no_zygote) == ("False", "0", "True"), out.stdout


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def test_readme_is_a_front_page_and_every_link_resolves():
    readme = ROOT / "README.md"
    assert len(readme.read_text().splitlines()) <= 250
    pages = [readme, *sorted((ROOT / "docs").glob("*.md"))]
    links = {page: [t for t in LINK.findall(page.read_text()) if not (re.match(r"[a-z]+:", t) or t.startswith("#"))]
             for page in pages}
    # the pattern finds the links there are: README's own (the screenshot, the docs pages) at least
    assert len(links[readme]) >= 10 and sum(map(len, links.values())) >= 30, {p.name: len(t) for p, t in links.items()}
    broken = [f"{page.relative_to(ROOT)} → {target}" for page, targets in links.items() for target in targets
              if not (page.parent / target.split("#")[0]).exists()]
    assert not broken, broken


def test_the_architecture_page_names_every_module():
    page = (ROOT / "docs" / "architecture.md").read_text()
    assert "draft" not in page.lower()
    names = [p.relative_to(ROOT / "playground").as_posix() for p in APP_MODULES if p.name != "__init__.py"
             and p.parent.name != "views"] + [p.name for p in LIBRARY_MODULES if p.name != "__init__.py"]
    missing = [n for n in names if n not in page]
    assert not missing, f"docs/architecture.md does not mention {missing}"
