"""Bad inputs across the API: every one is an exception that says what was wrong.

Each row is ``(id, call, expected exception type, a word its message must contain)``. A wrong
kind of argument (a str, a bool where a number is expected) is a TypeError, a right kind with
a wrong value (negative, NaN, out of range) a ValueError, as in PyTorch; an int too large for
a float64 is an OverflowError, as in Python's float() and PyTorch's float64 tensors.
`LIBRARY_CASES` covers nn, losses, optim, train, gradcheck, the testing strategies and the
drawing functions; `CORE_CASES` the Value class and its operations.
"""

from __future__ import annotations

import math
import os
import pickle
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinygrad_xor import Value, gradcheck, losses, nn, optim, testing, viz
from tinygrad_xor.train import fit

NAN, INF = float("nan"), float("inf")
X4 = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
Y4 = np.array([0.0, 1.0, 1.0, 0.0])
Case = tuple[str, Callable[[], Any], type, str]


def mlp(**kwargs: Any) -> nn.MLP:
    return nn.MLP([2, 2, 1], rng=0, **kwargs)


def train(X: Any = X4, y: Any = Y4, *, model: Any = None, lr: Any = 0.1, **kwargs: Any) -> Any:
    """fit with good defaults, one argument at a time made bad."""
    model = mlp() if model is None else model
    opt = optim.SGD(model.parameters(), lr=0.1)
    opt.lr = lr
    options = {"loss": "mse", "optimizer": opt, "epochs": 2, "progress": False, **kwargs}
    return fit(model, X, y, **options)


def unbounded_model() -> nn.Sequential:
    """A network without an output sigmoid whose outputs reach 10: not probabilities."""
    model = nn.Sequential(nn.Linear(2, 1, rng=0))
    model.load_state_dict({"layers.0.weight": np.full((2, 1), 5.0),
                           "layers.0.bias": np.zeros(1)})
    return model


def load_bytes(content: bytes) -> None:
    """Load weights from a file holding ``content``."""
    fd, path = tempfile.mkstemp(prefix="bad_inputs_")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        mlp().load(path)
    finally:
        os.unlink(path)


def saved_npy() -> bytes:
    with tempfile.TemporaryFile() as f:
        np.save(f, np.zeros((2, 2)))
        f.seek(0)
        return f.read()


def step_with_lr(lr: Any) -> None:
    p = Value(1.0)
    opt = optim.SGD([p], lr=0.1)
    opt.lr = lr
    p.grad = 1.0
    opt.step()


def check(**kwargs: Any) -> bool:
    return gradcheck(lambda a: a * a, Value(np.array([1.0, 2.0])), **kwargs)


W = Value(np.ones(2))
GRAPH = (Value(np.ones(2)) * 2.0).sum()

