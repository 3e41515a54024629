"""What a transform's argument is: a new variable (JAX's and torch.func's semantics).

Each case of issue 18 with the value JAX and torch.func give; where PyTorch is installed the
same code runs through ``torch.func`` as the oracle, and a hypothesis property checks nestings
of two transforms against central finite differences of the outer function.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_xor import (
    Value,
    grad,
    hessian,
    hvp,
    jacobian,
    jvp,
    no_grad,
    value_and_grad,
)

# ---- the inner transform called at the outer variable, which it also captures ----


def test_an_inner_grad_at_the_outer_variable_counts_only_its_own_argument():
    # d/dy (x*y) = x, then d/dx x = 1 (perturbation confusion gave 2)
    assert grad(lambda x: grad(lambda y: x * y)(x))(3.0) == 1.0
    x = Value(3.0)
    assert grad(lambda x: grad(lambda y: x * y)(x))(x).data == 1.0


def test_jvp_hvp_inside_grad_at_the_outer_variable():
    # jvp of y -> x*y^2 along 1 is 2xy; at y = x it is 2x^2, whose derivative is 4x = 8
    assert grad(lambda x: jvp(lambda y: x * y ** 2, (x,), (1.0,))[1])(2.0) == 8.0
    # hvp of y -> x*y^3 is 6xy; at y = x: 6x^2, derivative 12x = 24
    assert grad(lambda x: hvp(lambda y: x * y ** 3, x, 1.0))(2.0) == 24.0


def test_a_force_at_the_centre_of_an_energy():
    # E(y) = c*y + (y - c)^2 / 2: the force -dE/dy = -(c + y - c) is -c at the centre y = c,
    # so its derivative in c is -1 (confusing y with c gave -2)
    energy = lambda c, y: c * y + 0.5 * (y - c) ** 2  # noqa: E731
    force_at_centre = lambda c: -grad(lambda y: energy(c, y))(c)  # noqa: E731
    assert grad(force_at_centre)(0.7) == -1.0
    assert grad(force_at_centre)(Value(0.7)).data == -1.0


def test_one_value_for_two_argnums_is_two_variables():
    x = Value(3.0)
    ga, gb = grad(lambda a, b: a * b, argnums=(0, 1))(x, x)
    assert (ga.data, gb.data) == (3.0, 3.0)
    h = hessian(lambda a, b: a * b, argnums=(0, 1))(x, x)
    assert [[float(b.data) for b in row] for row in h] == [[0.0, 1.0], [1.0, 0.0]]
    assert grad(lambda a, b: a * b, argnums=(0, 1))(3.0, 3.0) == (3.0, 3.0)


@pytest.mark.parametrize("make", [
    lambda: Value(np.array([1.0, 2.0])).detach(),
    lambda: Value(np.array([1.0, 2.0]), requires_grad=False),
    lambda: _under_no_grad(),
])
def test_an_argument_that_requires_no_grad_is_differentiated_like_any_other(make):
    f = lambda w: (w ** 3).sum()  # noqa: E731
    x = make()
    np.testing.assert_array_equal(grad(f)(x).data, [3.0, 12.0])
    np.testing.assert_array_equal(hessian(f)(x).data, np.diag([6.0, 12.0]))
    np.testing.assert_array_equal(jacobian(lambda w: w * w)(x).data, np.diag([2.0, 4.0]))
    np.testing.assert_array_equal(hvp(f, x, np.array([1.0, 0.0])).data, [6.0, 0.0])
    _, t = jvp(lambda w: w ** 2, (x,), (np.array([1.0, 1.0]),))
    np.testing.assert_array_equal(t.data, [2.0, 4.0])
    value, g = value_and_grad(f)(x)
    assert value.data == 9.0 and not g.requires_grad and not value.requires_grad
    assert not x.requires_grad  # the argument itself is untouched


def _under_no_grad() -> Value:
    with no_grad():
        return Value(np.array([1.0, 2.0])) * 1.0


def test_an_inner_transform_in_a_worker_thread_nests():
    def outer(x):
        with ThreadPoolExecutor(2) as pool:  # per-sample gradients in a thread pool
            gs = list(pool.map(lambda i: grad(lambda y: x[i] * y * y)(x[i]), range(2)))
        return gs[0] + 2.0 * gs[1]  # 2 x0^2 + 4 x1^2

    np.testing.assert_array_equal(grad(outer)(np.array([1.0, 2.0])), [4.0, 16.0])
    np.testing.assert_array_equal(hessian(outer)(np.array([1.0, 2.0])), np.diag([4.0, 8.0]))


def test_an_inner_transform_in_a_plain_thread_nests():
    def outer(x):
        box = []
        t = threading.Thread(target=lambda: box.append(grad(lambda y: (x * y * y).sum())(x)))
        t.start()
        t.join()
        return box[0].sum()  # sum 2 x^2

    np.testing.assert_array_equal(grad(outer)(np.array([1.0, 2.0])), [4.0, 8.0])


def test_what_is_computed_under_no_grad_is_a_constant_to_the_outer_transform():
    def e(x):
        with no_grad():
            shift = grad(lambda x: 0.25 * x ** 4)(x)
        return x ** 3 - shift

    assert grad(e)(1.5) == pytest.approx(6.75, rel=1e-15)
    with no_grad():
        r = grad(lambda v: v.sin())(Value(0.3))
    assert isinstance(r, Value) and not r.requires_grad and r.data == np.cos(0.3)
    with no_grad():
        assert type(grad(lambda v: v.sin())(0.3)) is float


def test_keyword_arguments_pass_through_and_are_not_differentiated():
    f = lambda a, b, c, flag=False: a * b * c if flag else a  # noqa: E731
    assert grad(f)(1.0, 2.0, 3.0, flag=True) == 6.0
    assert grad(f, argnums=(0, 2))(1.0, 2.0, 3.0, flag=True) == (6.0, 2.0)
    assert value_and_grad(f)(1.0, 2.0, 3.0) == (1.0, 1.0)
    np.testing.assert_array_equal(jacobian(lambda x, k: x * k)(np.ones(2), k=3.0),
                                  3.0 * np.eye(2))
    assert hessian(lambda x, p: x ** p)(2.0, p=3) == 12.0


@pytest.mark.parametrize("argnums", [(0, 0), (0, -2), (1, -1)])
def test_argnums_must_be_unique(argnums):
    with pytest.raises(ValueError, match="grad: argnums must be unique"):
        grad(lambda a, b: a * b, argnums=argnums)(1.0, 2.0)
    with pytest.raises(ValueError, match="hessian: argnums must be unique"):
        hessian(lambda a, b: a * b, argnums=argnums)(1.0, 2.0)


def test_errors_name_the_transform_and_the_argument():
    with pytest.raises(ValueError, match="^grad: f must return one element"):
        grad(lambda x: x * 2.0)(np.ones(2))
    with pytest.raises(TypeError, match="^grad: argument 0 must be a number"):
        grad(lambda x: x.sum())([1, "a"])
    with pytest.raises(TypeError, match="^jacobian: f must return one Value, got a list"):
        jacobian(lambda x: [x, x])(np.ones(2))
    with pytest.raises(ValueError, match="^hvp: the direction v"):
        hvp(lambda x: (x ** 2).sum(), np.ones(3), Value(np.ones(2)))
    with pytest.raises(ValueError, match="^jvp: tangent 0"):
        jvp(lambda x: x * 2.0, (np.ones(3),), (Value(np.ones(2)),))
    with pytest.raises(ValueError, match="^jvp: primals is empty"):
        jvp(lambda: Value(1.0), (), ())


def test_an_empty_output_has_an_empty_jacobian_nested_or_not():
    assert jacobian(lambda x: x[:0] * 2.0)(np.ones(3)).shape == (0, 3)
    w = Value(np.ones(3))
    j = jacobian(lambda x: (x * w)[:0])(np.ones(3))
    assert j.shape == (0, 3)
    h = jacobian(lambda x: grad(lambda y: (y * x).sum())(x)[:0])(np.ones(3))
    assert h.shape == (0, 3)


# ---- against torch.func, where PyTorch is installed ----


def test_the_cases_against_torch_func():
    torch = pytest.importorskip("torch")
    tf = torch.func
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    assert tf.grad(lambda x: tf.grad(lambda y: x * y)(x))(t(3.0)).item() == \
        grad(lambda x: grad(lambda y: x * y)(x))(3.0)
    tj = tf.grad(lambda x: tf.jvp(lambda y: x * y ** 2, (x,), (t(1.0),))[1])(t(2.0)).item()
    assert tj == grad(lambda x: jvp(lambda y: x * y ** 2, (x,), (1.0,))[1])(2.0)
    ta, tb = tf.grad(lambda a, b: a * b, argnums=(0, 1))(t(3.0), t(3.0))
    assert (ta.item(), tb.item()) == grad(lambda a, b: a * b, argnums=(0, 1))(3.0, 3.0)
    th = tf.hessian(lambda a, b: a * b, argnums=(0, 1))(t(3.0), t(3.0))
    h = hessian(lambda a, b: a * b, argnums=(0, 1))(Value(3.0), Value(3.0))
    assert [[b.item() for b in row] for row in th] == [[b.item() for b in row] for row in h]

    def te(x):
        with torch.no_grad():
            shift = tf.grad(lambda x: 0.25 * x ** 4)(x)
        return x ** 3 - shift

    def e(x):
        with no_grad():
            shift = grad(lambda x: 0.25 * x ** 4)(x)
        return x ** 3 - shift

    assert tf.grad(te)(t(1.5)).item() == pytest.approx(grad(e)(1.5), rel=1e-15)
    with torch.no_grad():
        tr = tf.grad(lambda v: v.sin())(t(0.3))
    with no_grad():
        r = grad(lambda v: v.sin())(Value(0.3))
    assert tr.requires_grad == r.requires_grad is False


# ---- property: nestings of two transforms, against finite differences and torch.func ----

INNER = ["grad", "jvp", "hvp", "jacobian"]
OUTER = ["grad", "hessian"]
WHERE = ["at the outer variable", "at a detached value", "in a worker thread", "at data"]


def _inner(kind: str, g, y):
    """An inner transform of ``g(x, y)`` in y, at y, reduced to one element."""
    if kind == "grad":
        return lambda x: grad(lambda y: g(x, y).sum())(y(x)).sum()
    if kind == "jvp":
        return lambda x: jvp(lambda y: g(x, y), (y(x),), (np.ones(2),))[1].sum()
    if kind == "hvp":
        return lambda x: hvp(lambda y: g(x, y).sum(), y(x), np.array([1.0, -0.5])).sum()
    return lambda x: jacobian(lambda y: g(x, y))(y(x)).sum()


def _at(where: str, x0: np.ndarray):
    if where == "at the outer variable":
        return lambda x: x
    if where == "at a detached value":  # a Value that requires no grad, fixed for the outer
        return lambda x: Value(x0 + 0.25).detach()
    if where == "at data":
        return lambda x: np.array([0.3, -0.4])
    return lambda x: x  # the thread case calls the inner transform in a worker


def _in_thread(f):
    def run(x):
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(f, x).result()
    return run


G = [
    lambda x, y: (x * y).sin() * y,
    lambda x, y: (x + y * y).tanh() * x,
    lambda x, y: (x * x * y).exp() * 0.1 + y * x,
]


def _finite_grad(h, x, eps=1e-5):
    out = np.zeros_like(x)
    for i in range(x.size):
        d = np.zeros_like(x)
        d[i] = eps
        out[i] = (h(x + d) - h(x - d)) / (2 * eps)
    return out


@settings(max_examples=40, deadline=None)
@given(inner=st.sampled_from(INNER), outer=st.sampled_from(OUTER),
       where=st.sampled_from(WHERE), gi=st.integers(0, len(G) - 1),
       x=st.lists(st.floats(-1.0, 1.0), min_size=2, max_size=2))
def test_nested_transforms_agree_with_finite_differences(inner, outer, where, gi, x):
    x = np.array(x)
    h = _inner(inner, G[gi], _at(where, x))
    if where == "in a worker thread":
        h = _in_thread(h)
    plain = lambda x: float(h(x).data) if isinstance(h(x), Value) else float(h(x))  # noqa: E731
    if outer == "grad":
        got = grad(h)(x)
        want = _finite_grad(plain, x)
        np.testing.assert_allclose(np.asarray(getattr(got, "data", got)), want, atol=2e-6,
                                   rtol=1e-5)
    else:
        got = hessian(h)(x)
        want = np.array([_finite_grad(lambda z, i=i: grad(h)(z)[i], x) for i in range(2)])
        np.testing.assert_allclose(np.asarray(getattr(got, "data", got)), want, atol=2e-5,
                                   rtol=1e-4)


def _torch_inner(kind: str, g, y, torch):
    tf = torch.func
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    if kind == "grad":
        return lambda x: tf.grad(lambda y: g(x, y).sum())(y(x)).sum()
    if kind == "jvp":
        return lambda x: tf.jvp(lambda y: g(x, y), (y(x),), (t([1.0, 1.0]),))[1].sum()
    if kind == "hvp":
        return lambda x: tf.jvp(tf.grad(lambda y: g(x, y).sum()), (y(x),),
                                (t([1.0, -0.5]),))[1].sum()
    return lambda x: tf.jacrev(lambda y: g(x, y))(y(x)).sum()


@settings(max_examples=40, deadline=None)
@given(inner=st.sampled_from(INNER), outer=st.sampled_from(OUTER),
       where=st.sampled_from([w for w in WHERE if w != "in a worker thread"]),
       gi=st.integers(0, len(G) - 1),
       x=st.lists(st.floats(-1.0, 1.0), min_size=2, max_size=2))
def test_nested_transforms_agree_with_torch_func(inner, outer, where, gi, x):
    torch = pytest.importorskip("torch")
    x = np.array(x)
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    if where == "at the outer variable":
        ty = lambda z: z  # noqa: E731
    elif where == "at data":
        ty = lambda z: t([0.3, -0.4])  # noqa: E731
    else:
        ty = lambda z: t(x + 0.25)  # noqa: E731
    h = _inner(inner, G[gi], _at(where, x))
    th = _torch_inner(inner, G[gi], ty, torch)
    transform = {"grad": (grad, torch.func.grad), "hessian": (hessian, torch.func.hessian)}
    ours, theirs = transform[outer]
    got = ours(h)(x)
    want = theirs(th)(t(x)).numpy()
    np.testing.assert_allclose(np.asarray(getattr(got, "data", got)), want, rtol=1e-10,
                               atol=1e-12)
