"""gradcheck itself: it passes on correct gradients, reports wrong ones clearly, touches nothing."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_xor import (
    GradcheckError,
    Value,
    autograd,
    gradcheck,
    gradgradcheck,
    jvp,
    no_grad,
    primitive,
)
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


# -- f that differentiates inside: finite differences run with grad mode on ----------------

def _plain(x):
    return x.data if isinstance(x, Value) else x


# x ** 3 whose vjp takes x from .data: the first derivative is right, its own derivative 0.
frozen_cube = primitive(lambda x: x ** 3, lambda grad, out, x: (grad * 3 * _plain(x) ** 2,),
                        name="frozen_cube")


def test_a_function_that_calls_autograd_grad_with_create_graph_is_checked():
    x = Value(np.array([0.5, 1.5]))
    w = Value(2.0)
    w.grad = 5.0
    f = lambda x: autograd.grad((w * x ** 3).sum(), x, create_graph=True)[0].sum()  # 6wx, summed
    assert gradcheck(f, x) is True
    assert gradcheck(f, x, fast=True) is True
    assert gradcheck(lambda x, w: autograd.grad((w * x ** 3).sum(), x, create_graph=True)[0],
                     x, w) is True                      # tensor output, two inputs
    assert x._grad is None and w.grad == 5.0 and np.array_equal(x.data, [0.5, 1.5])
    wrong = lambda x: autograd.grad(frozen_cube(x).sum(), x, create_graph=True)[0].sum()
    with pytest.raises(GradcheckError) as info:
        gradcheck(wrong, x)                             # d/dx 3x^2 = 6x = 9 at 1.5, not 0
    found = re.search(r"input element \(1,\) .*: analytic 0.0, numeric ([-\d.e]+)", str(info.value))
    assert found is not None and float(found.group(1)) == pytest.approx(9.0, rel=1e-6)
    with pytest.raises(GradcheckError, match="fast"):
        gradcheck(wrong, x, fast=True)


def test_gradcheck_under_no_grad_checks_the_gradients_all_the_same():
    x = Value(np.array([0.5, 1.5]))
    with no_grad():
        assert gradcheck(lambda x: (x * x).sin(), x) is True
        assert gradcheck(lambda x: autograd.grad((x ** 3).sum(), x, create_graph=True)[0], x)
        assert gradgradcheck(lambda x: (x * x).sin().sum(), x) is True
        with pytest.raises(GradcheckError):
            gradcheck(bad_square, x)


# -- the options of both checks ------------------------------------------------------------

@pytest.mark.parametrize("check", [gradcheck, gradgradcheck], ids=lambda c: c.__name__)
@pytest.mark.parametrize("options, error, words", [
    ({"seed": -1}, ValueError, "seed must be an integer >= 0, got -1"),
    ({"seed": 1.5}, TypeError, "seed must be an integer"),
    ({"seed": True}, TypeError, "seed must be an integer"),
    ({"eps": 0.0}, ValueError, "eps must be a finite number > 0"),
    ({"eps": -1e-6}, ValueError, "eps must be a finite number > 0"),
    ({"eps": float("inf")}, ValueError, "eps must be a finite number > 0"),
    ({"eps": "1e-6"}, TypeError, "eps must be a number, got str"),
    ({"atol": -1.0}, ValueError, "atol must be a finite number >= 0"),
    ({"atol": None}, TypeError, "atol must be a number, got NoneType"),
    ({"rtol": float("nan")}, ValueError, "rtol must be a finite number >= 0"),
    ({"rtol": [1e-3]}, TypeError, "rtol must be a number, got list"),
    ({"atol": 0.0, "rtol": 0}, ValueError, "atol and rtol are both 0"),
    ({"raise_exception": 0}, TypeError, "raise_exception must be True or False"),
])
def test_bad_options_name_the_function_and_the_argument(check, options, error, words):
    x = Value(np.array([0.5, 1.5]))
    with pytest.raises(error, match=f"^{check.__name__}: {re.escape(words)}"):
        check(lambda x: (x * x).sum(), x, **options)


def test_gradgradcheck_names_itself_for_bad_calls():
    with pytest.raises(TypeError, match="^gradgradcheck: f must be a function"):
        gradgradcheck(3.0, Value(1.0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^gradgradcheck: f must return a Value"):
        gradgradcheck(lambda x: 3.0, Value(1.0))
    with pytest.raises(ValueError, match="^gradgradcheck: no input requires grad"):
        gradgradcheck(lambda x: x * x, Value(1.0, requires_grad=False))
    with pytest.raises(GradcheckError, match="^gradgradcheck: the first derivative of f with "
                                             "respect to input 0 has non-finite entries"):
        gradgradcheck(lambda x: x.sqrt(), Value(0.0))   # sqrt is finite at 0, its slope is not


# -- a vjp that is not linear in its upstream gradient ---------------------------------------

# sin with vjps that are right when the upstream gradient is 1 (and, the first one, 0) only.
squared_sin = primitive(np.sin, lambda g, out, x: (g * g * np.cos(x),), name="squared_sin")
constant_sin = primitive(np.sin, lambda g, out, x: (np.cos(x) + 0 * g,), name="constant_sin")
NONLINEAR = "not linear in its upstream gradient"


CASES = {  # f(op, x) and x
    "sum": (lambda op, x: op(x).sum(), Value(np.array([0.3, 1.0, -2.0]))),
    "scalar": (lambda op, x: op(x), Value(0.4)),
    "tensor": (lambda op, x: op(x).sum(axis=1), Value(np.array([[0.3, 1.0], [-2.0, 0.7]]))),
    "outputs": (lambda op, x: (x, op(x * 2.0)), Value(np.array([0.3, 1.0]))),
}


# constant_sin is right for a unit upstream gradient of a scalar output only: the zeros of the
# unit upstream gradients of a tensor output show it in the Jacobian already.
@pytest.mark.parametrize("op, case", [
    *(pytest.param(squared_sin, case, id=f"g*g-{case}") for case in CASES),
    *(pytest.param(constant_sin, case, id=f"constant-{case}") for case in ("sum", "scalar")),
])
def test_a_vjp_not_linear_in_its_upstream_gradient_fails_every_check(op, case):
    f, x = CASES[case]
    right = x.sin().sum().data if x.shape else x.sin().data
    with pytest.raises(GradcheckError, match=NONLINEAR):
        gradcheck(lambda x: f(op, x), x)
    with pytest.raises(GradcheckError, match=NONLINEAR):
        gradgradcheck(lambda x: f(op, x), x)
    with pytest.raises(GradcheckError, match="fast"):
        gradcheck(lambda x: f(op, x), x, fast=True)
    assert gradcheck(lambda x: f(lambda v: v.sin(), x), x)
    assert gradgradcheck(lambda x: f(lambda v: v.sin(), x), x)
    assert right == (x.sin().sum().data if x.shape else x.sin().data)  # x is left as it was


def test_the_nonlinear_vjp_is_right_for_unit_upstream_gradients_and_breaks_jvp():
    """Why it needs its own check: every Jacobian entry comes out right, yet jvp (which
    differentiates the vjp with respect to its upstream gradient, at 0) returns 0."""
    x = np.array([0.3, 1.0])
    v = Value(x)
    (g,) = autograd.grad(squared_sin(v).sum(), v)
    np.testing.assert_allclose(g.data, np.cos(x))
    _, tangent = jvp(lambda v: squared_sin(v).sum(), (x,), (np.ones(2),))
    assert tangent == 0.0
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda v: squared_sin(v).sum(), Value(x))
    message = str(info.value)
    assert message.startswith("gradcheck failed: the vjp of output 0 with respect to input 0 is "
                              "not linear in its upstream gradient")
    assert "input element (0,)" in message and "u^T J (numeric)" in message
    found = re.search(r"vjp\(u\) ([-\d.e]+), u\^T J \(numeric\) ([-\d.e]+)", message)
    assert found is not None
    u = float(found.group(2)) / np.cos(0.3)             # u^T J = u cos(x[0]); the vjp u^2 cos
    assert abs(u) >= 1.5 and float(found.group(1)) == pytest.approx(u * u * np.cos(0.3))


def test_the_random_upstream_gradient_costs_one_backward_per_output(monkeypatch):
    passes = []
    real = autograd.grad

    def counting(*args, **kwargs):
        passes.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(autograd, "grad", counting)
    x = Value(np.array([0.5, 1.5, 2.5]))
    assert gradcheck(lambda x: (x.exp(), x.sum()), x)
    assert len(passes) == 3 + 1 + 2          # one per output element, then one per output


def test_gradgradcheck_sees_a_wrong_first_derivative():
    """The first derivatives it differentiates are checked first: a wrong one is reported as
    such, not differentiated (bad_square's x has the right derivative of itself, 1)."""
    x = Value(np.array([0.5, 1.5]))
    with pytest.raises(GradcheckError, match="^gradgradcheck failed: the first derivative of f "
                                             "with respect to input 0"):
        gradgradcheck(lambda x: bad_square(x).sum(), x)
    assert gradgradcheck(lambda x: bad_square(x).sum(), x, raise_exception=False) is False
    assert x._grad is None and np.array_equal(x.data, [0.5, 1.5])
