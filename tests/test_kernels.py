"""The engine's fast paths give the same answers as the plain ones.

matmul's kernel for large stacks of tiny matrices against np.matmul, per-operand VJPs that skip
constants, the in-place sigmoid, and the scalar fast path of backward against tensors.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tinygrad_xor import Primitive, Value
from tinygrad_xor.core import kernels, ops

EPS = np.finfo(np.float64).eps

# (a's shape, b's shape): stacks big enough for the kernel, with broadcasting and a 2-D side
KERNEL_SHAPES = [
    ((4, 2), (2100, 2, 2)),
    ((2100, 4, 2), (2100, 2, 1)),
    ((2100, 4, 1), (2100, 1, 2)),
    ((2100, 2, 4), (2100, 4, 1)),
    ((2, 4), (2100, 4, 2)),
    ((40, 1, 3, 2), (50, 2, 4)),
    ((2000, 2, 2), (2, 3)),
]


def _uses_kernel(sa: tuple[int, ...], sb: tuple[int, ...]) -> bool:
    work = sa[-2] * sa[-1] * sb[-1]
    batch = int(np.prod(np.broadcast_shapes(sa[:-2], sb[:-2])))
    return work <= kernels.SMALL_MATMUL and batch >= kernels.SMALL_MATMUL * work


def _bound(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A rounding-error bound for a @ b: k * eps * (|a| @ |b|)."""
    return a.shape[-1] * EPS * np.matmul(np.abs(a), np.abs(b)) + 1e-300


@pytest.mark.parametrize("sa, sb", KERNEL_SHAPES)
def test_small_matmul_kernel_equals_np_matmul(sa: tuple[int, ...], sb: tuple[int, ...],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert _uses_kernel(sa, sb)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    want, bound = np.matmul(a, b), _bound(a, b)

    def no_matmul(*args: object) -> None:
        raise AssertionError("np.matmul called: the small-matrix kernel was not used")

    monkeypatch.setattr(np, "matmul", no_matmul)
    got = kernels.matmul(a, b)
    monkeypatch.undo()
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.all(np.abs(got - want) <= bound)


def test_small_matmul_kernel_keeps_float32() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 2)).astype(np.float32)
    b = rng.normal(size=(2100, 2, 2)).astype(np.float32)
    assert _uses_kernel(a.shape, b.shape)
    got = kernels.matmul(a, b)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.matmul(a, b), rtol=1e-6, atol=1e-6)


def test_matmul_shape_errors_still_name_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"matmul.*\(2100, 3, 2\).*\(2100, 3, 2\)"):
        Value(np.ones((2100, 3, 2))) @ Value(np.ones((2100, 3, 2)))


@pytest.mark.parametrize("sa, sb", KERNEL_SHAPES)
def test_matmul_gradients_on_kernel_sized_stacks(sa: tuple[int, ...],
                                                 sb: tuple[int, ...]) -> None:
    rng = np.random.default_rng(2)
    a_np, b_np = rng.normal(size=sa), rng.normal(size=sb)
    g = rng.normal(size=np.matmul(a_np, b_np).shape)
    a, b = Value(a_np), Value(b_np)
    (a @ b).backward(g)
    # the plain rules: dL/da = g @ b^T, dL/db = a^T @ g, summed over broadcast batch axes
    ga = np.matmul(g, np.swapaxes(b_np, -1, -2))
    gb = np.matmul(np.swapaxes(a_np, -1, -2), g)
    ga = ga.sum(axis=tuple(range(ga.ndim - a_np.ndim))).reshape(ga.shape[-a_np.ndim:])
    gb = gb.sum(axis=tuple(range(gb.ndim - b_np.ndim)))
    for axis, n in enumerate(a_np.shape):
        if n == 1:
            ga = ga.sum(axis=axis, keepdims=True)
    for axis, n in enumerate(b_np.shape):
        if n == 1:
            gb = gb.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(a.grad, ga, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad, gb, rtol=1e-12, atol=1e-12)


