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
