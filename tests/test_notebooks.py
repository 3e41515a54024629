"""The notebooks of examples/ run top to bottom in a fresh kernel without an error or a warning.

Needs nbclient, nbformat and ipykernel (the 'dev' extra; the 'notebook' extra brings them
with JupyterLab), and what the notebooks import: matplotlib and tqdm.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

RUNNER = "running the notebooks needs nbformat, nbclient and ipykernel: the 'dev' extra"
nbformat = pytest.importorskip("nbformat", reason=RUNNER)
nbclient = pytest.importorskip("nbclient", reason=RUNNER)
pytest.importorskip("ipykernel", reason=RUNNER)
pytest.importorskip("matplotlib", reason="the notebooks plot with matplotlib: the 'plot' extra")
pytest.importorskip("tqdm", reason="the notebooks show tqdm's bar: the 'progress' extra")
pytestmark = pytest.mark.slow  # a fresh kernel each, seconds

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))


def test_the_notebooks_are_there():
    names = {path.name for path in NOTEBOOKS}
    assert {"xor_from_blog_to_autograd.ipynb", "check_your_own_operation.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_without_errors_or_warnings(path, monkeypatch):
    # the kernel imports this checkout's tinygrad_xor, whatever is installed
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    for n, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"cell {n}: {output.get('evalue')}"
            assert not (output["output_type"] == "stream" and output["name"] == "stderr"), \
                f"cell {n} wrote to stderr: {output['text']}"


def run_cells(sources, monkeypatch, tmp_path):
    """Run ``sources`` as the code cells of a new notebook in a fresh kernel; the notebook."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    for n, cell in enumerate(nb.cells):
        for output in cell.outputs:
            assert output["output_type"] != "error", f"cell {n}: {output.get('evalue')}"
    return nb


def images(cell):
    """The image outputs of a cell: what Jupyter shows of a cell's last line or a display()."""
    return [output for output in cell.outputs
            if output["output_type"] in ("execute_result", "display_data")
            and {"image/png", "image/svg+xml"} & set(output["data"])]


def test_the_library_figures_show_inline_in_a_fresh_kernel(monkeypatch, tmp_path):
    """`sweep_figure(r)` as a cell's last line printed `<Figure size 1100x400 with 2 Axes>`
    until pyplot was imported: now a picture, before pyplot and after (once, not twice)."""
    pytest.importorskip("matplotlib", reason="the figures need matplotlib: the 'plot' extra")
    nb = run_cells([
        "import sys\n"
        "from tinygrad_xor.xor.landscape import landscape_figure, run_landscape\n"
        "from tinygrad_xor.xor.sweep import run_sweep, sweep_figure\n"
        "result = run_sweep('keras', 6, steps=5, progress=False)",
        "sweep_figure(result)",
        "landscape_figure(run_landscape('sigmoid-momentum', 12, 300, escape_steps=0,\n"
        "                                progress=False))",
        "print('matplotlib.pyplot' in sys.modules)",
        "import matplotlib.pyplot\n"
        "sweep_figure(result)",
    ], monkeypatch, tmp_path)
    for n in (1, 2, 4):
        (shown,) = images(nb.cells[n])
        assert "image/png" in shown["data"], n
    assert nb.cells[3].outputs[0]["text"] == "False\n"  # the first two: pyplot not imported


def test_progress_shows_in_a_kernel_whatever_its_shell_is_called(monkeypatch, tmp_path):
    """Colab's shell class is `Shell`: the bar is for every kernel, not one class name."""
    nb = run_cells([
        "from tinygrad_xor import train\n"
        "print(train._output_kind())\n"
        "shell = get_ipython()\n"
        "shell.__class__ = type('Shell', (type(shell),), {})\n"
        "print(type(get_ipython()).__name__, train._output_kind())",
    ], monkeypatch, tmp_path)
    assert nb.cells[0].outputs[0]["text"] == "notebook\nShell notebook\n"


def test_a_sweep_in_a_notebook_shows_a_bar_widget(monkeypatch, tmp_path):
    pytest.importorskip("ipywidgets", reason="tqdm's bar widget needs the 'progress' extra")
    pytest.importorskip("tqdm", reason="the bar is tqdm's: the 'progress' extra")
    nb = run_cells(["from tinygrad_xor.xor.sweep import run_sweep\n"
                    "result = run_sweep('blog', 3, steps=100)"], monkeypatch, tmp_path)
    outputs = nb.cells[0].outputs
    assert any("application/vnd.jupyter.widget-view+json" in output.get("data", {})
               for output in outputs), outputs
    assert not any(output["output_type"] == "stream" for output in outputs)


def test_the_notebook_shows_the_sweep_figure_itself():
    """The notebook embedded a 217 KB SVG made by hand to work around figures not showing."""
    nb = nbformat.read(ROOT / "examples" / "xor_from_blog_to_autograd.ipynb", as_version=4)
    (cell,) = [cell for cell in nb.cells if "sweep_figure(" in cell.source
               and cell.cell_type == "code"]
    assert cell.source.rstrip().endswith("sweep_figure(result)")
    assert "SVG" not in cell.source and "savefig" not in cell.source
    (shown,) = images(cell)
    assert "image/png" in shown["data"] and "image/svg+xml" not in shown["data"]