def test_per_operand_vjps_skip_constants() -> None:
    calls: list[str] = []

    def vjp_a(grad: object, out: object, a: np.ndarray, b: np.ndarray) -> object:
        calls.append("a")
        return np.asarray(grad) * b

    def vjp_b(grad: object, out: object, a: np.ndarray, b: np.ndarray) -> object:
        calls.append("b")
        return np.asarray(grad) * a

    times = Primitive(np.multiply, name="times", vjps=(vjp_a, vjp_b))
    x, w = np.array([1.0, 2.0]), Value([3.0, 4.0])
    times(x, w).sum().backward()
    assert calls == ["b"] and w.grad.tolist() == [1.0, 2.0]
    calls.clear()
    v = Value([1.0, 2.0])
    times(v, w).sum().backward()
    assert sorted(calls) == ["a", "b"] and v.grad.tolist() == [3.0, 4.0]
    assert times.vjp(1.0, None, np.ones(2), np.full(2, 5.0))[0].tolist() == [5.0, 5.0]


def test_sigmoid_matches_the_textbook_formula_and_never_warns() -> None:
    x = np.linspace(-700, 700, 2001)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = kernels.sigmoid(x)
        extremes = kernels.sigmoid(np.array([-1e308, -1000.0, -746.0, 1000.0]))
        f32 = kernels.sigmoid(np.array([-100.0, 0.0, 100.0], dtype=np.float32))
    np.testing.assert_array_equal(got, 1 / (1 + np.exp(-x)))
    assert extremes.tolist() == [0.0, 0.0, 0.0, 1.0]
    assert f32.dtype == np.float32 and f32.tolist() == [0.0, 0.5, 1.0]
    x_in = np.array([1.0, -2.0])
    kernels.sigmoid(x_in)
    assert x_in.tolist() == [1.0, -2.0]  # the input is not written to


def test_intermediate_grads_are_read_only_and_leaf_grads_are_their_own() -> None:
    w = Value(np.array([1.0, 2.0]))
    z = w + 1.0
    y = z + w
    y.backward(np.ones(2))
    assert not z.grad.flags.writeable and not y.grad.flags.writeable
    w.grad[0] = 100.0  # a leaf owns its grad array: writing it changes nothing else
    assert z.grad.tolist() == [1.0, 1.0] and y.grad.tolist() == [1.0, 1.0]


def test_scalar_fast_path_agrees_with_tensor_path() -> None:
    def f(a: Value, b: Value) -> Value:
        c = a * b + a
        return (c * c + (b * -1.0).relu() + (c + 3.0).sigmoid()).tanh()

    xs = [(0.3, -1.2), (2.0, 0.5), (-0.7, -0.1)]
    for a0, b0 in xs:
        a, b = Value(a0), Value(b0)
        f(a, b).backward()
        ta, tb = Value(np.array([a0])), Value(np.array([b0]))
        f(ta, tb).sum().backward()
        assert a.grad == pytest.approx(float(ta.grad[0]), rel=1e-14, abs=1e-15)
        assert b.grad == pytest.approx(float(tb.grad[0]), rel=1e-14, abs=1e-15)


def test_backward_that_fails_leaves_the_graph_usable() -> None:
    def bad_vjp(grad: object, out: object, x: object) -> tuple[object]:
        raise RuntimeError("boom")

    bad = Primitive(lambda x: x * 2.0, bad_vjp, name="bad")
    x = Value(1.5)
    shared = x * 3.0
    y = bad(shared) + shared * shared
    with pytest.raises(RuntimeError, match="boom"):
        y.backward()
    z = shared * shared + x  # the same nodes, in a new graph
    z.backward()
    assert x.grad == pytest.approx(2 * 4.5 * 3.0 + 1.0)


@pytest.mark.parametrize("shape, axis", [((10000, 4, 2), 1), ((10000, 4, 1), 1), ((3, 4, 2), 1),
                                         ((5000, 3), 1), ((4, 5000), 0), ((7, 3000, 2, 2), 2)])
