"""Every script in examples/ runs to exit status 0 and leaves nothing behind: not in the source
tree, not in its working directory, not in the temporary directory; told a folder, it writes
there."""

from __future__ import annotations

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
