"""Neural-network building blocks on Values: Linear layers, activations, Sequential, MLP.

A `Linear` layer holds its weights either as two tensor Values (``scalar=False``, the
default) or as one scalar Value per weight and bias (``scalar=True``): a neuron-level graph,
as in the blog's network picture. Both give the same numbers and gradients.

Weights are read and set as plain ndarrays with `Module.state_dict` /
`Module.load_state_dict`, and saved to ``.npz`` without pickle with `Module.save` /
`Module.load`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .engine import Value

__all__ = ["Module", "Linear", "ReLU", "Sigmoid", "Tanh", "Identity", "Sequential", "MLP",
           "activation", "make_rng"]

RngLike = np.random.Generator | int | None


def make_rng(rng: RngLike) -> np.random.Generator:
    """A NumPy Generator from a Generator, a seed, or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


class Module:
    """Base class: calling a module runs `forward`; parameters are Values."""

    def forward(self, x: Any) -> Any:
        """The module's computation."""
        raise NotImplementedError

    def __call__(self, x: Any) -> Any:
        return self.forward(x)

    def children(self) -> list[tuple[str, Module]]:
        """Sub-modules with their state_dict name prefixes."""
        return []

    def _arrays(self) -> Iterator[tuple[str, Linear, str]]:
        """(state_dict key, owning Linear, "weight" or "bias") for every parameter array."""
        for prefix, child in self.children():
            for key, owner, kind in child._arrays():
                yield f"{prefix}.{key}", owner, kind

    def parameters(self) -> list[Value]:
        """Every trainable Value, layer by layer: the weight then the bias."""
        params: list[Value] = []
        for _, child in self.children():
            params.extend(child.parameters())
        return params

    def zero_grad(self) -> None:
        """Reset every parameter's gradient."""
        for p in self.parameters():
            p.zero_grad()

    def draw(self, **kwargs: Any) -> Any:
        """The network's neurons and weights as a graphviz.Digraph (see viz.draw_network)."""
        from .viz import draw_network

        return draw_network(self, **kwargs)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The weights as copies: ``{"layers.0.weight": (in, out) array, ...}``."""
        return {key: owner._get(kind) for key, owner, kind in self._arrays()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Set the weights from ndarrays; a missing key or a wrong shape changes nothing."""
        entries = list(self._arrays())
        checked = []
        for key, owner, kind in entries:
            if key not in state:
                raise ValueError(f"load_state_dict: missing parameter {key!r} "
                                 f"(expected shape {owner._shape(kind)})")
            value = np.asarray(state[key])
            if value.dtype.kind not in "fiub":
                raise ValueError(f"load_state_dict: parameter {key!r} is not numeric "
                                 f"(dtype {value.dtype})")
            if value.shape != owner._shape(kind):
                raise ValueError(f"load_state_dict: parameter {key!r} has shape {value.shape}, "
                                 f"the model's has shape {owner._shape(kind)}")
            checked.append((owner, kind, value))
        extra = sorted(set(state) - {key for key, _, _ in entries})
        if extra:
            raise ValueError(f"load_state_dict: unexpected parameters {extra}")
        for owner, kind, value in checked:
            owner._set(kind, value)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state_dict to an ``.npz`` file (no pickle)."""
        savez: Any = np.savez  # NumPy's stubs mistype its **arrays
        savez(path, **self.state_dict())

    def load(self, path: str | os.PathLike[str]) -> None:
        """Read weights written by `save` (pickle is refused)."""
        with np.load(path, allow_pickle=False) as data:
            self.load_state_dict({key: data[key] for key in data.files})

    def input_size(self) -> int | None:
        """The input size the first Linear layer expects, or None if there is none."""
        for _, owner, _ in self._arrays():
            return owner.in_features
        return None


def _map(fn: Any, x: Any) -> Any:
    """Apply a Value method to a Value, or to every item of a (nested) list of Values."""
    if isinstance(x, (list, tuple)):
        return [_map(fn, item) for item in x]
    if not isinstance(x, Value):
        x = Value(x, requires_grad=False)
    return fn(x)


class ReLU(Module):
    """max(x, 0) elementwise."""

    def forward(self, x: Any) -> Any:
        """Apply ReLU (also to each Value of a list)."""
        return _map(Value.relu, x)

    def __repr__(self) -> str:
        return "ReLU()"


class Sigmoid(Module):
    """1 / (1 + exp(-x)) elementwise."""

    def forward(self, x: Any) -> Any:
        """Apply the sigmoid (also to each Value of a list)."""
        return _map(Value.sigmoid, x)

    def __repr__(self) -> str:
        return "Sigmoid()"


class Tanh(Module):
    """tanh(x) elementwise."""

    def forward(self, x: Any) -> Any:
        """Apply tanh (also to each Value of a list)."""
        return _map(Value.tanh, x)

    def __repr__(self) -> str:
        return "Tanh()"


class Identity(Module):
    """Returns its input unchanged."""

    def forward(self, x: Any) -> Any:
        """Return x."""
        return x

    def __repr__(self) -> str:
        return "Identity()"


_ACTIVATIONS: dict[str | None, type[Module]] = {
    "sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "identity": Identity, None: Identity,
}


def activation(name: str | None) -> Module:
    """An activation module by name: "sigmoid", "tanh", "relu", "identity" or None."""
    try:
        return _ACTIVATIONS[name]()
    except (KeyError, TypeError):
        names = ", ".join(repr(k) for k in _ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r}; choose one of {names}") from None


_make_activation = activation  # MLP's arguments shadow the name


class Linear(Module):
    """``x @ weight + bias`` with weight of shape (in, out) and bias of shape (out,).

    Initialised uniformly in ±1/sqrt(in_features) (PyTorch's default range) from ``rng``.
    With ``scalar=True``, ``weight`` and ``bias`` are object arrays of scalar Values.
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True,
                 rng: RngLike = None, scalar: bool = False) -> None:
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Linear needs positive sizes, got ({in_features}, {out_features})")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.scalar = bool(scalar)
        gen = make_rng(rng)
        bound = 1.0 / np.sqrt(in_features)
        w = gen.uniform(-bound, bound, (in_features, out_features))
        b = gen.uniform(-bound, bound, (out_features,)) if bias else None
        self.weight: Any
        self.bias: Any
        if scalar:
            self.weight = np.empty((in_features, out_features), dtype=object)
            for (i, j), v in np.ndenumerate(w):
                self.weight[i, j] = Value(float(v), label=f"w{i}{j}")
            self.bias = None
            if b is not None:
                self.bias = np.empty(out_features, dtype=object)
                for j, v in enumerate(b):
                    self.bias[j] = Value(float(v), label=f"b{j}")
        else:
            self.weight = Value(w, label="weight")
            self.bias = Value(b, label="bias") if b is not None else None

    def __repr__(self) -> str:
        extra = ", scalar=True" if self.scalar else ""
        extra += ", bias=False" if self.bias is None else ""
        return f"Linear({self.in_features}, {self.out_features}{extra})"

    # -- parameters ---------------------------------------------------------------------------
    def _arrays(self) -> Iterator[tuple[str, Linear, str]]:
        yield "weight", self, "weight"
        if self.bias is not None:
            yield "bias", self, "bias"

    def parameters(self) -> list[Value]:
        """[weight, bias] (each scalar Value, weight row by row, when scalar=True)."""
        params: list[Value] = []
        for kind in ("weight", "bias"):
            held = getattr(self, kind)
            if held is None:
                continue
            params.extend(list(held.flat) if self.scalar else [held])
        return params

    def _shape(self, kind: str) -> tuple[int, ...]:
        if kind == "weight":
            return (self.in_features, self.out_features)
        return (self.out_features,)

    def _get(self, kind: str) -> np.ndarray:
        held = getattr(self, kind)
        if self.scalar:
            return np.array([v.data for v in held.flat], dtype=np.float64).reshape(held.shape)
        return np.array(held.data, dtype=np.float64, copy=True)

    def _set(self, kind: str, value: np.ndarray) -> None:
        held = getattr(self, kind)
        if self.scalar:
            for v, number in zip(held.flat, np.asarray(value, dtype=np.float64).flat,
                                 strict=True):
                v.data = float(number)
        else:
            held.data = np.array(value, dtype=held.data.dtype, copy=True)

    # -- forward ------------------------------------------------------------------------------
    def forward(self, x: Any) -> Any:
        """x @ weight + bias; with scalar=True x is one sample (a list) or a list of them."""
        if not self.scalar:
            out = x @ self.weight
            return out if self.bias is None else out + self.bias
        if isinstance(x, Value) and x.ndim in (1, 2):
            # a tensor Value: split it into scalar Values with getitem, keeping the graph
            if x.ndim == 1:
                return self._neurons([x[i] for i in range(x.shape[0])])
            return [self._neurons([x[r, i] for i in range(x.shape[1])])
                    for r in range(x.shape[0])]
        rows = x
        if isinstance(rows, np.ndarray) and rows.ndim == 2 or (
                isinstance(rows, (list, tuple)) and rows and isinstance(rows[0], (list, tuple,
                                                                                  np.ndarray))):
            return [self._neurons(row) for row in rows]
        return self._neurons(rows)

    def _neurons(self, sample: Any) -> list[Value]:
        """One sample through the layer, neuron by neuron: z_j = Σ_i x_i·w_ij + b_j."""
        xs = list(sample)
        if len(xs) != self.in_features:
            raise ValueError(f"Linear({self.in_features}, {self.out_features}): got a sample of "
                             f"{len(xs)} features")
        xs = [v if isinstance(v, Value) else float(v) for v in xs]
        out = []
        for j in range(self.out_features):
            z: Any = self.bias[j] if self.bias is not None else 0.0
            for i in range(self.in_features):
                z = self.weight[i, j] * xs[i] + z
            out.append(z)
        return out