def test_bias_gradient_sum_equals_np_sum(shape: tuple[int, ...], axis: int) -> None:
    g = np.random.default_rng(3).normal(size=shape)
    g.flat[::997] = np.inf  # infinities stay where they belong
    g.flat[1::5] = -0.0
    np.moveaxis(g, axis, -1)[(0,) * (g.ndim - 1)] = -0.0  # a sum of -0.0s: 0.0, as NumPy's
    got, want = kernels.sum_axis(g, axis), g.sum(axis=axis, keepdims=True)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("shape", [(10000, 4, 2), (3000, 2, 3), (4, 5000), (300, 5, 2, 1)])
@pytest.mark.parametrize("keepdims", [True, False])
def test_a_sum_over_one_axis_is_numpys_bit_for_bit(shape: tuple[int, ...],
                                                   keepdims: bool) -> None:
    """The sum primitive's kernel (`sum_axis` where the axis is short): NumPy's values, NaN,
    infinities and the sign of zero included, for each axis named any way."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=shape)
    x.flat[::7] = -0.0
    x.flat[3::11] = rng.choice([np.nan, np.inf, -np.inf], size=x.flat[3::11].size)
    for axis in range(x.ndim):  # for each axis, one sum of -0.0s only
        np.moveaxis(x, axis, -1)[(0,) * (x.ndim - 1)] = -0.0
    for axis in [*range(-len(shape), len(shape)), (1,), (-1,)]:
        with np.errstate(invalid="ignore"):
            got = kernels.reduce(np.add, x, axis, keepdims)
            want = np.add.reduce(x, axis=axis, keepdims=keepdims)
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_stacked_networks_get_their_own_bias_gradients() -> None:
    rng = np.random.default_rng(4)
    b = Value(rng.normal(size=(3000, 1, 2)))
    h = rng.normal(size=(3000, 4, 2))
    ((h + b) ** 2).sum().backward()
    np.testing.assert_allclose(b.grad, (2 * (h + b.data)).sum(axis=1, keepdims=True),
                               rtol=1e-14)


@pytest.mark.parametrize("sa, sb", [((3000, 4, 2), (3000, 1, 2)), ((3000, 1, 2), (3000, 4, 2)),
                                    ((3000, 4, 1), (3000, 1, 1)), ((50, 40, 3, 1), (50, 1, 3, 5)),
                                    ((5000, 3), (5000, 1)), ((2, 3000, 2), (2, 1, 2))])
@pytest.mark.parametrize("name", ["add", "sub", "mul"])
def test_spread_elementwise_equals_the_ufunc_exactly(sa: tuple[int, ...], sb: tuple[int, ...],
                                                     name: str) -> None:
    ufunc = {"add": np.add, "sub": np.subtract, "mul": np.multiply}[name]
    rng = np.random.default_rng(5)
    for dtypes in [(np.float64, np.float64), (np.float32, np.float64), (np.float64, np.float32)]:
        a = rng.normal(size=sa).astype(dtypes[0])
        b = rng.normal(size=sb).astype(dtypes[1])
        a_before, b_before = a.copy(), b.copy()
        got, want = ops.PRIMITIVES[name].forward(a, b), ufunc(a, b)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(a, a_before)  # the operands are not written to
        np.testing.assert_array_equal(b, b_before)


@pytest.mark.parametrize("sa, sb, spread", [((3000, 4, 2), (3000, 1, 2), True),
                                            ((2, 3000, 2), (2, 1, 2), True),
                                            ((5000, 3), (5000, 1), False),
                                            ((3000, 4, 1), (3000, 1, 1), False),
                                            ((30, 4, 2), (30, 1, 2), False)])
def test_spread_is_used_only_where_numpy_walks_short_runs(sa: tuple[int, ...],
                                                          sb: tuple[int, ...], spread: bool,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_repeat = np.repeat

    def counting_repeat(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real_repeat(*args, **kwargs)

    monkeypatch.setattr(np, "repeat", counting_repeat)
    ops.add.forward(np.ones(sa), np.ones(sb))
    assert bool(calls) == spread
