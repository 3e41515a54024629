"""Neural-network building blocks on Values: Linear layers, activations, Sequential, MLP.

A `Linear` layer holds its weights either as two tensor Values (``scalar=False``, the
default) or as one scalar Value per weight and bias (``scalar=True``): a neuron-level graph,
as in the blog's network picture. Both give the same numbers and gradients.

Weights are read and set as plain ndarrays with `Module.state_dict` /
`Module.load_state_dict`, and saved to ``.npz`` without pickle with `Module.save` (at
exactly the path given, or through the symbolic link there, replaced atomically with its
permission bits kept) / `Module.load`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .core import checks as _checks
from .core.value import Value

__all__ = ["Module", "Linear", "ReLU", "Sigmoid", "Tanh", "Identity", "Sequential", "MLP",
           "activation", "make_rng"]

RngLike = np.random.Generator | int | None


def make_rng(rng: RngLike) -> np.random.Generator:
    """A NumPy Generator from a Generator, a seed, or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, (bool, np.bool_)):
        if rng < 0:
            raise ValueError(f"rng: a seed must be an integer >= 0, got {rng}")
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def _path(where: str, path: Any) -> str:
    """A file path given as a str or an os.PathLike, as a str."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"{where}: path must be a str or os.PathLike, got {type(path).__name__}")
    if not path:
        raise ValueError(f"{where}: path is empty")
    return path


# The first bytes of the files `load` can tell apart.
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # an archive; an empty one
_NPY_MAGIC = b"\x93NUMPY"
_PICKLE_MAGIC = b"\x80"


def _read_npz(path: str) -> dict[str, np.ndarray]:
    """Every array of the .npz archive at path; ValueError naming the path if it is not one."""
    def bad(what: str) -> ValueError:
        return ValueError(f"load: {path!r} is not a weights file written by save: {what}")

    with open(path, "rb") as f:
        head = f.read(len(_NPY_MAGIC))
        if not head:
            raise bad("the file is empty")
        if head.startswith(_NPY_MAGIC):
            raise bad("it is a single .npy array, not an .npz archive")
        if head.startswith(_PICKLE_MAGIC):
            raise bad("it is a pickle, which load refuses (unpickling can run code)")
        if not head.startswith(_ZIP_MAGICS):
            raise bad(f"it does not start like an .npz (zip) archive (first bytes {head!r})")
        f.seek(0)
        try:
            with np.load(f, allow_pickle=False) as data:
                arrays = {}
                for key in data.files:
                    try:
                        arrays[key] = data[key]
                    except ValueError as exc:
                        if "pickle" in str(exc):
                            raise bad(f"entry {key!r} holds Python objects (a pickle), which "
                                      f"load refuses") from None
                        raise
        except ValueError as exc:
            if str(exc).startswith("load: "):
                raise
            raise bad(f"the archive is damaged or truncated ({exc})") from None
        except (OSError, EOFError, KeyError, zipfile.BadZipFile, zipfile.LargeZipFile,
                RuntimeError) as exc:
            raise bad(f"the archive is damaged or truncated ({type(exc).__name__}: {exc})") \
                from None
    return arrays


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

    def named_parameters(self) -> list[tuple[str, Value]]:
        """(name, Value) for every parameter, named from the module tree as in `state_dict`:
        ``layers.0.weight``, or ``layers.0.weight[1,0]`` for a scalar weight."""
        named: list[tuple[str, Value]] = []
        for key, owner, kind in self._arrays():
            held = getattr(owner, kind)
            if owner.scalar:
                named.extend((f"{key}[{','.join(str(i) for i in index)}]", v)
                             for index, v in np.ndenumerate(held))
            else:
                named.append((key, held))
        return named

    def _label_parameters(self) -> None:
        """Label every parameter with its name (what drawings show)."""
        for name, value in self.named_parameters():
            value.label = name

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

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Set the weights from ndarrays; a missing key or a wrong shape changes nothing."""
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict: state must be a dict of arrays (as state_dict() "
                            f"returns), got {type(state).__name__}")
        entries = list(self._arrays())
        checked = []
        for key, owner, kind in entries:
            if key not in state:
                raise ValueError(f"load_state_dict: missing parameter {key!r} "
                                 f"(expected shape {owner._shape(kind)})")
            try:
                value = np.asarray(state[key])
            except (TypeError, ValueError) as exc:
                raise ValueError(f"load_state_dict: parameter {key!r} is not an array of "
                                 f"numbers: {exc}") from None
            if value.dtype.kind not in "fiub":
                raise ValueError(f"load_state_dict: parameter {key!r} is not numeric "
                                 f"(dtype {value.dtype})")
            if value.shape != owner._shape(kind):
                raise ValueError(f"load_state_dict: parameter {key!r} has shape {value.shape}, "
                                 f"the model's has shape {owner._shape(kind)}")
            checked.append((owner, kind, value))
        extra = sorted(str(key) for key in set(state) - {key for key, _, _ in entries})
        if extra:
            raise ValueError(f"load_state_dict: unexpected parameters {extra}")
        for owner, kind, value in checked:
            owner._set(kind, value)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state_dict to an ``.npz`` file at exactly ``path`` (no pickle), atomically.

        A symbolic link is written through: its target gets the new weights (a dangling link's
        target is created, as `open` would) and the link stays a link.
        The archive is written to a temporary file in the target's folder, flushed to disk, then
        moved onto the target with `os.replace`: a crash or a full disk leaves the previous file
        whole, and the temporary file is removed on any failure. A file that is replaced keeps
        its permission bits; a new one gets the mode `open` would give it.
        """
        path = _path("save", path)
        state = self.state_dict()
        target = os.path.realpath(path)  # a dangling link resolves to the file it names
        where = repr(path) if target == os.path.abspath(path) else f"{target!r} (from {path!r})"
        if os.path.islink(target):       # realpath stops inside a loop of links
            raise OSError(errno.ELOOP, f"save: {path!r} is a loop of symbolic links")
        folder = os.path.dirname(target)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"save: the folder {folder!r} of {where} does not exist")
        if os.path.isdir(target):
            raise IsADirectoryError(f"save: {where} is a folder; give the path of a file")
        try:
            mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = None
        fd, tmp = _temporary_file(folder, os.path.basename(target), mode)
        try:
            with os.fdopen(fd, "wb") as f:
                savez: Any = np.savez  # NumPy's stubs mistype its **arrays
                savez(f, **state)      # a file object: np.savez adds no ".npz" suffix
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _sync_folder(folder)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Read weights written by `save` (pickle is refused); a failed load changes nothing.

        A file that is not such an archive (empty, truncated, text, ``.npy``, pickled), or
        whose weights do not fit the model, raises ValueError naming the path.
        """
        path = _path("load", path)
        arrays = _read_npz(path)
        try:
            self.load_state_dict(arrays)
        except ValueError as exc:
            raise ValueError(f"load: {path!r}: {exc}") from None

    def input_size(self) -> int | None:
        """The input size the first Linear layer expects, or None if there is none."""
        for _, owner, _ in self._arrays():
            return owner.in_features
        return None


