"""Every primitive in the op table against central finite differences, over random shapes.

The test walks `ops.PRIMITIVES`: a primitive without an input recipe below fails
`test_every_primitive_has_a_recipe`, so a new op is covered the day it is added.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_xor import Value, gradcheck, gradgradcheck
from tinygrad_xor.core import ops
from tinygrad_xor.core.ops import PRIMITIVES

FLOATS = st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=64)


def arrays(shape, elements=FLOATS):
    """A Value of the given shape (shape () gives a scalar Value)."""
    return hnp.arrays(np.float64, shape, elements=elements).map(Value)


def shapes(min_dims=1, max_dims=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=3)


def away_from_zero(x):
    return np.sign(x) * (0.2 + np.abs(x)) + (x == 0) * 0.2


@st.composite
def broadcast_pair(draw):
    pair = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    a, b = pair.input_shapes
    return (draw(arrays(a)), draw(arrays(b))), {}


@st.composite
def pow_case(draw):
    p = draw(st.sampled_from([2.0, 3.0, -1.0, -2.0, 0.5, 1.5, 0.0, 1.0]))
    shape = draw(st.one_of(st.just(()), shapes()))
    x = draw(hnp.arrays(np.float64, shape, elements=FLOATS))
    x = np.abs(x) + 0.3 if not float(p).is_integer() else away_from_zero(x)
    return (Value(x),), {"p": p}


@st.composite
def matmul_case(draw):
    n, k, m = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["vv", "vm", "mv", "mm", "batched"]))
    if kind == "vv":
        a, b = (k,), (k,)
    elif kind == "vm":
        a, b = (k,), draw(st.sampled_from([(), (2,), (2, 1)])) + (k, m)
    elif kind == "mv":
        a, b = draw(st.sampled_from([(), (2,), (1, 2)])) + (n, k), (k,)
    elif kind == "mm":
        a, b = (n, k), (k, m)
    else:
        batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=2,
                                                       max_side=3))
        a, b = batch.input_shapes[0] + (n, k), batch.input_shapes[1] + (k, m)
    return (draw(arrays(a)), draw(arrays(b))), {}


def unary(elements=FLOATS, scalars=True, transform=None):
    @st.composite
    def case(draw):
        shape = draw(st.one_of(st.just(()), shapes()) if scalars else shapes())
        x = draw(hnp.arrays(np.float64, shape, elements=elements))
        return (Value(transform(x) if transform else x),), {}
    return case()


@st.composite
def axis_case(draw, distinct=False):
    shape = draw(shapes())
    x = draw(hnp.arrays(np.float64, shape, elements=FLOATS))
    if distinct:  # no ties: a tie is a kink, where finite differences disagree by design
        gaps = np.diff(np.sort(x.ravel()))
        assume(gaps.size == 0 or gaps.min() > 1e-3)
    axis = draw(st.one_of(
        st.none(),
        st.integers(-len(shape), len(shape) - 1),
        st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True).map(tuple)))
    return (Value(x),), {"axis": axis, "keepdims": draw(st.booleans())}


@st.composite
def reshape_case(draw):
    shape = draw(shapes())
    size = int(np.prod(shape))
    new = draw(st.sampled_from([(size,), (-1,), shape[::-1], (1, size), (size, 1, 1)]))
    return (draw(arrays(shape)),), {"shape": new}


@st.composite
def transpose_case(draw):
    shape = draw(shapes())
    axes = draw(st.one_of(st.none(), st.permutations(range(len(shape))).map(tuple)))
    return (draw(arrays(shape)),), {"axes": axes}


@st.composite
def getitem_case(draw):
    if draw(st.integers(0, 5)) == 0:  # a scalar (shape ()) takes new axes only, as in PyTorch
        index = draw(st.sampled_from([None, (None, None), Ellipsis, (Ellipsis, None)]))
        return (draw(arrays(())),), {"index": index}
    shape = draw(shapes())
    kind = draw(st.sampled_from(["int", "slice", "array", "tuple"]))
    if kind == "int":
        index = draw(st.integers(-shape[0], shape[0] - 1))
    elif kind == "slice":
        index = slice(draw(st.integers(0, shape[0])), None, draw(st.sampled_from([1, 2, -1])))
    elif kind == "array":  # repeats allowed: their gradients must add up
        index = draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=5))
    else:
        index = (draw(st.integers(0, shape[0] - 1)),) + (slice(None),) * (len(shape) - 1)
    return (draw(arrays(shape)),), {"index": index}


def _away_from(x, points, gap=0.2):
    """x moved at least ``gap`` away from each of ``points`` (kinks of the op)."""
    x = np.array(x, dtype=np.float64)
    for c in points:
        near = np.abs(x - c) < gap
        x = np.where(near, c + np.where(x >= c, gap, -gap), x)
    return x


@st.composite
def clip_case(draw):
    shape = draw(st.one_of(st.just(()), shapes()))
    lo = draw(st.one_of(st.none(), st.floats(-2, 0)))
    hi = draw(st.one_of(st.none(), st.floats(0.5, 2))) if lo is not None else draw(
        st.floats(0.5, 2))
    x = _away_from(draw(hnp.arrays(np.float64, shape, elements=FLOATS)),
                   [c for c in (lo, hi) if c is not None])
    if draw(st.booleans()):  # number bounds: parameters of the op
        return (Value(x),), {"lo": lo, "hi": hi}
    # Value bounds: operands (a missing one is infinite), of shape () or x's shape
    bound_shape = draw(st.sampled_from([(), shape]))
    bounds = [Value(np.full(bound_shape, c) if bound_shape else c) if c is not None else
              Value(np.inf if i else -np.inf, requires_grad=False)
              for i, c in enumerate((lo, hi))]
    return (Value(x), *bounds), {"lo": None, "hi": None}


@st.composite
def power_case(draw):
    """a ** b with a Value exponent, over a positive base (a negative base has no derivative
    in the exponent: tests/test_torch_oracle.py compares it with PyTorch's) and b != 0 (where
    PyTorch's rule sets d/da to 0, so its derivative in b is 0, not a ** -1 as ours)."""
    pair = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    a, b = pair.input_shapes
    exponent = hnp.arrays(np.float64, b, elements=FLOATS).map(away_from_zero).map(Value)
    return (draw(arrays(a, st.floats(0.3, 3))), draw(exponent)), {}


@st.composite
def untied_pair(draw):
    (a, b), _ = draw(broadcast_pair())
    gap = np.asarray(a.data) - np.asarray(b.data)
    assume(np.all(np.abs(gap) > 1e-2))  # a tie is a kink
    return (a, b), {}


@st.composite
def where_case(draw):
    (a, b), _ = draw(broadcast_pair())
    shape = np.broadcast_shapes(a.shape, b.shape)
    cond = draw(hnp.arrays(np.bool_, shape))
    return (a, b), {"cond": cond}


@st.composite
def join_case(draw, new_axis):
    shape = draw(shapes())
    axis = draw(st.integers(-len(shape) - new_axis, len(shape) - 1 + new_axis))
    n = draw(st.integers(1, 3))
    values = []
    for _ in range(n):
        s = list(shape)
        if not new_axis:
            s[axis] = draw(st.integers(1, 3))
        values.append(draw(arrays(tuple(s))))
    return tuple(values), {"axis": axis}


@st.composite
def broadcast_to_case(draw):
    pair = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    shape = pair.result_shape
    return (draw(arrays(pair.input_shapes[0])),), {"shape": shape}


@st.composite
def scatter_case(draw):
    (x,), params = draw(getitem_case())
    small = np.asarray(x.data)[params["index"]]
    g = draw(arrays(np.shape(small)))
    return (g,), {"shape": x.shape, "index": params["index"]}


@st.composite
def keep_case(draw):
    """g where a mask of 0s and 1s holds: the mask drawn away from the threshold 0.5."""
    (m, g), _ = draw(broadcast_pair())
    off = np.where(np.asarray(m.data) > 0, 0.7, 0.3) + 0.1 * np.tanh(np.asarray(m.data))
    return (Value(off) if np.ndim(off) else Value(float(off)), g), {}


RECIPES = {
    "add": broadcast_pair(),
    "sub": broadcast_pair(),
    "mul": broadcast_pair(),
    "pow": pow_case(),
    "power": power_case(),
    "matmul": matmul_case(),
    "relu": unary(transform=away_from_zero),  # the kink at 0 is not differentiable
    "sigmoid": unary(),
    "tanh": unary(),
    "exp": unary(),
    "log": unary(st.floats(0.1, 10)),
    "sum": axis_case(),
    "mean": axis_case(),
    "max": axis_case(distinct=True),
    "reshape": reshape_case(),
    "transpose": transpose_case(),
    "getitem": getitem_case(),
    "abs": unary(transform=away_from_zero),
    "sqrt": unary(st.floats(0.1, 10)),
    "sin": unary(),
    "cos": unary(),
    "clip": clip_case(),
    "maximum": untied_pair(),
    "minimum": untied_pair(),
    "where": where_case(),
    "concatenate": join_case(new_axis=False),
    "stack": join_case(new_axis=True),
    "broadcast_to": broadcast_to_case(),
    "scatter": scatter_case(),
    "mask": unary(transform=away_from_zero).map(lambda c: (c[0], {"fn": ops.positive})),
    "keep": keep_case(),
}


def test_every_primitive_has_a_recipe():
    assert set(PRIMITIVES) == set(RECIPES)


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
@given(data=st.data())
def test_primitive_gradient_matches_finite_differences(name, data):
    inputs, params = data.draw(RECIPES[name], label="inputs")
    prim = PRIMITIVES[name]
    assert gradcheck(lambda *xs: prim(*xs, **params), *inputs)


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
@given(data=st.data())
def test_primitive_second_derivatives_match_finite_differences(name, data):
    """Every rule is differentiable again: its gradient's gradient against finite differences
    of the gradient (as built with create_graph=True)."""
    inputs, params = data.draw(RECIPES[name], label="inputs")
    prim = PRIMITIVES[name]
    assert gradgradcheck(lambda *xs: prim(*xs, **params), *inputs)


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
@given(data=st.data())
def test_primitive_forward_matches_numpy_and_grad_has_input_shape(name, data):
    inputs, params = data.draw(RECIPES[name], label="inputs")
    out = PRIMITIVES[name](*inputs, **params)
    with np.errstate(all="ignore"):
        expected = PRIMITIVES[name].forward(*[np.asarray(v.data) for v in inputs], **params)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-300)
    out.backward(np.ones(out.shape) if out.shape else None)
    for v in inputs:
        assert np.shape(v.grad) == v.shape
        assert type(v.grad) is float if v.shape == () else isinstance(v.grad, np.ndarray)


