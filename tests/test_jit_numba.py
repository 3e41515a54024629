"""jit's numba backend: the numpy backend's results to 1e-12 over drawn expressions (first and
second order), its module cached on disk and loaded by a second process, what it refuses.
(test_jit.py runs its other tests on numba too, and checks the error without numba.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from tinygrad_xor import Primitive, TraceError, Value, grad, hessian, jit, maximum
from tinygrad_xor.testing import expressions

ROOT = Path(__file__).resolve().parent.parent
numba = pytest.importorskip("numba")


@pytest.fixture(autouse=True, scope="module")
def _cache(tmp_path_factory):
    """The generated modules in a directory of the test run's, not the user's cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=1e-12, atol=1e-13)


# (each drawn function is compiled by numba, about 0.1 to 0.4 s: fewer examples than
# test_jit.py draws for the other backends)
@settings(max_examples=20, deadline=None)
@given(expressions(max_ops=6))
def test_numba_equals_numpy_for_every_operation(expr):
    f, inputs = expr
    data = [v.data for v in inputs]
    argnums = tuple(range(len(inputs)))
    g = lambda *xs: grad(lambda *ys: f(*ys).sum(), argnums=argnums)(*xs)  # noqa: E731
    compiled = jit(lambda *xs: f(*xs), backend="numba")
    _close(compiled(*data), jit(lambda *xs: f(*xs), backend="numpy")(*data))
    assert compiled.backend_used == "numba"
    for a, b in zip(jit(g, backend="numba")(*data), jit(g, backend="numpy")(*data)):
        _close(a, b)


@settings(max_examples=10, deadline=None)
@given(expressions(max_ops=4, max_inputs=2, max_side=2))
def test_numba_second_derivatives_equal_numpy(expr):
    f, inputs = expr
    data = [v.data for v in inputs]
    rest = [Value(d, requires_grad=False) for d in data[1:]]
    h = hessian(lambda x: f(x, *rest).sum())
    _close(jit(h, backend="numba")(*data[:1]), jit(h, backend="numpy")(*data[:1]))


def test_what_the_python_backend_computes_on_arrays_is_written_element_by_element():
    # max's share of a tie, a scatter (getitem's gradient, repeated indices added), clip
    # between Values (captured: a traced bound is refused by clip), a float32 argument, a
    # float argument, an infinite constant
    lo, hi = Value(np.full(4, 0.5)), Value(np.full(4, 1.5))

    def f(x, s):
        y = x[np.array([0, 2, 2])].sum() + x.max() + x.clip(lo, hi).sum()
        return y * s + (x + np.inf).sigmoid().sum() + maximum(x, 0.0).sum()

    g = grad(f, argnums=(0, 1))
    for x in (np.array([1.0, 3.0, 3.0, -2.0]), np.array([0.5, 0.25, 0.75, 0.75])):
        want = jit(g, backend="numpy")(x, 2.0)
        compiled = jit(g, backend="numba")
        for a, b in zip(compiled(x.astype(np.float32), 2.0), want):
            _close(a, b)
    assert "float32[:]" in compiled.source and "max_share" in compiled.source
    assert "clip3(" in compiled.source


def test_loop_runs_inside_the_compiled_function():
    def step(w):
        return w - 0.1 * grad(lambda w: ((w * w).sigmoid() - 0.25).sum())(w)

    compiled = jit(step, backend="numba")
    w = np.array([[0.3, -1.2], [2.0, 0.1]])
    looped = compiled.loop(40, w)
    for _ in range(40):
        w = compiled(w)
    np.testing.assert_array_equal(looped, w)
    assert "def step_loop(n, x):" in compiled.source and "for _ in range(n):" in compiled.source


def test_operations_numba_cannot_compile_are_trace_errors():
    double = Primitive(lambda x: 2.0 * x, lambda g, out, x: (2.0 * g,), name="double")
    compiled = jit(lambda x: double(x).sum(), backend="numba")
    with pytest.raises(TraceError, match="numba backend cannot compile 'double'"):
        compiled(np.ones(3))
    assert jit(lambda x: double(x).sum(), backend="python")(np.ones(3)) == 6.0

    def branchy(x):
        if x.data.sum() > 0:  # a branch on the data: refused before any backend is involved
            return x * 2.0
        return x * 3.0

    with pytest.raises(TraceError, match=r"test_jit_numba.py:\d+: if x.data.sum\(\) > 0"):
        jit(branchy, backend="numba")(np.ones(2))


def test_auto_never_picks_numba():
    compiled = jit(lambda x: (x * x).sum())
    compiled(np.ones(3))
    assert compiled.backend_used == "python"


_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from tinygrad_xor import grad, jit

    f = jit(grad(lambda w: ((w @ w).tanh() ** 3).sum()), backend="numba")
    out = f(np.array([[0.5, -0.25], [1.5, 2.0]]))
    module = [m for name, m in sys.modules.items() if name.startswith("_tinygrad_xor_jit_")]
    stats = module[0].__dict__[f.__name__].stats
    print(json.dumps({"out": out.tolist(), "hits": sum(stats.cache_hits.values()),
                      "misses": sum(stats.cache_misses.values()), "file": module[0].__file__}))
""")


def test_a_second_process_loads_the_compiled_code_from_the_cache(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("NUMBA_CACHE_DIR", None)
    runs = []
    files = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                              text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        files.append({p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()})
    first, second = runs
    assert first["out"] == second["out"]
    assert Path(first["file"]).parent == tmp_path / "tinygrad_xor" / "jit"
    assert first["misses"] >= 1 and first["hits"] == 0  # compiled, and saved
    assert second["hits"] >= 1 and second["misses"] == 0  # loaded, not compiled
    assert files[0] == files[1]  # the second wrote nothing: the module and numba's cache kept
    assert any(p.suffix == ".nbi" for p in files[0]) and any(p.suffix == ".nbc" for p in files[0])


def test_threads_compiling_the_same_module_at_once_each_get_it_whole():
    # four functions of the same graph, traced at once: one thread writes and compiles the
    # module, the others wait for it (none may see it half made)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def work():
        compiled = jit(lambda x: (x * 1.2345).tanh().sum(), backend="numba")
        barrier.wait()
        try:
            results.append(compiled(np.array([0.5, -0.25])))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4
    assert len(set(results)) == 1 and results[0] == pytest.approx(
        np.tanh(0.5 * 1.2345) + np.tanh(-0.25 * 1.2345), rel=1e-12)
