"""jit: compiled == eager (bit for bit in the numpy backend), through the transforms, with
masks recomputed, refusals of what a trace cannot see, retraces, threads and loop."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest
from hypothesis import given, settings

from tinygrad_xor import (
    TraceError,
    Value,
    grad,
    hessian,
    jit,
    maximum,
    minimum,
    no_grad,
    stack,
    value_and_grad,
    where,
)
from tinygrad_xor.compiler_numba import available
from tinygrad_xor.testing import expressions
from tinygrad_xor.xor import X, Y

#: The backends the hypothesis tests below run (numba's, slower to compile, has its own in
#: test_jit_numba.py), and those the other tests run: numba's too where it is installed.
DRAWN = ("numpy", "python")
BACKENDS = DRAWN + (("numba",) if available() else ())
#: numpy runs the eager engine's own functions in its order: the same bits; python sums a
#: matmul's products in its own order, with float kernels: the same to rounding; numba
#: compiles python's lines
RTOL = {"numpy": 0.0, "python": 1e-12, "numba": 1e-12}


@pytest.fixture(autouse=True, scope="module")
def _numba_cache(tmp_path_factory):
    """numba's generated modules in a directory of the test run's, not the user's cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield
RNG = np.random.default_rng(0)
P0 = (RNG.normal(size=(2, 2)), RNG.normal(size=2), RNG.normal(size=(2, 1)), RNG.normal(size=1))


def loss(w1, b1, w2, b2):
    out = ((X @ w1 + b1).sigmoid() @ w2 + b2).sigmoid()
    return ((out - Y) ** 2).mean()


def step(w1, b1, w2, b2):
    _, g = value_and_grad(loss, argnums=(0, 1, 2, 3))(w1, b1, w2, b2)
    return tuple(p - 0.5 * gp for p, gp in zip((w1, b1, w2, b2), g))


def _data(x):
    return x.data if isinstance(x, Value) else x


def _same(a, b, rtol=0.0):
    """Equal (NaN equal to NaN), floats as floats and arrays as arrays: bit for bit by default.

    The eager engine runs a first-order pass on numbers, where a compiled function runs the
    rules on Values (as ``create_graph=True`` does): a rule's two forms may round differently
    (``grad / x`` is a divide on numbers, ``grad * x ** -1`` on Values), hence ``rtol``."""
    a, b = _data(a), _data(b)
    assert type(a) is type(b) or (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)), \
        (type(a), type(b))
    if rtol:  # (and an absolute 1e-13: where a result cancels, as 1 - tanh(x)^2 near 1 does,
        # one ulp of difference between libm's tanh and NumPy's is a larger relative one)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-13)
    else:
        np.testing.assert_array_equal(a, b)


