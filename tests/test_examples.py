"""Every script in examples/ runs to exit status 0 and leaves nothing behind: not in the source
tree, not in its working directory, not in the temporary directory; told a folder, it writes
there."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
# scripts that write files, and one file each writes into the folder it is told
WRITES = {"xor_goodfellow.py": "goodfellow.npz", "xor_blog_faithful.py": "blog_losses.csv",
          "draw_graphs.py": "neuron.dot"}


def test_there_are_examples():
    assert EXAMPLES


def _tree() -> set[Path]:
    """The files and folders where an example might wrongly write."""
    places = [ROOT] + [ROOT / d for d in ("examples", "docs", "tinygrad_xor", "tests")]
    return {p for place in places if place.is_dir() for p in place.iterdir()}


def run_example(script: Path, tmp_path: Path, *args: str) -> tuple[str, Path, Path]:
    """Run ``script`` in the empty folder tmp_path/work with TMPDIR the empty tmp_path/tmp;
    its output, and those two folders."""
    work, temp = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    before = _tree()
    # the examples import this checkout's package, even where another one is installed
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    result = subprocess.run([sys.executable, str(script), *args], capture_output=True,
                            text=True, cwd=work, timeout=600,
                            env={**os.environ, "PYTHONPATH": path, "TMPDIR": str(temp)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip(), "an example should show what it did"
    new = {p for p in _tree() - before if p.name not in ("__pycache__", ".hypothesis")}
    assert not new, f"{script.name} wrote into the source tree: {sorted(new)[:5]}"
    left = sorted(p.name for p in work.iterdir())
    assert not left, f"{script.name} left {left} in its working directory"
    return result.stdout, work, temp


@pytest.mark.slow  # a process each, seconds for some (make_notebooks.py runs both notebooks)
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_and_leaves_nothing_behind(script, tmp_path):
    """Without OUT_DIR an example writes into a temporary directory it removes at the end
    (tempfile.mkdtemp() left one behind at every run)."""
    args: list[str] = []
    if script.name == "make_notebooks.py":  # it runs the notebooks, as tests/test_notebooks.py
        for name in ("nbformat", "nbclient", "ipykernel", "matplotlib", "tqdm"):
            pytest.importorskip(name, reason=f"make_notebooks.py needs {name}: the 'dev' extra")
        args = [str(tmp_path)]  # without a folder it rewrites examples/*.ipynb
    _, _, temp = run_example(script, tmp_path, *args)
    left = sorted(p.name for p in temp.iterdir())
    assert not left, f"{script.name} left {left} in the temporary directory"


@pytest.mark.slow  # a process each
@pytest.mark.parametrize("script", sorted(WRITES))
def test_example_writes_into_the_folder_it_is_told(script, tmp_path):
    out = tmp_path / "out"
    stdout, _, _ = run_example(ROOT / "examples" / script, tmp_path, str(out))
    assert (out / WRITES[script]).is_file()
    assert str(out) in stdout


def _a_run(seed: int, widget_ids: list[str], seconds: str):
    """A notebook as one run of make_notebooks.py leaves it: what changes from run to run
    (cell ids, timestamps, an address, widget ids and their order, tqdm's rate) from seed."""
    nbformat = pytest.importorskip("nbformat", reason="make_notebooks.py needs nbformat")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("draw_graph(loss)")
    cell.id = f"{seed:08x}"
    cell.metadata["execution"] = {"iopub.status.idle": f"2026-01-0{seed}T10:00:00.0Z"}
    bar, layout = widget_ids
    cell.outputs = [nbformat.v4.new_output(
        "display_data", data={"text/plain": f"<tinygrad_xor.viz.Digraph at 0x7f{seed}c5a>",
                              "application/vnd.jupyter.widget-view+json": {"model_id": bar}})]
    nb.cells = [cell]
    state = {bar: {"state": {"layout": f"IPY_MODEL_{layout}",
                             "value": f" 600/600 [00:00&lt;00:00,\u2007{seconds}step/s]"}},
             layout: {"state": {"width": None}}}
    if seed % 2:
        state = dict(reversed(state.items()))
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": state}}
    return nb


def test_make_notebooks_saves_the_same_text_every_run():
    """Two regenerations differed in every drawing cell: ids, timestamps, an address..."""
    pytest.importorskip("nbclient", reason="make_notebooks.py needs nbclient: the 'dev' extra")
    nbformat = pytest.importorskip("nbformat", reason="make_notebooks.py needs nbformat")
    spec = importlib.util.spec_from_file_location("make_notebooks",
                                                  ROOT / "examples" / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    first = _a_run(1, ["a" * 32, "b" * 32], "994.40")
    second = _a_run(2, ["c" * 32, "d" * 32], "1241.78")
    assert nbformat.writes(first) != nbformat.writes(second)
    text = nbformat.writes(module.normalise(first))
    assert text == nbformat.writes(module.normalise(second))
    assert "600/600 [..." in text and "widget-0" in text and "Digraph>" in text
    nbformat.validate(nbformat.reads(text, as_version=4))
