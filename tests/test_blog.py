"""tinygrad_xor.xor.blog against the post's own code, run from the post's Python blocks."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

from tinygrad_xor.xor import blog

# The post uses np.matrix; NumPy warns about it, which is the post's business, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

ROOT = Path(__file__).resolve().parent.parent
VENDORED = ROOT / "tests" / "data" / "xor-blog.md"
SHARED = ROOT.parent / "shared" / "seed" / "xor-blog.md"


def python_blocks(path: Path) -> list[str]:
    """The ```python blocks of a Markdown file, in order."""
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def algorithm_blocks(path: Path) -> list[str]:
    """The post's blocks minus the Keras one: data, functions, initialisation, loop."""
    blocks = [b for b in python_blocks(path) if "keras" not in b]
    assert len(blocks) == 4, f"expected 4 algorithm blocks in {path}, found {len(blocks)}"
    return blocks


def source(which: str) -> Path:
    if which == "shared":
        if not SHARED.exists():
            pytest.skip("the project's shared copy of the post (seed/xor-blog.md) is not "
                        "beside the checkout; the vendored copy is tested instead")
        return SHARED
    return VENDORED


@contextlib.contextmanager
def np_seed(seed: int):
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def run_post_setup(path: Path, seed: int) -> dict:
    """Exec the post's data, function and initialisation blocks with np.random seeded."""
    data, functions, init, _ = algorithm_blocks(path)
    ns: dict = {}
    with np_seed(seed):
        exec(data, ns)
        exec(functions, ns)
        exec(init, ns)
    return ns


def test_vendored_copy_matches_shared_post():
    if not SHARED.exists():
        pytest.skip("the project's shared copy of the post (seed/xor-blog.md) is not beside "
                    "the checkout: nothing to compare the vendored copy with")
    assert python_blocks(VENDORED) == python_blocks(SHARED)


@pytest.mark.parametrize("which", ["vendored", "shared"])
@pytest.mark.parametrize("seed", [0, 1, 2018])
def test_faithful_matches_post_every_iteration(which, seed):
    ns = run_post_setup(source(which), seed)
    post_W, post_b = ns["W"], ns["b"]
    W = [None if w is None else np.array(w) for w in post_W]
    b = [None if v is None else np.array(v) for v in post_b]
    for iteration in range(ns["n_iter"] + 1):
        W_before = [None if w is None else w.copy() for w in W]
        post_W, post_b, post_pred, post_mse = ns["backpropagation_iter"](
            ns["X"], ns["y"], post_W, post_b, ns["eta"])
        W2, b2, pred, mse = blog.backprop_iter(ns["X"], ns["y"], W, b, ns["eta"])
        for l in (1, 2):  # noqa: E741
            assert W2[l].shape == post_W[l].shape, (iteration, l)
            assert b2[l].shape == post_b[l].shape, (iteration, l)
            np.testing.assert_allclose(W2[l], post_W[l], rtol=0, atol=1e-12)
            np.testing.assert_allclose(b2[l], post_b[l], rtol=0, atol=1e-12)
        np.testing.assert_allclose(pred, np.array(post_pred, dtype=float), rtol=0, atol=1e-12)
        assert abs(mse - post_mse) <= 1e-12
        # the caller's lists and arrays are untouched
        for w, w0 in zip(W, W_before, strict=True):
            if w is not None:
                np.testing.assert_array_equal(w, w0)
        W, b = W2, b2
    # the quirk: W[2] is (2, 2) and b[2] is (2, 1) by the end, as in the post
    assert W[2].shape == (2, 2) and b[2].shape == (2, 1)


def test_post_loop_block_prints_same_mse():
    """The post's own printing loop, run as written, prints our MSEs."""
    path = VENDORED
    ns = run_post_setup(path, 7)
    W = [None if w is None else np.array(w) for w in ns["W"]]
    b = [None if v is None else np.array(v) for v in ns["b"]]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(algorithm_blocks(path)[3], ns)
    printed = [float(m) for m in re.findall(r"Iteration \d+: (\S+)", out.getvalue())]
    assert len(printed) == 11
    _, _, losses = blog.train(ns["X"], ns["y"], W, b, eta=0.1, n_iter=100)
    assert len(losses) == 101
    np.testing.assert_allclose(losses[::10], printed, rtol=0, atol=1e-12)


def test_w2_changes_shape_after_first_iteration():
    W, b = blog.init_params([2, 2, 1], 0)
    W1, b1, _, _ = blog.backprop_iter(blog.X, blog.y, W, b, 0.1)
    assert W[2].shape == (1, 2) and b[2].shape == (1, 1)     # caller's untouched
    assert W1[2].shape == (2, 2) and b1[2].shape == (1, 1)   # the broadcast
    W2, b2, _, _ = blog.backprop_iter(blog.X, blog.y, W1, b1, 0.1)
    assert W2[2].shape == (2, 2) and b2[2].shape == (2, 1)   # now two output neurons


def test_faithful_w_grad_is_the_transpose():
    W, b = blog.init_params([2, 2, 1], 3)
    a, z = blog.forward_prop(blog.X[1:2], W, b)
    delta = blog.back_prop(a, z, W, blog.y[1])
    faithful, fb = blog.calc_gradient(W, b, a, delta, faithful=True)
    correct, cb = blog.calc_gradient(W, b, a, delta, faithful=False)
    for l in (1, 2):  # noqa: E741
        assert correct[l].shape == W[l].shape
        np.testing.assert_array_equal(faithful[l], correct[l].T)
        np.testing.assert_array_equal(fb[l], cb[l])


def test_correct_version_keeps_shapes_and_learns():
    W, b = blog.init_params([2, 2, 1], 0)
    W, b, losses = blog.train(W=W, b=b, n_iter=100, faithful=False)
    assert W[1].shape == (2, 2) and W[2].shape == (1, 2) and b[2].shape == (1, 1)
    assert losses[-1] < losses[0]


def test_matrix_and_ndarray_inputs_agree():
    W, b = blog.init_params([2, 2, 1], 5)
    m = blog.backprop_iter(np.matrix("0 0; 1 0; 0 1; 1 1"), blog.y, W, b, 0.1)
    r = blog.backprop_iter(blog.X.astype(float), blog.y.reshape(4, 1), W, b, 0.1,
                           faithful=False)
    f = blog.backprop_iter(blog.X, blog.y, W, b, 0.1)
    for l in (1, 2):  # noqa: E741
        np.testing.assert_array_equal(m[0][l], f[0][l])
    np.testing.assert_array_equal(m[2], r[2])        # same predictions before the update
    assert m[3] == pytest.approx(r[3], abs=1e-15)    # y of shape (4, 1) gives the same MSE
    col = blog.backprop_iter(blog.X, blog.y.reshape(4, 1), W, b, 0.1)
    assert col[3] == f[3]
    for k in (1, 2):
        np.testing.assert_array_equal(col[0][k], f[0][k])


def test_bad_input():
    W, b = blog.init_params([2, 2, 1], 0)
    with pytest.raises(ValueError, match="rows"):
        blog.backprop_iter(blog.X, [0, 1, 1], W, b, 0.1)
    with pytest.raises(ValueError, match="n×n_0"):
        blog.backprop_iter(np.zeros(4), blog.y, W, b, 0.1)