NN_CASES: list[Case] = [
    ("MLP sizes float", lambda: nn.MLP([2, 2.7, 1]), TypeError, "sizes[1]"),
    ("MLP sizes integral float", lambda: nn.MLP([2.0, 2, 1]), TypeError, "sizes[0]"),
    ("MLP sizes bool", lambda: nn.MLP([2, True, 1]), TypeError, "sizes[1]"),
    ("MLP sizes str item", lambda: nn.MLP([2, "3", 1]), TypeError, "sizes[1]"),
    ("MLP sizes zero", lambda: nn.MLP([2, 0, 1]), ValueError, ">= 1"),
    ("MLP sizes negative", lambda: nn.MLP([2, -3, 1]), ValueError, ">= 1"),
    ("MLP one size", lambda: nn.MLP([2]), ValueError, "at least"),
    ("MLP no sizes", lambda: nn.MLP([]), ValueError, "at least"),
    ("MLP sizes int", lambda: nn.MLP(3), TypeError, "sizes"),
    ("MLP sizes str", lambda: nn.MLP("21"), TypeError, "sizes"),
    ("MLP sizes None", lambda: nn.MLP(None), TypeError, "sizes"),
    ("MLP rng negative", lambda: nn.MLP([2, 1], rng=-1), ValueError, "seed"),
    ("MLP rng float", lambda: nn.MLP([2, 1], rng=1.5), TypeError, "rng"),
    ("MLP rng str", lambda: nn.MLP([2, 1], rng="0"), TypeError, "rng"),
    ("MLP rng bool", lambda: nn.MLP([2, 1], rng=True), TypeError, "rng"),
    ("MLP activation unknown", lambda: nn.MLP([2, 1], activation="softmax"), ValueError,
     "unknown activation"),
    ("MLP activation int", lambda: nn.MLP([2, 1], activation=3), TypeError, "activation"),
    ("MLP output_activation unknown", lambda: nn.MLP([2, 1], output_activation="gelu"),
     ValueError, "unknown activation"),
    ("MLP scalar str", lambda: nn.MLP([2, 1], scalar="yes"), TypeError, "scalar"),
    ("MLP input width", lambda: mlp()(np.ones((4, 3))), ValueError, "matmul"),
    ("activation int", lambda: nn.activation(3), TypeError, "activation"),
    ("activation unknown", lambda: nn.activation("swish"), ValueError, "unknown activation"),
    ("Linear in float", lambda: nn.Linear(2.5, 3), TypeError, "in_features"),
    ("Linear in bool", lambda: nn.Linear(True, 3), TypeError, "in_features"),
    ("Linear out str", lambda: nn.Linear(2, "3"), TypeError, "out_features"),
    ("Linear out zero", lambda: nn.Linear(2, 0), ValueError, "positive"),
    ("Linear in negative", lambda: nn.Linear(-1, 2), ValueError, "positive"),
    ("Linear bias str", lambda: nn.Linear(2, 2, bias="no"), TypeError, "bias"),
    ("Linear bias int", lambda: nn.Linear(2, 2, bias=0), TypeError, "bias"),
    ("Linear rng negative", lambda: nn.Linear(2, 2, rng=-5), ValueError, "seed"),
    ("Linear scalar int", lambda: nn.Linear(2, 2, scalar=1), TypeError, "scalar"),
    ("Linear scalar sample width", lambda: nn.Linear(2, 1, scalar=True)([1.0, 2.0, 3.0]),
     ValueError, "3 features"),
    ("Linear scalar sample str", lambda: nn.Linear(2, 1, scalar=True)(["a", "b"]), TypeError,
     "feature 0"),
    ("Linear scalar sample tensor item",
     lambda: nn.Linear(2, 1, scalar=True)([Value(np.ones(2)), 1.0]), ValueError, "shape (2,)"),
    ("Sequential str layer", lambda: nn.Sequential(nn.Linear(2, 2), "relu"), TypeError,
     "layer 1"),
    ("Sequential function layer", lambda: nn.Sequential(lambda x: x), TypeError, "Module"),
    ("load_state_dict list", lambda: mlp().load_state_dict([1, 2]), TypeError, "dict"),
    ("load_state_dict empty", lambda: mlp().load_state_dict({}), ValueError, "missing"),
    ("load_state_dict shape",
     lambda: mlp().load_state_dict({**mlp().state_dict(), "layers.0.weight": np.zeros((3, 2))}),
     ValueError, "(3, 2)"),
    ("load_state_dict strings",
     lambda: mlp().load_state_dict({**mlp().state_dict(), "layers.0.bias": np.array(["a", "b"])}),
     ValueError, "not numeric"),
    ("load_state_dict extra",
     lambda: mlp().load_state_dict({**mlp().state_dict(), "layers.7.bias": np.zeros(1)}),
     ValueError, "unexpected"),
    ("save path int", lambda: mlp().save(3), TypeError, "path"),
    ("save path empty", lambda: mlp().save(""), ValueError, "empty"),
    ("load path None", lambda: mlp().load(None), TypeError, "path"),
    ("load empty file", lambda: load_bytes(b""), ValueError, "empty"),
    ("load text file", lambda: load_bytes(b"weights: 1 2 3\n"), ValueError, "npz"),
    ("load npy file", lambda: load_bytes(saved_npy()), ValueError, ".npy"),
    ("load pickle file", lambda: load_bytes(pickle.dumps({"layers.0.weight": 1})), ValueError,
     "pickle"),
]