def _temporary_file(folder: str, name: str, mode: int | None) -> tuple[int, str]:
    """A new file beside the target, opened for writing, with the given permission bits.

    With mode None (no file to replace) it gets what `open` would give, 0o666 less the umask.
    It is created with no more than mode allows and set to mode before anything is written, so
    the weights are never readable by more people than the file they replace.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666 if mode is None else mode & 0o777)
        except FileExistsError:
            continue
        if mode is not None:
            try:      # the umask may have taken bits the old file had
                if stat.S_IMODE(os.fstat(fd).st_mode) != mode:
                    _chmod(fd, tmp, mode, os.path.join(folder, name))
            except BaseException:
                os.close(fd)
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        return fd, tmp
    raise FileExistsError(f"save: could not create a temporary file in {folder!r}")


def _chmod(fd: int, tmp: str, mode: int, target: str) -> None:
    """Give the open temporary file the permission bits of target (by name without fchmod).

    Only called when they differ, so a folder that refuses chmod (FAT, some network shares),
    where every file has the same mode, still takes a save.
    """
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        else:
            os.chmod(tmp, mode)
    except OSError as exc:
        raise type(exc)(exc.errno, f"save: cannot keep the permission bits {mode:#o} of "
                                   f"{target!r}: {exc.strerror}") from None


def _sync_folder(folder: str) -> None:
    """Flush the folder's entry for the renamed file to disk, where the system allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows, where folders cannot be opened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
    names = ", ".join(repr(k) for k in _ACTIVATIONS)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"activation must be a name ({names}), got {type(name).__name__}")
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {names}") from None


