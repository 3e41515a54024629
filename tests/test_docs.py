"""Every ```python block of README.md and docs/*.md runs, so the docs cannot rot.

Blocks of one file run in order, in one namespace, in a fresh temporary directory. A python
block followed directly by a ```text block that starts with the line "output:" must print
exactly the rest of that text block.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
BLOCK = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.S | re.M)


def blocks(path: Path) -> list[tuple[str, str | None, int]]:
    """(code, expected output or None, line number) for each python block of a page."""
    found = [(m.group(1), m.group(2), path.read_text()[: m.start()].count("\n") + 1, m.end(),
              m.start()) for m in BLOCK.finditer(path.read_text())]
    text = path.read_text()
    result = []
    for i, (lang, body, line, end, _) in enumerate(found):
        if lang != "python":
            continue
        expected = None
        if i + 1 < len(found):
            next_lang, next_body, _, _, next_start = found[i + 1]
            between = text[end:next_start]
            if next_lang == "text" and not between.strip() and next_body.startswith("output:\n"):
                expected = next_body[len("output:\n"):]
        result.append((body, expected, line))
    return result


def test_the_readme_has_python_examples():
    assert blocks(ROOT / "README.md")


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for code, expected, line in blocks(page):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(code, f"{page.name}:{line}", "exec"), namespace)
            except Exception as exc:
                raise AssertionError(f"{page.name}, block at line {line} failed: {exc!r}") from exc
        if expected is not None:
            assert out.getvalue().strip() == expected.strip(), f"{page.name}, line {line}"


# Commands whose output is the same on every machine: their ```console examples in
# docs/cli.md must match what the command prints now.
DETERMINISTIC = ("tinygrad-xor --help", "tinygrad-xor train ", "tinygrad-xor check")


def console_examples(path: Path) -> list[tuple[str, str]]:
    """(command line, printed output) for each ```console block that starts with `$ `."""
    examples = []
    for m in BLOCK.finditer(path.read_text()):
        if m.group(1) == "console" and m.group(2).startswith("$ "):
            first, _, rest = m.group(2).partition("\n")
            examples.append((first[2:].strip(), rest))
    return examples


def test_cli_page_outputs_match_the_commands(capsys, monkeypatch):
    from tinygrad_xor.cli import main

    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps --help to the terminal's width
    checked = 0
    for command, expected in console_examples(ROOT / "docs" / "cli.md"):
        if not command.startswith(DETERMINISTIC):
            continue
        argv = command.split()[1:]
        monkeypatch.setattr("sys.argv", ["tinygrad-xor", *argv])
        try:
            status = main(argv)
        except SystemExit as exc:  # --help exits through argparse
            status = exc.code
        assert status == 0, command
        assert capsys.readouterr().out.strip() == expected.strip(), command
        checked += 1
    assert checked >= 4