LOSS_CASES: list[Case] = [
    ("bce prediction > 1", lambda: losses.binary_cross_entropy(1.5, 1), ValueError, "[0, 1]"),
    ("bce prediction < 0", lambda: losses.binary_cross_entropy(-0.1, 0), ValueError,
     "prediction"),
    ("bce prediction NaN", lambda: losses.binary_cross_entropy(NAN, 1), ValueError, "[0, 1]"),
    ("bce prediction inf", lambda: losses.bce(Value(np.array([0.5, INF])), [0, 1]), ValueError,
     "index (1,)"),
    ("bce target > 1", lambda: losses.binary_cross_entropy(0.5, 2), ValueError, "target"),
    ("bce target < 0", lambda: losses.binary_cross_entropy(0.5, -1), ValueError, "target"),
    ("bce target NaN", lambda: losses.binary_cross_entropy(0.5, NAN), ValueError, "target"),
    ("bce list prediction", lambda: losses.bce([Value(0.5), Value(1.5)], [0, 1]), ValueError,
     "sigmoid"),
    ("bce str prediction", lambda: losses.binary_cross_entropy("a", 1), TypeError,
     "prediction"),
    ("mse str prediction", lambda: losses.mse("a", 1), TypeError, "prediction"),
    ("mse str targets", lambda: losses.mse(Value([1.0, 2.0]), ["a", "b"]), TypeError, "target"),
    ("mse None target", lambda: losses.mse(Value([1.0]), None), TypeError, "target"),
    ("mse ragged target", lambda: losses.mse(Value([1.0, 2.0]), [[1], [2, 3]]), TypeError,
     "ragged"),
    ("mse sizes", lambda: losses.mse(Value([1.0, 2.0]), [1, 2, 3]), ValueError,
     "different sizes"),
    ("mse transposed shapes", lambda: losses.mse(Value(np.ones((2, 3))), np.ones((3, 2))),
     ValueError, "length 1"),
    ("mse empty Value", lambda: losses.mse(Value(np.ones(0)), []), ValueError, "no predictions"),
    ("mse empty list", lambda: losses.mse([], []), ValueError, "no predictions"),
    ("mse list of tensors", lambda: losses.mse([Value(np.ones(2))], [1, 2]), ValueError,
     "scalar"),
    ("mse reduction unknown", lambda: losses.mse(Value([1.0]), [1], reduction="avg"),
     ValueError, "reduction"),
    ("mse reduction None", lambda: losses.mse(Value([1.0]), [1], reduction=None), TypeError,
     "reduction"),
    ("bce reduction int", lambda: losses.bce(Value([0.5]), [1], reduction=1), TypeError,
     "reduction"),
    ("get_loss int", lambda: losses.get_loss(3), TypeError, "loss"),
    ("get_loss unknown", lambda: losses.get_loss("hinge"), ValueError, "unknown loss"),
]

OPTIM_CASES: list[Case] = [
    ("SGD duplicate parameter", lambda: optim.SGD([W, W]), ValueError, "same Value"),
    ("Adam duplicate parameter", lambda: optim.Adam([W, Value(1.0), W]), ValueError,
     "parameter 2"),
    ("SGD no parameters", lambda: optim.SGD([]), ValueError, "empty"),
    ("SGD a Value", lambda: optim.SGD(W), TypeError, "params"),
    ("SGD an int", lambda: optim.SGD(3), TypeError, "params"),
    ("SGD an ndarray parameter", lambda: optim.SGD([np.ones(2)]), TypeError, "Values"),
    ("SGD a non-leaf", lambda: optim.SGD([W * 2.0]), ValueError, "leaf"),
    ("SGD lr negative", lambda: optim.SGD([W], lr=-0.1), ValueError, "learning rate"),
    ("SGD lr zero", lambda: optim.SGD([W], lr=0), ValueError, "learning rate"),
    ("SGD lr NaN", lambda: optim.SGD([W], lr=NAN), ValueError, "learning rate"),
    ("SGD lr inf", lambda: optim.SGD([W], lr=INF), ValueError, "learning rate"),
    ("SGD lr str", lambda: optim.SGD([W], lr="0.1"), TypeError, "lr"),
    ("SGD lr bool", lambda: optim.SGD([W], lr=True), TypeError, "lr"),
    ("SGD momentum negative", lambda: optim.SGD([W], momentum=-0.5), ValueError, "momentum"),
    ("SGD momentum one", lambda: optim.SGD([W], momentum=1.0), ValueError, "momentum"),
    ("SGD momentum NaN", lambda: optim.SGD([W], momentum=NAN), ValueError, "momentum"),
    ("SGD momentum str", lambda: optim.SGD([W], momentum="0.9"), TypeError, "momentum"),
    ("SGD lr changed to negative", lambda: step_with_lr(-1.0), ValueError, "learning rate"),
    ("Adam lr negative", lambda: optim.Adam([W], lr=-1e-3), ValueError, "learning rate"),
    ("Adam beta1 one", lambda: optim.Adam([W], betas=(1.0, 0.9)), ValueError, "betas[0]"),
    ("Adam beta2 negative", lambda: optim.Adam([W], betas=(0.9, -0.1)), ValueError,
     "betas[1]"),
    ("Adam beta NaN", lambda: optim.Adam([W], betas=(0.9, NAN)), ValueError, "betas[1]"),
    ("Adam betas number", lambda: optim.Adam([W], betas=0.9), TypeError, "betas"),
    ("Adam betas one item", lambda: optim.Adam([W], betas=(0.9,)), TypeError, "betas"),
    ("Adam beta str", lambda: optim.Adam([W], betas=("0.9", 0.999)), TypeError, "betas[0]"),
    ("Adam eps zero", lambda: optim.Adam([W], eps=0), ValueError, "eps"),
    ("Adam eps negative", lambda: optim.Adam([W], eps=-1e-8), ValueError, "eps"),
    ("Adam eps str", lambda: optim.Adam([W], eps="small"), TypeError, "eps"),
]