_make_activation = activation  # MLP's arguments shadow the name


class Linear(Module):
    """``x @ weight + bias`` with weight of shape (in, out) and bias of shape (out,).

    Initialised uniformly in ±1/sqrt(in_features) (PyTorch's default range) from ``rng``.
    With ``scalar=True``, ``weight`` and ``bias`` are object arrays of scalar Values.
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True,
                 rng: RngLike = None, scalar: bool = False) -> None:
        in_features = _checks.integer("Linear", "in_features", in_features)
        out_features = _checks.integer("Linear", "out_features", out_features)
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Linear needs positive sizes, got ({in_features}, {out_features})")
        bias = _checks.boolean("Linear", "bias", bias)
        self.in_features = in_features
        self.out_features = out_features
        self.scalar = _checks.boolean("Linear", "scalar", scalar)
        gen = make_rng(rng)
        bound = 1.0 / np.sqrt(in_features)
        w = gen.uniform(-bound, bound, (in_features, out_features))
        b = gen.uniform(-bound, bound, (out_features,)) if bias else None
        self.weight: Any
        self.bias: Any
        if scalar:
            self.weight = np.empty((in_features, out_features), dtype=object)
            for (i, j), v in np.ndenumerate(w):
                self.weight[i, j] = Value(float(v))
            self.bias = None
            if b is not None:
                self.bias = np.empty(out_features, dtype=object)
                for j, v in enumerate(b):
                    self.bias[j] = Value(float(v))
        else:
            self.weight = Value(w)
            self.bias = Value(b) if b is not None else None
        self._label_parameters()  # weight, bias[0], ...; a container relabels them with its path

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
        for i, v in enumerate(xs):
            if isinstance(v, Value):
                if v.shape != ():
                    raise ValueError(f"Linear({self.in_features}, {self.out_features}): feature "
                                     f"{i} of the sample is a Value of shape {v.shape}, not a "
                                     f"scalar")
            elif isinstance(v, (bool, np.bool_)) or not isinstance(
                    v, (int, float, np.integer, np.floating)):
                raise TypeError(f"Linear({self.in_features}, {self.out_features}): feature {i} "
                                f"of the sample must be a number or a scalar Value, got "
                                f"{type(v).__name__}")
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
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} must be a Module (Linear, ReLU, ...), "
                                f"got {type(layer).__name__}")
        self.layers = list(layers)
        self._label_parameters()

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
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (Sequence, np.ndarray)):
            raise TypeError(f"MLP: sizes must be a list of layer sizes like [2, 4, 1], got "
                            f"{type(sizes).__name__}")
        sizes = [_checks.integer("MLP", f"sizes[{i}]", s) for i, s in enumerate(sizes)]
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got {sizes}")
        if min(sizes) < 1:
            raise ValueError(f"MLP: every size must be >= 1, got {sizes}")
        scalar = _checks.boolean("MLP", "scalar", scalar)
        self._hidden = _make_activation(activation)
        self._output = _make_activation(output_activation)
        gen = make_rng(rng)
        self.sizes = sizes
        self.scalar = scalar
        self.activation_name = activation
        self.output_activation_name = output_activation
        self.layers = [Linear(m, n, rng=gen, scalar=scalar)
                       for m, n in zip(sizes[:-1], sizes[1:], strict=True)]
        self._label_parameters()

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
