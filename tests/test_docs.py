"""Every ```python block of README.md and docs/*.md runs, so the docs cannot rot.

Blocks of one file run in order, in one namespace, in a fresh temporary directory. A python
block followed directly by a block titled "Output" (```` ```text title="Output" ````, shown
by MkDocs material as a titled block) must print exactly what that block shows.

Every line of every code block fits the page of the docs site: at most WIDTH columns. An
output line that a program prints wider than that is shown folded (`fold`: broken at spaces,
each continuation indented 4 more columns than the line), and the outputs are compared folded
the same way, so they stay checked to the character. In a ```console example, a line "..."
stands for the lines left out (at least one).
"""

from __future__ import annotations

import contextlib
import io
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
IDS = [str(p.relative_to(ROOT)) for p in PAGES]
SLOW_PAGES = {"docs/checking-gradients.md", "docs/performance.md"}  # seconds each
BLOCK = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```\s*$", re.S | re.M)
OUTPUT_TITLE = 'title="Output"'
WIDTH = 88  # columns of a code block on the site (docs/stylesheets/extra.css makes room)


def fold(text: str, width: int = WIDTH) -> str:
    """``text`` as the docs show it: each line wider than ``width`` broken at spaces."""
    lines = []
    for line in text.splitlines():
        if len(line) <= width:
            lines.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip(" ")) + 4)
        lines.extend(textwrap.wrap(line, width, subsequent_indent=indent,
                                   break_long_words=False, break_on_hyphens=False))
    return "\n".join(lines)


def code_blocks(path: Path) -> list[tuple[str, str, str, int, int, int]]:
    """(language, info after it, body, line number, start, end) of each fenced block."""
    text = path.read_text()
    return [(m.group(1), m.group(2).strip(), m.group(3), text[: m.start()].count("\n") + 1,
             m.start(), m.end()) for m in BLOCK.finditer(text)]


def is_output(lang: str, info: str) -> bool:
    return lang == "text" and OUTPUT_TITLE in info


def blocks(path: Path) -> list[tuple[str, str | None, int]]:
    """(code, expected output or None, line number) for each python block of a page."""
    text = path.read_text()
    found = code_blocks(path)
    result = []
    for i, (lang, _, body, line, _, end) in enumerate(found):
        if lang != "python":
            continue
        expected = None
        if i + 1 < len(found):
            next_lang, next_info, next_body, _, next_start, _ = found[i + 1]
            if is_output(next_lang, next_info) and not text[end:next_start].strip():
                expected = next_body
        result.append((body, expected, line))
    return result


def test_the_readme_has_python_examples():
    assert blocks(ROOT / "README.md")


def test_fold_breaks_long_lines_at_spaces_and_keeps_every_character():
    line = "  " + " ".join(f"word{i:02d}" for i in range(30))
    folded = fold(f"short\n{line}").splitlines()
    assert folded[0] == "short"
    assert len(folded) == 4 and all(len(x) <= WIDTH for x in folded)
    assert folded[1].startswith("  word00 ") and folded[2].startswith("      word")
    assert " ".join(x.strip() for x in folded[1:]) == line.strip()
    assert fold("a" * 100) == "a" * 100  # no space to break at: left for the width test


@pytest.mark.parametrize("page", [
    pytest.param(page, id=name, marks=[pytest.mark.slow] * (name in SLOW_PAGES))
    for page, name in zip(PAGES, IDS)])
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
            shown = fold(out.getvalue().strip())
            assert shown == expected.strip(), (
                f"{page.name}, block at line {line}: its Output block should read\n{shown}")


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_every_output_block_is_checked(page):
    """An Output block directly follows a python block, so the test above compares it."""
    found = code_blocks(page)
    text = page.read_text()
    for i, (lang, info, body, line, start, _) in enumerate(found):
        assert not body.startswith("output:"), (
            f"{page.name}:{line}: show an output as a ```text {OUTPUT_TITLE} block")
        if is_output(lang, info):
            previous = found[i - 1] if i else None
            assert previous is not None and previous[0] == "python" and not (
                text[previous[5]:start].strip()), (
                f"{page.name}:{line}: an Output block must directly follow a python block")
    checked = sum(expected is not None for _, expected, _ in blocks(page))
    assert checked == text.count(OUTPUT_TITLE)


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_code_lines_fit_the_page(page):
    wide = [f"{page.name}:{line + k} ({len(x)} columns): {x[:40]}..."
            for _, _, body, line, _, _ in code_blocks(page)
            for k, x in enumerate(body.splitlines(), start=1) if len(x) > WIDTH]
    assert not wide, f"code lines wider than {WIDTH} columns:\n" + "\n".join(wide)


