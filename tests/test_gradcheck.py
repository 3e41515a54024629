"""gradcheck itself: it passes on correct gradients, reports wrong ones clearly, touches nothing."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_xor import GradcheckError, Value, gradcheck, gradgradcheck, primitive
from tinygrad_xor.testing import OPS, expressions, values

# x ** 2 whose VJP forgets the factor 2: wrong everywhere except at x = 0.
bad_square = primitive(lambda x: x ** 2, lambda grad, out, x: (grad * x,), name="bad_square")
# a * b whose VJP is right for a and wrong (doubled) for b.
bad_mul = primitive(np.multiply, lambda grad, out, a, b: (grad * b, 2 * grad * a), name="bad_mul")


def test_passes_on_correct_gradients_of_scalars_tensors_and_mixtures():
    a = Value(np.array([[0.3, -1.2, 2.0], [0.7, 0.1, -0.4]]))
    b = Value(np.array([1.5, -0.5, 0.25]))
    s = Value(0.8)
    assert gradcheck(lambda a, b, s: (a * b + s).tanh().sum(axis=0) * s.exp(), a, b, s) is True
    assert gradcheck(lambda s: s.sigmoid() * s, s) is True           # scalar in, scalar out
    assert gradcheck(lambda a, b: a @ b, a, b) is True               # tensor out
    assert gradcheck(lambda s, b: s * b, s, b) is True               # scalar in, tensor out


def test_a_wrong_vjp_raises_an_error_naming_output_input_element_analytic_numeric():
    x = Value(np.array([1.0, -2.0, 3.0]))
    y = Value(np.array([0.5, 0.5, 0.5]))
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x, y: bad_mul(x, y), x, y)
    message = str(info.value)
    assert isinstance(info.value, AssertionError)
    assert "output 0 with respect to input 1" in message
    # The worst entry: d out[2] / d y[2] is x[2] = 3 (numeric), the VJP says 6 (analytic).
    assert "output element (2,)" in message and "input element (2,)" in message
    found = re.search(r"analytic ([-\d.e]+), numeric ([-\d.e]+)", message)
    assert found is not None
    assert float(found.group(1)) == pytest.approx(6.0)
    assert float(found.group(2)) == pytest.approx(3.0, rel=1e-6)
    assert "analytic Jacobian" in message and "numeric Jacobian" in message
    assert "3 of 9 entries out of tolerance" in message


def test_a_large_jacobian_is_reported_by_its_worst_entries():
    x = Value(np.linspace(0.5, 1.5, 100).reshape(10, 10))
    with pytest.raises(GradcheckError) as info:
        gradcheck(bad_square, x)
    message = str(info.value)
    assert "worst 5 of the (100, 100) Jacobian entries" in message
    assert "analytic Jacobian" not in message
    # The largest error is at the largest entry, 1.5: analytic 1.5, numeric 3.0.
    assert "output element (9, 9)" in message and "input element (9, 9)" in message
    assert "analytic 1.5, numeric 3.0" in message or "analytic 1.5, numeric 2.9999" in message


def test_inputs_data_and_grads_are_restored_after_a_pass_and_a_failure():
    x = Value(np.array([0.5, -1.0], dtype=np.float32))
    data = x.data
    s = Value(2.0)
    grad = np.array([7.0, 8.0], dtype=np.float32)
    x.grad = grad
    s.grad = 3.0
    assert gradcheck(lambda x, s: (x * s).exp(), x, s)
    assert x.data is data and x.data.dtype == np.float32 and np.array_equal(data, [0.5, -1.0])
    assert x.grad is grad and np.array_equal(grad, [7.0, 8.0]) and s.grad == 3.0 and s.data == 2.0
    with pytest.raises(GradcheckError):
        gradcheck(lambda x, s: bad_square(x) * s, x, s)
    assert x.data is data and np.array_equal(data, [0.5, -1.0]) and x.grad is grad
    assert s.data == 2.0 and s.grad == 3.0


@given(expressions(ops=list(OPS), max_ops=4, max_side=2),
       st.booleans())
def test_gradcheck_never_changes_its_inputs(expr, break_it):
    f, inputs = expr
    before = [(np.array(x.data, copy=True), x._grad) for x in inputs]
    g = (lambda *xs: bad_square(f(*xs))) if break_it else f
    gradcheck(g, *inputs, raise_exception=False)
    for x, (data, grad) in zip(inputs, before):
        assert np.array_equal(np.asarray(x.data), data) and x._grad is grad


def test_float32_inputs_are_checked_in_float64():
    x = Value(np.array([0.1, 0.2, 0.3], dtype=np.float32))
    # In float32 a step of 1e-6 is below the resolution; in float64 the check is exact enough.
    assert gradcheck(lambda x: (x * x).sum(), x)
    assert x.data.dtype == np.float32


def test_an_input_not_requiring_grad_is_used_but_not_checked():
    x = Value(np.array([1.0, 2.0]))
    y = Value(np.array([3.0, 4.0]), requires_grad=False)
    assert gradcheck(bad_mul, x, y)                      # bad_mul is only wrong for y
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(bad_mul, x, Value(np.array([3.0, 4.0])))


def test_an_output_independent_of_an_input_passes_and_a_detached_one_fails():
    x, y = Value(np.array([1.0, 2.0])), Value(0.5)
    assert gradcheck(lambda x, y: x.exp(), x, y)         # d out / d y is exactly zero
    assert gradcheck(lambda x, y: Value(3.0) * y, x, y)  # scalar out, depends on y only
    # f that cuts the graph: analytic zero, numeric not.
    with pytest.raises(GradcheckError, match="analytic 0.0, numeric 2") as info:
        gradcheck(lambda y: Value(np.asarray(y.data) * 2.0) * 1.0, y)
    assert "input 0 is not in the graph of output 0" in str(info.value)


def test_bad_calls_raise_clear_errors():
    x = Value(1.0)
    with pytest.raises(TypeError, match="f must be a function"):
        gradcheck(3.0, x)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must return a Value"):
        gradcheck(lambda x: 3.0, x)
    with pytest.raises(TypeError, match="output 1 is int"):
        gradcheck(lambda x: (x, 1), x)
    with pytest.raises(TypeError, match="input 1 must be a Value"):
        gradcheck(lambda x, y: x * y, x, np.ones(2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda x: x * 2, Value(1.0, requires_grad=False))
    with pytest.raises(GradcheckError, match="non-finite"):
        gradcheck(lambda x: x.log(), Value(-1.0))


def test_several_outputs_are_numbered():
    x = Value(np.array([0.5, 1.5]))
    assert gradcheck(lambda x: (x.exp(), x.sum()), x)
    with pytest.raises(GradcheckError, match="output 1 with respect to input 0"):
        gradcheck(lambda x: (x.exp(), bad_square(x)), x)


def test_tolerances_follow_atol_plus_rtol_times_numeric():
    off = primitive(lambda x: 2 * x, lambda grad, out, x: (grad * 2.002,), name="off")
    x = Value(np.array([1.0, -1.0]))
    with pytest.raises(GradcheckError):
        gradcheck(off, x)                       # 0.002 > 1e-6 + 1e-4 * 2
    assert gradcheck(off, x, rtol=2e-3)         # 0.002 <= 1e-6 + 2e-3 * 2
    assert gradcheck(off, x, atol=3e-3)
    assert gradcheck(off, x, raise_exception=False) is False


def test_fast_mode_checks_one_product_per_input_and_catches_a_wrong_vjp():
    calls = []

    def f(x, y):
        calls.append(1)
        return (x @ y).tanh()

    x, y = Value(np.ones((5, 4)) * 0.1), Value(np.linspace(-1, 1, 12).reshape(4, 3))
    assert gradcheck(f, x, y, fast=True)
    assert len(calls) == 1 + 2 * 2              # one forward with grad, two per input
    calls.clear()
    assert gradcheck(f, x, y)
    assert len(calls) == 1 + 2 * (20 + 12)      # two per input element
    with pytest.raises(GradcheckError, match=r"\(fast\).*input 1"):
        gradcheck(bad_mul, x, Value(np.ones((5, 4))), fast=True)
    with pytest.raises(GradcheckError, match="fast"):
        gradcheck(lambda s: bad_square(s), Value(1.5), fast=True)  # scalars too
    for seed in range(5):                       # any random direction sees the error
        with pytest.raises(GradcheckError):
            gradcheck(lambda x: bad_square(x).sum(axis=0), x, fast=True, seed=seed)


@given(values(shape=(3,), min_value=0.5, max_value=3.0))
def test_wrong_vjp_is_caught_at_every_nonzero_point(x):
    with pytest.raises(GradcheckError):
        gradcheck(bad_square, x)
    assert gradcheck(lambda x: x ** 2, x)


def test_pytorch_form_a_tuple_or_list_of_inputs():
    """gradcheck(f, (x, y)) as in torch.autograd.gradcheck: the same check as gradcheck(f, x, y)."""
    a = Value(np.array([[0.3, -1.2], [0.7, 0.1]]))
    b = Value(np.array([0.5, -0.4]))
    assert gradcheck(lambda x, y: (x * y).tanh().sum(), (a, b)) is True
    assert gradcheck(lambda x, y: (x * y).tanh().sum(), [a, b], fast_mode=True) is True
    assert gradgradcheck(lambda x, y: (x * y).tanh().sum(), (a, b)) is True
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: bad_square(x).sum(), (a,))
    with pytest.raises(ValueError, match="empty"):
        gradcheck(lambda x: x, ())


def test_fast_mode_is_fast():
    """fast_mode= is PyTorch's name for fast=: it runs the random-product check."""
    x = Value(np.linspace(-1.0, 1.0, 6))
    assert gradcheck(lambda v: v.sin() * v, x, fast_mode=True) is True
    assert gradcheck(lambda v: v.sin() * v, x, fast=True, fast_mode=True) is True
    with pytest.raises(ValueError, match="disagree"):
        gradcheck(lambda v: v.sin() * v, x, fast=True, fast_mode=False)
    with pytest.raises(TypeError, match="fast_mode"):
        gradcheck(lambda v: v.sin() * v, x, fast_mode="yes")