class Sequential(Module):
    """Layers applied one after the other; ``.layers`` is the list."""

    def __init__(self, *layers: Module) -> None:
        self.layers = list(layers)

    def children(self) -> list[tuple[str, Module]]:
        """("layers.i", layer) for every layer."""
        return [(f"layers.{i}", layer) for i, layer in enumerate(self.layers)]

    def forward(self, x: Any) -> Any:
        """Run x through every layer in turn."""
        for layer in self.layers:
            x = layer(x)
        return x

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential({inner})"


class MLP(Module):
    """A multi-layer perceptron: Linear layers of ``sizes`` with activations between.

    ``activation`` follows every hidden layer and ``output_activation`` the last one.
    ``.layers`` is the list of Linear layers. With ``scalar=True`` every weight and bias is
    its own scalar Value; called on one sample it returns a scalar Value (one output) or a
    list of them, and on a 2-D array a list of those, one per row.
    """

    def __init__(self, sizes: Sequence[int], activation: str | None = "sigmoid",
                 output_activation: str | None = "sigmoid", scalar: bool = False,
                 rng: RngLike = None) -> None:
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got {sizes}")
        gen = make_rng(rng)
        self.sizes = sizes
        self.scalar = bool(scalar)
        self.activation_name = activation
        self.output_activation_name = output_activation
        self.layers = [Linear(m, n, rng=gen, scalar=scalar)
                       for m, n in zip(sizes[:-1], sizes[1:], strict=True)]
        self._hidden = _make_activation(activation)
        self._output = _make_activation(output_activation)

    def children(self) -> list[tuple[str, Module]]:
        """("layers.i", Linear) for every Linear layer."""
        return [(f"layers.{i}", layer) for i, layer in enumerate(self.layers)]

    def forward(self, x: Any) -> Any:
        """The network's output for one sample or a batch (see the class docstring)."""
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            x = (self._output if i == last else self._hidden)(x)
        if self.scalar and self.sizes[-1] == 1 and isinstance(x, list):
            # one output neuron: a scalar Value per sample rather than a 1-element list
            if x and isinstance(x[0], list):
                return [row[0] for row in x]
            return x[0]
        return x

    def __repr__(self) -> str:
        extra = ", scalar=True" if self.scalar else ""
        return (f"MLP({self.sizes}, activation={self.activation_name!r}, "
                f"output_activation={self.output_activation_name!r}{extra})")