TRAIN_CASES: list[Case] = [
    ("fit rows differ", lambda: train(X4, Y4[:3]), ValueError, "4 samples but y has 3"),
    ("fit X NaN", lambda: train(np.where(X4 == 1, NAN, X4)), ValueError, "NaN"),
    ("fit X inf", lambda: train(np.where(X4 == 1, INF, X4)), ValueError, "inf"),
    ("fit y NaN", lambda: train(X4, np.array([0, NAN, 1, 0])), ValueError, "NaN"),
    ("fit X 1-D", lambda: train(np.zeros(4)), ValueError, "2-D"),
    ("fit X 3-D", lambda: train(np.zeros((4, 2, 1))), ValueError, "2-D"),
    ("fit X empty", lambda: train(np.zeros((0, 2)), np.zeros(0)), ValueError, "no samples"),
    ("fit X strings", lambda: train([["a", "b"]] * 4), TypeError, "X must be numbers"),
    ("fit X ragged", lambda: train([[0, 0], [1]]), TypeError, "ragged"),
    ("fit y strings", lambda: train(X4, ["0", "1", "1", "0"]), TypeError, "y must be numbers"),
    ("fit y no columns", lambda: train(X4, np.zeros((4, 0))), ValueError, "no columns"),
    ("fit X features", lambda: train(model=nn.MLP([3, 2, 1], rng=0)), ValueError,
     "expects 3 input features"),
    ("fit epochs negative", lambda: train(epochs=-1), ValueError, "epochs"),
    ("fit epochs float", lambda: train(epochs=1.5), TypeError, "epochs"),
    ("fit epochs bool", lambda: train(epochs=True), TypeError, "epochs"),
    ("fit epochs str", lambda: train(epochs="10"), TypeError, "epochs"),
    ("fit batch_size zero", lambda: train(batch_size=0), ValueError, "batch_size"),
    ("fit batch_size negative", lambda: train(batch_size=-2), ValueError, "batch_size"),
    ("fit batch_size float", lambda: train(batch_size=1.5), TypeError, "batch_size"),
    ("fit batch_size bool", lambda: train(batch_size=True), TypeError, "batch_size"),
    ("fit progress str", lambda: train(progress="no"), TypeError, "progress"),
    ("fit loss unknown", lambda: train(loss="hinge"), ValueError, "unknown loss"),
    ("fit loss int", lambda: train(loss=3), TypeError, "loss"),
    ("fit optimizer None", lambda: train(optimizer=None), TypeError, "optimizer"),
    ("fit model int", lambda: fit(3, X4, Y4, loss="mse", optimizer=optim.SGD([W]), epochs=1),
     TypeError, "model"),
    ("fit lr zero", lambda: train(lr=0.0), ValueError, "learning rate"),
    ("fit bce targets", lambda: train(X4, 2 * Y4, loss="bce"), ValueError, "[0, 1]"),
    ("fit bce without sigmoid", lambda: train(model=unbounded_model(), loss="bce"), ValueError,
     "sigmoid"),
]

