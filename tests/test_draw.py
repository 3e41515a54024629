"""Tests of tinygrad_xor.xor.draw: the XOR pictures and `tinygrad-xor draw`."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tinygrad_xor.cli import main

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's 'dot' is not installed "
                                      "(apt-get install graphviz; CI installs it)")

SVG = "{http://www.w3.org/2000/svg}"


def svg_nodes(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]


def svg_texts(root: ET.Element) -> list[str]:
    return [t.text.strip() for t in root.iter(f"{SVG}text") if t.text and t.text.strip()]


STEMS = ("xor_graph_sample", "xor_graph_batch", "xor_network")


@needs_dot
def test_cli_draw_writes_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["draw", "--out", str(tmp_path / "d"), "--format", "svg"]) == 0
    printed = capsys.readouterr().out
    for stem in STEMS:
        path = tmp_path / "d" / f"{stem}.svg"
        assert str(path) in printed
        assert svg_nodes(ET.parse(path).getroot())
    texts = svg_texts(ET.parse(tmp_path / "d" / "xor_graph_sample.svg").getroot())
    assert "loss" in texts and "w1[0,1]" in texts and "sigmoid" in texts


@pytest.fixture
def no_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide Graphviz's `dot` by leaving only an empty directory on PATH."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None


@pytest.mark.usefixtures("no_dot")
def test_cli_without_dot_writes_dot_files_and_fails(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d"
    assert main(["draw", "--out", str(out), "--format", "png"]) != 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}.dot" for s in STEMS)
    for stem in STEMS:
        assert str(out / f"{stem}.dot") in captured.out
        assert (out / f"{stem}.dot").read_text().startswith("digraph")
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "apt-get install graphviz" in lines[0]


@pytest.mark.usefixtures("no_dot")
def test_cli_format_dot_needs_no_graphviz(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d"
    assert main(["draw", "--out", str(out), "--format", "dot"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    for stem in STEMS:
        assert (out / f"{stem}.dot").read_text().startswith("digraph")


def test_cli_folder_that_cannot_be_made_is_an_error_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_info:  # refused by the parser, before any drawing
        main(["draw", "--out", str(blocker / "d"), "--format", "dot"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --out" in err and "is not a folder" in err
    assert "Traceback" not in err


def test_cli_empty_out_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["draw", "--out", "", "--format", "dot"])
    assert exit_info.value.code == 2
    assert "empty" in capsys.readouterr().err
