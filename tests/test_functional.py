"""autograd.grad and the function transforms, against hand-computed values and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_xor import (
    Value,
    autograd,
    grad,
    hessian,
    hvp,
    jacobian,
    jvp,
    no_grad,
    value_and_grad,
)


def f_vec(x):
    return (x.sin() * x ** 2).sum() + (x[0] * x[-1]).exp()


def f_torch(x):
    import torch

    return (torch.sin(x) * x ** 2).sum() + torch.exp(x[0] * x[-1])


X = np.array([0.3, -0.7, 1.1])


def test_autograd_grad_to_third_order_and_no_grad_touched():
    x = Value(2.0)
    y = x ** 3
    (d1,) = autograd.grad(y, x, create_graph=True)
    (d2,) = autograd.grad(d1, x, create_graph=True)
    (d3,) = autograd.grad(d2, x)
    assert (d1.data, d2.data, d3.data) == (12.0, 12.0, 6.0)
    assert x._grad is None and y._grad is None


def test_autograd_grad_errors_and_allow_unused():
    x, z = Value(np.ones(2)), Value(3.0)
    y = (x * 2.0).sum()
    with pytest.raises(ValueError, match="input 1"):
        autograd.grad(y, [x, z])
    gx, gz = autograd.grad(y, [x, z], allow_unused=True)
    np.testing.assert_array_equal(gx.data, [2.0, 2.0])
    assert gz.data == 0.0
    with pytest.raises(ValueError, match="shape"):
        autograd.grad(x * 2.0, x)  # a tensor output needs grad_outputs
    with pytest.raises(TypeError, match="input 0"):
        autograd.grad(y, [np.ones(2)])
    (g,) = autograd.grad(x * 2.0, x, np.array([1.0, 3.0]))
    np.testing.assert_array_equal(g.data, [2.0, 6.0])


def test_grad_and_value_and_grad_return_plain_data():
    g = grad(lambda x: x ** 3)(2.0)
    assert type(g) is float and g == 12.0
    v, g = value_and_grad(lambda x, y: x * y, argnums=(0, 1))(2.0, 5.0)
    assert v == 10.0 and g == (5.0, 2.0)
    ga = grad(f_vec)(X)
    assert isinstance(ga, np.ndarray) and ga.shape == (3,)
    with pytest.raises(ValueError, match="one element"):
        grad(lambda x: x * 2.0)(X)
    with pytest.raises(ValueError, match="argnums"):
        grad(lambda x: x, argnums=3)(1.0)


def test_nesting_with_closures_does_not_confuse_perturbations():
    assert grad(lambda x: x * grad(lambda y: x + y)(1.0))(1.0) == 1.0
    assert grad(lambda x: x * grad(lambda y: x * y)(2.0))(3.0) == 6.0  # d/dx x^2 at 3
    assert grad(grad(grad(lambda x: x ** 4)))(2.0) == 48.0
    third = jacobian(grad(lambda x: (x ** 3).sum()))(X)
    np.testing.assert_allclose(third, np.diag(6 * X))


def test_grad_of_a_function_of_parameters_is_a_value_that_backward_reaches():
    w = Value(np.array([0.5, -1.0]))
    slope = grad(lambda x: (x * w).tanh().sum())(np.array([1.0, 2.0]))
    assert isinstance(slope, Value) and slope.requires_grad
    (slope ** 2).sum().backward()
    assert np.all(np.isfinite(w.grad)) and np.any(w.grad != 0)


def test_transforms_work_inside_no_grad():
    with no_grad():
        assert grad(lambda x: x ** 2)(3.0) == 6.0
        np.testing.assert_allclose(hessian(lambda x: (x ** 3).sum())(X), np.diag(6 * X))


def test_shapes_of_jacobian_and_hessian_blocks():
    a, b = np.ones((2, 3)), np.ones(4)
    assert jacobian(lambda a: a * 2.0)(a).shape == (2, 3, 2, 3)
    blocks = hessian(lambda a, b: (a.sum() * b).sum(), argnums=(0, 1))(a, b)
    assert [[blk.shape for blk in row] for row in blocks] == [[(2, 3, 2, 3), (2, 3, 4)],
                                                               [(4, 2, 3), (4, 4)]]


def test_jvp_and_hvp_agree_with_the_jacobian_and_the_hessian():
    v = np.array([0.2, -1.0, 0.5])
    out, t = jvp(lambda x: x.sin() * x, (X,), (v,))
    np.testing.assert_allclose(t, jacobian(lambda x: x.sin() * x)(X) @ v)
    np.testing.assert_allclose(out, np.sin(X) * X)
    np.testing.assert_allclose(hvp(f_vec, X, v), hessian(f_vec)(X) @ v)


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    from torch.autograd import functional as F

    xt = torch.tensor(X)
    v = np.array([0.2, -1.0, 0.5])
    vt = torch.tensor(v)
    np.testing.assert_allclose(grad(f_vec)(X), torch.func.grad(f_torch)(xt).numpy(), rtol=1e-12)
    np.testing.assert_allclose(hessian(f_vec)(X), F.hessian(f_torch, xt).numpy(), rtol=1e-12)
    np.testing.assert_allclose(hvp(f_vec, X, v), F.hvp(f_torch, xt, vt)[1].numpy(), rtol=1e-12)
    g = lambda x: x.sin() * x  # noqa: E731
    np.testing.assert_allclose(jacobian(g)(X),
                               F.jacobian(lambda x: torch.sin(x) * x, xt).numpy(), rtol=1e-12)
    np.testing.assert_allclose(jvp(g, (X,), (v,))[1],
                               F.jvp(lambda x: torch.sin(x) * x, xt, vt)[1].numpy(), rtol=1e-12)


def test_a_nested_result_that_depends_on_a_finished_inner_variable_is_plain_data():
    # the inner gradient still depends on the inner variable y; once the inner transform has
    # returned, y is a number like any other, so the outer result is data, not a Value
    g = grad(lambda x: grad(lambda y: x * y * y)(2.0))(3.0)
    assert type(g) is float and g == 4.0
    g = grad(lambda x: grad(lambda y: (x * y).sin())(2.0))(3.0)
    assert type(g) is float and g == pytest.approx(np.cos(6.0) - 6.0 * np.sin(6.0))
    t = grad(lambda x: jvp(lambda y: (y * x).sin(), (2.0,), (1.0,))[1])(0.5)
    assert type(t) is float and t == pytest.approx(np.cos(1.0) - np.sin(1.0))
    j = jacobian(lambda x: x * grad(lambda y: (x * y * y).sum())(np.ones(2)))(np.array([1.0, 2.0]))
    assert isinstance(j, np.ndarray)
    np.testing.assert_allclose(j, np.diag([4.0, 8.0]))
    h = hvp(lambda x: (x * grad(lambda y: (x * y * y).sum())(np.ones(2))).sum(),
            np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    assert isinstance(h, np.ndarray)
    np.testing.assert_allclose(h, [4.0, 0.0])


def test_autograd_grad_takes_torchs_call_forms_of_grad_outputs():
    x = Value(np.array([1.0, 2.0, 3.0]))
    y = x * 2.0
    w = np.array([1.0, 1.0, 2.0])
    want = [2.0, 2.0, 4.0]
    for outputs, weights in [(y, [w]), ([y], w), (y, w), ([y], [w]), (y, [1.0, 1.0, 2.0]),
                             (y, (Value(w),))]:
        (g,) = autograd.grad(outputs, [x], grad_outputs=weights)
        np.testing.assert_array_equal(g.data, want)
    s = (x * x).sum()
    np.testing.assert_array_equal(autograd.grad(s, x, [2.0])[0].data, [4.0, 8.0, 12.0])
    with pytest.raises(ValueError, match="1 grad_outputs for 2 outputs"):
        autograd.grad([y, y], [x], grad_outputs=w)