GRADCHECK_CASES: list[Case] = [
    ("gradcheck eps zero", lambda: check(eps=0), ValueError, "eps"),
    ("gradcheck eps negative", lambda: check(eps=-1e-6), ValueError, "eps"),
    ("gradcheck eps NaN", lambda: check(eps=NAN), ValueError, "eps"),
    ("gradcheck eps str", lambda: check(eps="1e-6"), TypeError, "eps"),
    ("gradcheck eps bool", lambda: check(eps=True), TypeError, "eps"),
    ("gradcheck atol negative", lambda: check(atol=-1.0), ValueError, "atol"),
    ("gradcheck atol inf", lambda: check(atol=INF), ValueError, "atol"),
    ("gradcheck rtol NaN", lambda: check(rtol=NAN), ValueError, "rtol"),
    ("gradcheck both tolerances zero", lambda: check(atol=0, rtol=0), ValueError, "both 0"),
    ("gradcheck fast str", lambda: check(fast="yes"), TypeError, "fast"),
    ("gradcheck seed negative", lambda: check(fast=True, seed=-1), ValueError, "seed"),
    ("gradcheck raise_exception int", lambda: check(raise_exception=1), TypeError,
     "raise_exception"),
    ("gradcheck f not callable", lambda: gradcheck(3, Value(1.0)), TypeError, "f must be"),
    ("gradcheck ndarray input", lambda: gradcheck(lambda a: a, np.ones(2)), TypeError,
     "input 0"),
    ("gradcheck nothing to check",
     lambda: gradcheck(lambda a: a, Value(1.0, requires_grad=False)), ValueError, "nothing"),
]

TESTING_CASES: list[Case] = [
    ("values shape negative", lambda: testing.values(-1), ValueError, "shape"),
    ("values shape item negative", lambda: testing.values((2, -1)), ValueError, "shape[1]"),
    ("values shape item float", lambda: testing.values((2.5,)), TypeError, "shape[0]"),
    ("values shape str", lambda: testing.values("2"), TypeError, "shape"),
    ("values bounds reversed", lambda: testing.values((), 5, 1), ValueError, "min_value"),
    ("values bound NaN", lambda: testing.values((), NAN), ValueError, "min_value"),
    ("values dtype int", lambda: testing.values(dtype=np.int64), ValueError, "dtype"),
    ("values dtype nonsense", lambda: testing.values(dtype="nope"), TypeError, "dtype"),
    ("values max_dims negative", lambda: testing.values(max_dims=-1), ValueError, "max_dims"),
    ("values requires_grad str", lambda: testing.values(requires_grad="no"), TypeError,
     "requires_grad"),
    ("shapes dims reversed", lambda: testing.shapes(min_dims=3, max_dims=1), ValueError,
     "min_dims"),
    ("shapes max_side zero", lambda: testing.shapes(max_side=0), ValueError, "max_side"),
    ("mutually_broadcastable_shapes zero", lambda: testing.mutually_broadcastable_shapes(0),
     ValueError, "num_shapes"),
    ("broadcastable_shapes int", lambda: testing.broadcastable_shapes(3), TypeError, "shape"),
    ("broadcastable_shapes side negative", lambda: testing.broadcastable_shapes((2, -1)),
     ValueError, "shape[1]"),
    ("broadcastable_shapes dims reversed",
     lambda: testing.broadcastable_shapes((2,), min_dims=3, max_dims=1), ValueError, "min_dims"),
    ("matmul_shapes negative", lambda: testing.matmul_shapes(max_batch_dims=-1), ValueError,
     "max_dims"),
    ("values_for int", lambda: testing.values_for(3), TypeError, "shape_tuples"),
    ("expressions max_ops negative", lambda: testing.expressions(max_ops=-1), ValueError,
     "max_ops"),
    ("expressions ops reversed", lambda: testing.expressions(max_ops=1, min_ops=3), ValueError,
     "min_ops"),
    ("expressions max_inputs zero", lambda: testing.expressions(max_inputs=0), ValueError,
     "max_inputs"),
    ("expressions ops str", lambda: testing.expressions(ops="add"), TypeError, "ops"),
    ("expressions ops unknown", lambda: testing.expressions(ops=["nope"]), ValueError,
     "unknown operation"),
    ("expressions ops empty", lambda: testing.expressions(ops=[]), ValueError, "empty"),
    ("expressions bounds reversed",
     lambda: testing.expressions(min_value=3.0, max_value=-3.0), ValueError, "min_value"),
]