# Commands whose output is the same on every machine: their ```console examples in
# docs/cli.md must match what the command prints now.
DETERMINISTIC = ("tinygrad-xor --help", "tinygrad-xor train ", "tinygrad-xor check")


def console_examples(path: Path) -> list[tuple[str, str]]:
    """(command line, printed output) for each ```console block that starts with `$ `."""
    examples = []
    for m in BLOCK.finditer(path.read_text()):
        if m.group(1) == "console" and m.group(3).startswith("$ "):
            first, _, rest = m.group(3).partition("\n")
            examples.append((first[2:].strip(), rest))
    return examples


def shows(expected: str, printed: str) -> bool:
    """Whether a console example shows ``printed``: folded, a "..." line for lines left out."""
    parts = [r"(?:.*\n)+?" if x == "..." else re.escape(x) + r"\n"
             for x in expected.strip().splitlines()]
    return re.fullmatch("".join(parts), fold(printed.strip()) + "\n") is not None


def test_shows_folds_and_leaves_out_lines():
    printed = "header\n" + "x " * 60 + "\nrow 1\nrow 2\nthe end"
    assert shows(fold(printed), printed)
    assert shows("header\n...\nthe end", printed)
    assert not shows("header\n...\nrow 1\nthe end", printed)
    assert not shows("header\nthe end", printed)
    assert not shows(printed, printed)  # a line wider than the page is shown folded


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
        printed = capsys.readouterr().out
        assert shows(expected, printed), f"{command} prints, folded:\n{fold(printed.strip())}"
        checked += 1
    assert checked >= 4


def markdown_table(path: Path, header_start: str) -> list[list[str]]:
    """The cells of the markdown table whose header row starts with ``header_start``."""
    lines = path.read_text().splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith(header_start))
    rows = []
    for x in lines[start:]:
        if not x.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", x.strip()[1:-1])
        rows.append([c.strip().strip("`").replace(r"\|", "|") for c in cells])
    return [rows[0], *rows[2:]]  # without the |---| line


def test_xor_page_table_is_what_check_prints(capsys):
    """docs/xor.md shows `tinygrad-xor check`'s table as a markdown table, to fit the page."""
    from tinygrad_xor.cli import main

    assert main(["check"]) == 0
    printed = capsys.readouterr().out.splitlines()
    start = next(i for i, x in enumerate(printed) if x.startswith("layer  quantity"))
    table = [re.split(r"\s{2,}", x.strip()) for x in printed[start:]
             if x.strip() and not x.startswith("-----")]
    table = table[: next(i for i, row in enumerate(table) if i and not row[0].isdigit())]
    assert markdown_table(ROOT / "docs" / "xor.md", "| layer | quantity |") == table


def load_site_hooks():
    import importlib.util

    spec = importlib.util.spec_from_file_location("site_hooks", ROOT / "docs" / "site_hooks.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    return hooks


def test_site_shows_the_version_and_the_repository_when_pyproject_names_it(tmp_path,
                                                                             monkeypatch):
    import tinygrad_xor

    assert "  - docs/site_hooks.py" in (ROOT / "mkdocs.yml").read_text().splitlines()
    hooks = load_site_hooks()
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "tinygrad_xor"\n')
    monkeypatch.setattr(hooks, "PYPROJECT", pyproject)
    config = hooks.on_config({"site_name": "tinygrad_xor", "copyright": None,
                              "repo_url": None, "repo_name": None})
    version = tinygrad_xor.__version__
    assert config["site_name"] == f"tinygrad_xor {version}"
    assert version in config["copyright"]
    assert config["repo_url"] is None  # no URL in pyproject: no link
    pytest.importorskip("tomllib")
    pyproject.write_text('[project]\nname = "tinygrad_xor"\n\n[project.urls]\n'
                         'Homepage = "https://example.org/docs"\n'
                         'Repository = "https://github.com/someone/tinygrad_xor"\n')
    config = hooks.on_config({"site_name": "tinygrad_xor", "copyright": None,
                              "repo_url": None, "repo_name": None})
    assert config["repo_url"] == "https://github.com/someone/tinygrad_xor"
    assert config["repo_name"] == "someone/tinygrad_xor"