@settings(max_examples=60, deadline=None)
@given(expressions(max_ops=6))
def test_compiled_equals_eager_for_every_operation(expr):
    f, inputs = expr
    data = [v.data for v in inputs]
    argnums = tuple(range(len(inputs)))
    g = lambda *xs: grad(lambda *ys: f(*ys).sum(), argnums=argnums)(*xs)  # noqa: E731
    for backend in DRAWN:
        _same(jit(lambda *xs: f(*xs), backend=backend)(*data), f(*inputs), RTOL[backend])
        for a, b in zip(jit(g, backend=backend)(*data), g(*data)):
            _same(a, b, rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(expressions(max_ops=4, max_inputs=2, max_side=2))
def test_compiled_second_derivatives_equal_eager(expr):
    f, inputs = expr
    data = [v.data for v in inputs]
    rest = [Value(d, requires_grad=False) for d in data[1:]]
    h = hessian(lambda x: f(x, *rest).sum())
    for backend in DRAWN:
        _same(np.asarray(jit(h, backend=backend)(*data[:1])), np.asarray(h(*data[:1])),
              rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_training_step_and_its_hessian_equal_eager(backend):
    got = jit(step, backend=backend)(*P0)
    for a, b in zip(got, step(*P0)):
        _same(a, b, RTOL[backend])
    hess = hessian(loss, argnums=(0, 1, 2, 3))
    for row_a, row_b in zip(jit(hess, backend=backend)(*P0), hess(*P0)):
        for a, b in zip(row_a, row_b):
            _same(a, b, RTOL[backend])


@pytest.mark.parametrize("backend", [pytest.param(b, marks=pytest.mark.slow) if b == "numba"
                                     else b for b in BACKENDS])  # (numba compiles ~40 s)
def test_nan_inf_and_signed_zeros_come_out_as_in_the_eager_engine(backend):
    """Where the python and numba backends compute on floats: NaN kept by maximum, minimum and
    max as NumPy keeps it, x ** 0.5 as NumPy's square root, the masks at NaN."""
    special = [np.nan, np.inf, -np.inf, 0.0, -0.0, -2.0, 1.5]
    a, b = (x.ravel() for x in np.meshgrid(special, special))

    def f(a, b):
        def total(a, b):
            return (maximum(a, b) * 2.0 + minimum(a, b) * 3.0 + stack([a, b]).max(axis=0)
                    + a.relu() * b + abs(b) + a.clip(-1.0, 1.0) * 5.0).sum()
        return (maximum(a, b), minimum(a, b), stack([a, b]).max(axis=0), a ** 0.5,
                *grad(total, argnums=(0, 1))(a, b))

    with np.errstate(all="ignore"):
        eager = f(Value(a), Value(b))
        compiled = jit(f, backend=backend)(a, b)
    for x, y in zip(compiled, eager):
        _same(x, y, RTOL[backend])
        np.testing.assert_array_equal(np.signbit(_data(x)[_data(x) == 0]),
                                      np.signbit(_data(y)[_data(y) == 0]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_relu_net_trained_300_steps_compiled_equals_eager(backend):
    def relu_step(w1, b1, w2, b2):
        def loss(w1, b1, w2, b2):
            out = (X @ w1 + b1).relu() @ w2 + b2
            return ((out - Y) ** 2).mean()

        g = grad(loss, argnums=(0, 1, 2, 3))(w1, b1, w2, b2)
        return tuple(p - 0.1 * gp for p, gp in zip((w1, b1, w2, b2), g))

    compiled = jit(relu_step, backend=backend)
    eager = compiled_params = P0
    for _ in range(300):
        eager = tuple(_data(p) for p in relu_step(*eager))
        compiled_params = compiled(*compiled_params)
    for a, b in zip(compiled_params, eager):
        _same(a, b, 1e-9 if RTOL[backend] else 0.0)
    assert compiled.traces == 1  # the masks were recomputed, not frozen
    # relu's mask: a call of the rule's function (numpy), or its expression on each element
    assert ("positive(" if backend == "numpy" else "> 0.0 else 0.0)") in compiled.source


@pytest.mark.parametrize("backend", BACKENDS)
def test_masks_are_recomputed_on_every_call(backend):
    h = grad(lambda x: (maximum(x, 0.5) + x.abs() + x.clip(-1.0, 1.0) + x.max()).sum())
    f = jit(h, backend=backend)
    for x in (np.array([-2.0, 0.3, 0.7, 2.0]), np.array([2.0, -0.7, 2.0, 0.9])):
        _same(f(x), h(x), RTOL[backend])


def test_reading_a_traced_values_numbers_is_a_trace_error_naming_the_line():
    def branchy(x):
        if x.data.sum() > 0:  # a branch on the data
            return x * 2.0
        return x * 3.0

    with pytest.raises(TraceError, match=r"test_jit.py:\d+: if x.data.sum\(\) > 0.*static_argnums"):
        jit(branchy)(np.ones(2))
    for read, what in ((lambda x: x.item(), "item()"), (lambda x: float(x), "float()"),
                       (lambda x: np.asarray(x), "np.asarray()"), (lambda x: x.grad, ".grad")):
        with pytest.raises(TraceError, match=re.escape(what)):  # the message names the read
            jit(lambda x, read=read: read(x * 1.0))(1.0)
    with pytest.raises(TraceError):
        jit(lambda x: (x * x).backward())(1.0)
    # the way out: both branches and where
    f = jit(lambda x, cond: where(cond, x * 2.0, x * 3.0), static_argnums=())
    _same(f(np.ones(2), np.array([True, False])), np.array([2.0, 3.0]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_static_arguments_and_new_shapes_retrace(backend):
    f = jit(lambda x, n: x * float(n), static_argnums=1, backend=backend)
    _same(f(np.ones(2), 3), np.full(2, 3.0))
    _same(f(np.ones(2), 4), np.full(2, 4.0))
    _same(f(np.ones(3), 4), np.full(3, 4.0))
    _same(f(np.ones(3), 4), np.full(3, 4.0))
    assert f.traces == 3
    with pytest.raises(TypeError, match="hashable"):
        f(np.ones(2), [1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_grad_and_detach_inside_are_constants_recomputed_on_every_call(backend):
    def f(x):
        with no_grad():
            shift = x * x
        return (x * shift.detach() + x.detach()).sum()

    g = jit(grad(f), backend=backend)
    for x in (np.array([1.0, 2.0]), np.array([3.0, -1.0])):
        _same(g(x), x * x)  # d/dx [x * c + d] with c = x^2, d = x held constant
        _same(jit(f, backend=backend)(x), f(Value(x)).data, RTOL[backend])


@pytest.mark.parametrize("backend", BACKENDS)
def test_captured_values_are_read_at_trace_time_and_a_change_retraces(backend):
    w = Value(np.array([1.0, 2.0]))
    f = jit(lambda x: (x * w).sum(), backend=backend)
    assert f(np.ones(2)) == 3.0
    w.data = np.array([5.0, 5.0])
    assert f(np.ones(2)) == 10.0
    w.data[0] = 0.0  # in place
    assert f(np.ones(2)) == 5.0
    assert f.traces == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_loop_equals_n_calls(backend):
    compiled = jit(step, backend=backend)
    looped = compiled.loop(50, *P0)
    params = P0
    for _ in range(50):
        params = compiled(*params)
    for a, b in zip(looped, params):
        _same(a, b)
    with pytest.raises(ValueError, match="structure"):
        jit(lambda a, b: a + b).loop(3, 1.0, 2.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_four_threads_share_one_compiled_function(backend):
    compiled = jit(step, backend=backend)
    want = [_data(p) for p in step(*P0)]
    errors = []

    def work():
        for _ in range(30):
            got = compiled(*P0)
            if not all(np.allclose(a, b, rtol=1e-12, atol=0) for a, b in zip(got, want)):
                errors.append(got)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and compiled.traces == 1


def test_source_is_readable_python_named_after_the_operations():
    compiled = jit(step, backend="numpy")
    with pytest.raises(AttributeError, match="call the compiled function once"):
        compiled.source  # noqa: B018
    compiled(*P0)
    src = compiled.source
    assert src.startswith("def step(x0, x1, x2, x3):")
    assert "sigmoid0 = sigmoid(add0)" in src and "return (" in src
    assert "argument" not in src  # the transforms' links are aliases, not copies
    compiled = jit(step, backend="python")
    compiled(*P0)
    src = compiled.source
    assert src.startswith("def step(x0_0, x0_1, x0_2, x0_3, x1_0, x1_1, x2_0, x2_1, x3_0):")
    # each value used once is written into the line that uses it: the hidden units' sums
    # inside their sigmoids, the output bias's gradient inside its update
    assert "sigmoid0_0 = sigmoid_scalar(0.0 * x0_0 + 0.0 * x0_2 + x1_0)" in src
    assert "sub6_0 = x3_0 - 0.5 * (mul4_0 + mul4_1 + mul4_2 + mul4_3)" in src
    assert "def step_loop(n, " in src


def test_bad_arguments():
    with pytest.raises(ValueError, match="backend"):
        jit(step, backend="fast")
    if available():  # (test_jit_numba.py: its refusal without numba)
        assert jit(step, backend="numba").backend == "numba"
    else:
        with pytest.raises(ImportError, match=r"pip install 'tinygrad_xor\[numba\]'"):
            jit(step, backend="numba")
    with pytest.raises(TypeError, match="function"):
        jit(3)
    with pytest.raises(TypeError, match="argument 0"):
        jit(lambda x: x)("abc")
    with pytest.raises(TypeError, match="must return"):
        jit(lambda x: "abc")(1.0)


def test_the_vector_backend_runs_a_batch_of_networks_each_as_eager():
    batch = [np.random.default_rng(7).normal(size=(5,) + np.shape(p)) for p in P0]
    compiled = jit(step, backend="vector")
    got = compiled(*batch)
    assert [g.shape for g in got] == [b.shape for b in batch]
    for i in range(5):
        for a, b in zip(got, step(*[b[i] for b in batch])):
            _same(a[i], _data(b), rtol=1e-12)
    looped = compiled.loop(20, *batch)
    one = [b[3] for b in batch]
    for _ in range(20):
        one = [_data(p) for p in step(*one)]
    for a, b in zip(looped, one):
        _same(a[3], b, rtol=1e-10)
    relu = jit(grad(lambda x: (x.relu() * x).sum() + x.max()), backend="vector")
    xs = np.array([[1.0, -2.0, 3.0], [-1.0, 2.0, 0.5]])
    with pytest.raises(TraceError, match="vector backend cannot run 'mask'"):
        relu(xs)  # max's share of a tie is not element by element
    relu = jit(grad(lambda x: (x.relu() * x).sum()), backend="vector")
    _same(relu(xs), np.stack([grad(lambda x: (x.relu() * x).sum())(x) for x in xs]), 1e-12)
    with pytest.raises(ValueError, match="leading"):
        compiled(batch[0], batch[1][:3], batch[2], batch[3])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_captured_array_changed_afterwards_is_noticed(backend):
    a = np.array([1.0, 2.0])
    f = jit(lambda x: (x * a).sum(), backend=backend)
    assert f(np.ones(2)) == 3.0
    a[0] = 5.0  # in place
    assert f(np.ones(2)) == 7.0
    assert f(np.ones(2)) == 7.0 and f.traces == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_cross_entropy_clamp_is_computed_at_every_call(backend):
    from tinygrad_xor.losses import bce

    f = jit(lambda z: bce(z.sigmoid(), np.array([[1.0], [0.0]])), backend=backend)
    assert f(np.zeros((2, 1))) == pytest.approx(np.log(2.0))
    z = np.array([[800.0], [-800.0]])  # predictions of exactly 1 and 0: eager clamps
    assert abs(f(z)) == abs(bce(Value(z).sigmoid(), np.array([[1.0], [0.0]])).data) == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_call_like_the_last_one_still_checks_every_argument(backend):
    # the last call's signature is checked first without flattening the arguments: a new
    # shape, dtype, kind or number of arguments must still find (or trace) its own program
    f = jit(lambda x, y: (x * y).sum(), backend=backend)
    assert f(np.ones(2), 3.0) == 6.0
    assert f(np.ones(2), 3.0) == 6.0 and f.traces == 1
    assert f(np.ones(3), 3.0) == 9.0
    assert f(np.ones(2, dtype=np.float32), 3.0) == 6.0
    assert f(np.ones(2), 4) == 8.0  # an int is a float: the program of the first call
    assert f(np.ones(2), np.array([1.0, 2.0])) == 3.0
    assert f(Value(np.ones(2)), 3.0) == 6.0
    assert f.traces == 4
    assert f((np.ones(2), 1.0)[0], 3.0) == 6.0 and f.traces == 4
    with pytest.raises(TypeError):
        f(np.ones(2))


def test_without_numba_asking_for_it_says_how_to_install(monkeypatch):
    from tinygrad_xor import compiler_numba

    monkeypatch.setattr(compiler_numba, "available", lambda: False)
    with pytest.raises(ImportError, match=r"jit\(backend='numba'\).*pip install "
                                          r"'tinygrad_xor\[numba\]'"):
        jit(lambda x: x * 2.0, backend="numba")
    # "auto" never asks for it
    assert jit(lambda x: x * 2.0)(np.ones(2)).tolist() == [2.0, 2.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_results_keep_the_structure_f_returns(backend):
    # a compiled function's results are rebuilt by one expression written for their structure
    # (tuples and lists), or the general way (a dict); constants among them come back as such
    x = np.array([1.0, 2.0])
    f = jit(lambda x: ((x * 2.0,), [x.sum(), 3.0, (x * x,)], 7), backend=backend)
    got = f(x)
    assert type(got) is tuple and type(got[0]) is tuple and type(got[1]) is list
    _same(got[0][0], np.array([2.0, 4.0]))
    _same(got[1][0], 3.0)
    assert got[1][1] == 3.0 and got[2] == 7
    _same(got[1][2][0], np.array([1.0, 4.0]))
    got = jit(lambda x: {"b": x * 2.0, "a": [x.sum()]}, backend=backend)(x)
    assert list(got) == ["b", "a"]
    _same(got["b"], np.array([2.0, 4.0]))
    _same(got["a"][0], 3.0)
    _same(jit(lambda x: x.sum(), backend=backend)(x), 3.0)


def test_auto_picks_python_for_small_graphs_and_graphs_of_scalars(monkeypatch):
    from tinygrad_xor import compiler

    monkeypatch.setattr(compiler, "AUTO_PYTHON_ELEMENTS", 40)

    def scalars(x):  # a graph of 60 scalars: python writes no more lines than numpy
        y = x
        for _ in range(30):
            y = y * 1.5 + 0.25
        return y

    def arrays(x):  # 20 nodes of 4 elements (80 > 40): python would write four times the lines
        y = x
        for _ in range(10):
            y = y * 1.5 + 0.25
        return y

    assert jit(scalars)(0.5) == pytest.approx(scalars(0.5))
    f, g, h = jit(scalars), jit(arrays), jit(arrays)
    f(0.5), g(np.ones(4)), h(np.ones(2))
    assert (f.backend_used, g.backend_used, h.backend_used) == ("python", "numpy", "python")
