"""Writes a benchmark's figures into docs/benchmarks.md: the text between `<!-- bench:NAME -->` and
`<!-- /bench:NAME -->` is replaced, the rest of the page is left as it is. So no figure is copied by hand.

    from benchdoc import write_section
    write_section("app-start", table)      # raises if the page has no such markers
"""
from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def replace_section(text: str, name: str, body: str) -> str:
    """`text` with the section `name` holding `body` (a ValueError if its markers are missing or repeated)."""
    pattern = re.compile(rf"(<!-- bench:{re.escape(name)} -->\n)(.*?)(<!-- /bench:{re.escape(name)} -->)", re.S)
    found = pattern.findall(text)
    if len(found) != 1:
        raise ValueError(f"docs/benchmarks.md must hold exactly one bench:{name} section (found {len(found)})")
    return pattern.sub(lambda m: m[1] + body.rstrip("\n") + "\n" + m[3], text)


def write_section(name: str, body: str, page: Path = PAGE) -> None:
    page.write_text(replace_section(page.read_text(), name, body))
    print(f"(written to {page.relative_to(page.parent.parent)}, section bench:{name})")


def table(header: tuple[str, ...], rows: list[tuple]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """`python tools/benchdoc.py NAME -- COMMAND...`: run COMMAND (its output shown as it comes), and if it
    succeeds, write what it printed into section NAME as a dated text block."""
    import os
    import subprocess
    import time
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__)
        return 2
    name, command = argv[0], argv[2:]
    when = f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the start"
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=PAGE.parent.parent)
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line.rstrip("\n"))
    if process.wait() != 0:
        print(f"benchdoc: {' '.join(command)} failed (exit {process.returncode}); docs/benchmarks.md unchanged")
        return process.returncode
    when += f", {os.getloadavg()[0]:.1f} at the end (other work on the machine slows every figure alike)"
    write_section(name, f"Measured {when}, by `{'python ' + ' '.join(command[1:]) if command[0].endswith('python') else ' '.join(command)}`:"
                        "\n\n```text\n" + "\n".join(lines) + "\n```")
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
