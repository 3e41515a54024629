"""Every script in examples/ runs to exit status 0 and writes only into the folder it is given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def test_there_are_examples():
    assert EXAMPLES


def _tree() -> set[Path]:
    """The files and folders where an example might wrongly write."""
    places = [ROOT] + [ROOT / d for d in ("examples", "docs", "tinygrad_xor", "tests")]
    return {p for place in places if place.is_dir() for p in place.iterdir()}


@pytest.mark.slow  # a process each, seconds for some (make_notebooks.py runs both notebooks)
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    if script.name == "make_notebooks.py":  # it runs the notebooks, as tests/test_notebooks.py
        for name in ("nbformat", "nbclient", "ipykernel", "matplotlib", "tqdm"):
            pytest.importorskip(name, reason="make_notebooks.py needs the 'dev' extra")
    before = _tree()
    # the examples import this checkout's package, even where another one is installed
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    result = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True,
                            text=True, cwd=tmp_path, timeout=600,
                            env={**os.environ, "PYTHONPATH": path})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip(), "an example should show what it did"
    new = {p for p in _tree() - before if p.name not in ("__pycache__", ".hypothesis")}
    assert not new, f"{script.name} wrote into the source tree: {sorted(new)[:5]}"