VIZ_CASES: list[Case] = [
    ("draw_graph int", lambda: viz.draw_graph(3), TypeError, "Value"),
    ("draw_graph rankdir", lambda: viz.draw_graph(GRAPH, rankdir="XY"), ValueError, "rankdir"),
    ("draw_graph max_nodes zero", lambda: viz.draw_graph(GRAPH, max_nodes=0), ValueError,
     "max_nodes"),
    ("draw_graph max_nodes float", lambda: viz.draw_graph(GRAPH, max_nodes=2.5), TypeError,
     "max_nodes"),
    ("draw_graph max_nodes bool", lambda: viz.draw_graph(GRAPH, max_nodes=True), TypeError,
     "max_nodes"),
    ("draw_graph show_data str", lambda: viz.draw_graph(GRAPH, show_data="no"), TypeError,
     "show_data"),
    ("draw_graph show_grad None", lambda: viz.draw_graph(GRAPH, show_grad=None), TypeError,
     "show_grad"),
    ("draw_network int", lambda: viz.draw_network(3), TypeError, "state_dict"),
    ("draw_network no Linear", lambda: viz.draw_network(nn.Sequential(nn.ReLU())), ValueError,
     "Linear"),
    ("draw_network digits zero", lambda: viz.draw_network(mlp(), digits=0), ValueError,
     "digits"),
    ("draw_network digits float", lambda: viz.draw_network(mlp(), digits=2.5), TypeError,
     "digits"),
    ("draw_network edge_labels str", lambda: viz.draw_network(mlp(), edge_labels="yes"),
     TypeError, "edge_labels"),
]

LIBRARY_CASES: list[Case] = (NN_CASES + LOSS_CASES + OPTIM_CASES + TRAIN_CASES
                             + GRADCHECK_CASES + TESTING_CASES + VIZ_CASES)


def set_grad(v: Value, grad: Any) -> None:
    v.grad = grad


def mean_of_nothing() -> None:
    """Value([]).mean() is NaN, as in NumPy; anything else fails this row."""
    result = Value([]).mean()
    if not (isinstance(result, Value) and math.isnan(float(result.data))):
        raise AssertionError(f"Value([]).mean() should be NaN, got {result!r}")
    raise ValueError("NaN, as expected")  # the row's expected outcome


M23 = Value(np.ones((2, 3)))