# -- derived operations go through the same check ---------------------------------------------

@given(data=st.data())
def test_derived_ops_match_finite_differences(data):
    (a, b), _ = data.draw(broadcast_pair())
    b.data = away_from_zero(np.asarray(b.data)) if b.shape else float(away_from_zero(b.data))
    assert gradcheck(lambda a, b: a - b, a, b)
    assert gradcheck(lambda a, b: a / b, a, b)
    assert gradcheck(lambda a: -a, a)
    assert gradcheck(lambda a, b: 3.0 / b - 2 * a + 1, a, b)


@given(case=axis_case())
def test_mean_matches_finite_differences(case):
    (x,), params = case
    assert gradcheck(lambda x: x.mean(**params), x)


@given(data=st.data())
def test_value_exponent_matches_finite_differences(data):
    shape = data.draw(st.one_of(st.just(()), shapes()))
    a = data.draw(arrays(shape, st.floats(0.5, 3)))
    b = data.draw(arrays(data.draw(st.sampled_from([(), shape])), st.floats(-2, 2)))
    assert gradcheck(lambda a, b: a ** b, a, b)
    assert gradcheck(lambda b: 2.0 ** b, b)


def test_value_exponent_has_the_right_second_derivatives_at_exponent_zero():
    # d/da a ** b = b * a ** (b - 1) is 0 at b = 0, but its derivative in b is a ** -1
    a, b = Value([2.0, 0.5]), Value([0.0, 0.0])
    assert gradgradcheck(lambda a, b: a ** b, a, b)
