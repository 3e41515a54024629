"""Second derivatives of drawn expressions: Hessians, gradgradcheck, and what it finds."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import find, given, settings

import tinygrad_xor
from tinygrad_xor import Value, gradcheck, gradgradcheck, primitive
from tinygrad_xor.core import ops
from tinygrad_xor.testing import OPS, expressions

CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci"

SECOND_ORDER_OPS = list(OPS)


def _flat_hessian(f, inputs: tuple[Value, ...]) -> np.ndarray:
    """The Hessian of the scalar function f over all input elements, as one square matrix."""
    arrays = [x.data for x in inputs]
    blocks = tinygrad_xor.hessian(f, argnums=tuple(range(len(inputs))))(*arrays)
    sizes = [x.size for x in inputs]
    return np.block([[np.reshape(blocks[i][j], (sizes[i], sizes[j]))
                      for j in range(len(inputs))] for i in range(len(inputs))])


def _finite_difference_hessian(f, inputs: tuple[Value, ...], eps: float = 1e-6) -> np.ndarray:
    """Central differences of the (reverse-mode, first-order) gradient, column by column."""
    gradient = tinygrad_xor.grad(f, argnums=tuple(range(len(inputs))))
    arrays = [np.array(x.data, dtype=np.float64) for x in inputs]

    def flat_gradient(xs: list[np.ndarray]) -> np.ndarray:
        args = [float(a) if x.shape == () else a for a, x in zip(xs, inputs)]
        return np.concatenate([np.ravel(g) for g in gradient(*args)])

    columns = []
    for i, a in enumerate(arrays):
        for e in range(a.size):
            plus = [b.copy() for b in arrays]
            minus = [b.copy() for b in arrays]
            plus[i].reshape(-1)[e] += eps
            minus[i].reshape(-1)[e] -= eps
            columns.append((flat_gradient(plus) - flat_gradient(minus)) / (2 * eps))
    return np.stack(columns, axis=1)


def _scalar(f, out_shape: tuple[int, ...]):
    """f weighted by fixed random numbers and summed: one output element, every one counted."""
    w = np.random.default_rng(0).standard_normal(out_shape) if out_shape else 1.0
    return lambda *xs: (f(*xs) * w).sum()


@settings(max_examples=100 if CI else 25)
@given(expressions(ops=SECOND_ORDER_OPS, max_ops=6, max_dims=2, max_side=2))
def test_hessians_of_drawn_expressions_are_symmetric_and_match_finite_differences(expr):
    f, inputs = expr
    g = _scalar(f, f(*inputs).shape)
    hess = _flat_hessian(g, inputs)
    scale = 1.0 + np.max(np.abs(hess))
    np.testing.assert_allclose(hess, hess.T, rtol=0, atol=1e-9 * scale, err_msg=repr(f))
    numeric = _finite_difference_hessian(g, inputs)
    np.testing.assert_allclose(hess, numeric, rtol=1e-4, atol=1e-5 * scale, err_msg=repr(f))


@settings(max_examples=300 if CI else 50)
@given(expressions(ops=SECOND_ORDER_OPS, max_ops=8, max_dims=2, max_side=2))
def test_drawn_expressions_pass_gradgradcheck(expr):
    f, inputs = expr
    assert gradgradcheck(f, *inputs)


def test_second_derivatives_through_getitem():
    x = np.array([1.0, 2.0])
    hess = tinygrad_xor.hessian(lambda v: (v[1:] ** 3).sum())(x)
    np.testing.assert_allclose(hess, [[0.0, 0.0], [0.0, 12.0]])


def test_first_order_backward_through_scatter():
    x = Value(np.array([1.0, 2.0]))
    ops.scatter(x ** 3, shape=(3,), index=slice(1, None)).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 12.0])


# -- a custom op whose first derivative is right and second is wrong ---------------------------


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _frozen_sigmoid_vjp(grad, out, x):
    # The right number, s (1 - s), but taken from .data: a constant of the gradient's graph, so
    # the second derivative misses the term grad * d/dx [s (1 - s)].
    s = out.data if isinstance(out, Value) else out
    return (grad * (s * (1 - s)),)


frozen_sigmoid = primitive(_sigmoid, _frozen_sigmoid_vjp, name="frozen_sigmoid")
# The same mistake in exp: its second derivative comes out 0 instead of exp(x), wrong everywhere
# (frozen_sigmoid's is right at 0, where the shrinker tries first, so it shrinks less well).
frozen_exp = primitive(np.exp, lambda grad, out, x: (grad * (out.data if isinstance(out, Value)
                                                             else out),), name="frozen_exp")


def test_a_frozen_vjp_is_right_at_first_order_and_wrong_at_second():
    x = Value(np.array([-1.0, 0.5, 2.0]))
    for op in (frozen_sigmoid, frozen_exp):
        assert gradcheck(op, x)
        assert not gradgradcheck(op, x, raise_exception=False)


def breaks_second_order(expr) -> bool:
    f, inputs = expr
    return not gradgradcheck(f, *inputs, raise_exception=False)


@pytest.mark.slow
def test_a_wrong_second_derivative_is_found_and_shrunk_to_a_one_operation_graph():
    f, inputs = find(expressions(ops=[*SECOND_ORDER_OPS, frozen_exp], max_side=2),
                     breaks_second_order, settings=settings(database=None, max_examples=2000))
    assert repr(f) == "f(x0) = frozen_exp(x0)"
    assert len(inputs) == 1 and inputs[0].shape == ()
    assert gradcheck(f, *inputs)  # the first derivative is right: only gradgradcheck sees it


# -- a custom op whose vjp cannot take Values -------------------------------------------------

# exp with a vjp that calls a NumPy function Values do not take (np.expm1; np.exp would work,
# see test_a_vjp_written_with_numpy_ufuncs_is_differentiable_again): fine on arrays, a
# TypeError on Values.
numpy_exp = primitive(np.exp, lambda grad, out, x: (grad * (np.expm1(x) + 1.0),),
                      name="numpy_exp")


@settings(max_examples=100 if CI else 30)
@given(expressions(ops=["add", "mul", "tanh", "sum", "matmul", numpy_exp], max_ops=5,
                   max_side=2))
def test_a_vjp_that_cannot_take_values_fails_only_at_second_order(expr):
    f, inputs = expr
    assert gradcheck(f, *inputs)
    if "numpy_exp" in f.ops:
        with pytest.raises(TypeError, match="numpy_exp: its vjp cannot take Values"):
            gradgradcheck(f, *inputs)
    else:
        assert gradgradcheck(f, *inputs)


def test_a_vjp_that_cannot_take_values_names_the_op_in_hessian():
    assert tinygrad_xor.grad(lambda x: numpy_exp(x).sum())(np.array([0.0, 1.0])) == \
        pytest.approx([1.0, np.e])
    with pytest.raises(TypeError, match="numpy_exp"):
        tinygrad_xor.hessian(lambda x: numpy_exp(x).sum())(np.array([0.0, 1.0]))


def test_a_vjp_written_with_numpy_ufuncs_is_differentiable_again():
    ufunc_exp = primitive(np.exp, lambda grad, out, x: (grad * np.exp(x),), name="ufunc_exp")
    x = Value(np.array([0.0, 0.5]))
    assert gradgradcheck(lambda x: ufunc_exp(x).sum(), x)
    np.testing.assert_allclose(tinygrad_xor.hessian(lambda x: ufunc_exp(x).sum())(x.data),
                               np.diag(np.exp(x.data)))