CORE_CASES: list[Case] = [
    ("Value requires_grad str", lambda: Value(1.0, requires_grad="no"), TypeError,
     "requires_grad"),
    ("Value requires_grad int", lambda: Value(1.0, requires_grad=1), TypeError, "requires_grad"),
    ("Value label int", lambda: Value(1.0, label=3), TypeError, "label"),
    ("label set to an int", lambda: setattr(Value(1.0), "label", 3), TypeError, "label"),
    ("requires_grad set to a str", lambda: setattr(Value(1.0), "requires_grad", "no"),
     TypeError, "requires_grad"),
    ("requires_grad turned off on a result", lambda: setattr(Value(1.0) * 2, "requires_grad",
                                                           False), ValueError, "leaf"),
    ("Value str", lambda: Value("a"), TypeError, "Value()"),
    ("Value None", lambda: Value(None), TypeError, "Value()"),
    ("Value dict", lambda: Value({"a": 1}), TypeError, "Value()"),
    ("Value ragged", lambda: Value([1.0, [2.0, 3.0]]), TypeError, "ragged"),
    ("Value string array", lambda: Value(np.array(["a", "b"])), TypeError, "dtype"),
    ("Value complex", lambda: Value(1 + 2j), TypeError, "Value()"),
    ("Value of a Value", lambda: Value(Value(1.0)), TypeError, "detach"),
    ("backward grad str", lambda: Value(2.0).backward(gradient="2"), TypeError, "gradient"),
    ("backward grad complex", lambda: (M23 * 2).backward(np.ones((2, 3)) * 1j), TypeError,
     "complex128"),
    ("Value int too large", lambda: Value(10**400), OverflowError, "float64"),
    ("Value int in a list too large", lambda: Value([1, -10**400]), OverflowError, "Value()"),
    ("Value masked array", lambda: Value(np.ma.masked_array([1.0], mask=[True])), TypeError,
     "filled"),
    ("data set to a str", lambda: setattr(Value(1.0), "data", "abc"), TypeError, "Value.data"),
    ("data set to a masked array",
     lambda: setattr(Value(1.0), "data", np.ma.masked_array([1.0], mask=[True])), TypeError,
     "filled"),
    ("index a scalar with an int", lambda: Value(1.0)[0], TypeError, "None"),
    ("backward tensor without grad", lambda: Value(np.ones(2)).backward(), ValueError, "grad"),
    ("backward grad shape", lambda: Value(np.ones(2)).backward(np.ones(3)), ValueError, "shape"),
    ("backward without requires_grad", lambda: Value(1.0, requires_grad=False).backward(),
     ValueError, "require"),
    ("mean of nothing is NaN", mean_of_nothing, ValueError, "NaN"),
    ("add str", lambda: Value(np.ones(2)) + "a", TypeError, "unsupported"),
    ("mul None", lambda: Value(np.ones(2)) * None, TypeError, "unsupported"),
    ("pow str", lambda: Value(2.0) ** "a", TypeError, "unsupported"),
    ("add shapes", lambda: Value(np.ones(2)) + np.ones(3), ValueError, "(2,)"),
    ("matmul shapes", lambda: M23 @ Value(np.ones((2, 3))), ValueError, "matmul"),
    ("reshape size", lambda: M23.reshape(4), ValueError, "reshape"),
    ("reshape str", lambda: M23.reshape("a"), TypeError, "reshape"),
    ("reshape float", lambda: M23.reshape(3.0, 2), TypeError, "reshape"),
    ("transpose repeated axis", lambda: M23.transpose(0, 0), ValueError, "transpose"),
    ("transpose axis out of range", lambda: M23.transpose(0, 5), ValueError, "axis"),
    ("transpose str", lambda: M23.transpose("a", 0), TypeError, "transpose"),
    ("sum axis out of range", lambda: M23.sum(axis=5), ValueError, "axis"),
    ("sum axis float", lambda: M23.sum(axis=1.5), TypeError, "axis"),
    ("sum axis str", lambda: M23.sum(axis="0"), TypeError, "axis"),
    ("sum keepdims str", lambda: M23.sum(keepdims="yes"), TypeError, "keepdims"),
    ("mean repeated axis", lambda: M23.mean(axis=(0, 0)), ValueError, "axis"),
    ("max axis out of range", lambda: M23.max(axis=3), ValueError, "axis"),
    ("max of nothing", lambda: Value(np.ones(0)).max(), ValueError, "max"),
    ("item of a tensor", lambda: Value(np.ones(2)).item(), ValueError, "one element"),
    ("len of a scalar", lambda: len(Value(1.0)), TypeError, "len"),
    ("bool of a Value", lambda: bool(Value(1.0)), TypeError, "ambiguous"),
    ("grad str", lambda: set_grad(Value(1.0), "a"), TypeError, "grad"),
    ("grad shape", lambda: set_grad(Value(np.ones(2)), np.ones(3)), ValueError, "shape"),
    ("grad complex", lambda: set_grad(Value(np.ones(2)), np.ones(2) * 1j), TypeError,
     "complex128"),
]


def _run(call: Callable[[], Any], exc: type, word: str) -> None:
    with pytest.raises(exc) as info:
        call()
    assert word in str(info.value), f"{word!r} not in the message: {info.value}"


@pytest.mark.parametrize("call, exc, word", [c[1:] for c in LIBRARY_CASES],
                         ids=[c[0] for c in LIBRARY_CASES])
def test_library_bad_input(call: Callable[[], Any], exc: type, word: str) -> None:
    _run(call, exc, word)


@pytest.mark.parametrize("call, exc, word", [c[1:] for c in CORE_CASES],
                         ids=[c[0] for c in CORE_CASES])
def test_core_bad_input(call: Callable[[], Any], exc: type, word: str) -> None:
    _run(call, exc, word)


def test_the_walk_is_long_enough() -> None:
    assert len(LIBRARY_CASES) + len(CORE_CASES) >= 100
    ids = [c[0] for c in LIBRARY_CASES + CORE_CASES]
    assert len(ids) == len(set(ids)), "row ids must be unique"
