"""Reverse mode: one backward pass over a graph of Values.

A pass (`backprop`) keeps all its state to itself, the way PyTorch's engine keeps a graph task
per call: it numbers the nodes it reaches (a dict of its own), and by number it counts each
node's uses still to come and holds its partial sum (lists of its own). Nothing is written into
the graph while the pass runs, so passes in several threads over shared nodes cannot see each
other's counts, and a pass stopped by an exception or a KeyboardInterrupt at any point leaves
nothing behind: the next pass starts clean. `backward` then adds the finished gradients into
``.grad`` under one lock (`_commit`), so concurrent passes add their sums one after another and
no update is lost while NumPy has released the GIL.

A pass runs on plain floats and ndarrays; with ``create_graph=True`` it runs on Values, so the
gradients it returns have their own graph and can be differentiated again.
"""

from __future__ import annotations

import threading
from threading import get_ident
from typing import Any

import numpy as np

from . import kernels
from .engine import Primitive, Value, _describe, _off, _set_mode

__all__ = ["backward", "backprop"]

#: Held while a finished pass adds its gradients into .grad (see `_commit`).
_commit_lock = threading.Lock()


def backward(root: Value, grad: Any) -> None:
    """``root.backward(grad)``: one pass, then its gradients added into every ``.grad``."""
    if not root.requires_grad:
        raise ValueError("backward() on a Value that does not require grad"
                         " (made under no_grad(), from constants, or requires_grad=False)")
    grads = backprop((root,), (seed(root, grad, "backward()"),), create_graph=False)
    _commit(grads)


def seed(root: Value, grad: Any, what: str) -> Any:
    """The gradient a pass starts from at ``root``: 1.0 for a scalar, else ``grad`` checked."""
    data = root.data
    if grad is None:
        if type(data) is float:
            return 1.0
        raise ValueError(f"{what} on a tensor of shape {data.shape} needs a gradient of that"
                         f" shape (dL/dself); only a scalar's is implied")
    if isinstance(grad, Value):
        grad = grad.data
    if isinstance(grad, (bool, np.bool_)) or not (
            isinstance(grad, (int, float, np.number, list, tuple, np.ndarray))):
        raise TypeError(f"{what}: the gradient must be a number or an array, got "
                        f"{_describe(grad)}")
    if type(data) is float and np.ndim(grad) != 0:
        raise ValueError(f"{what}: the gradient of a scalar must be a number, got "
                         f"{_describe(grad)}")
    try:
        g = np.asarray(grad, dtype=np.float64 if type(data) is float else data.dtype)
    except (TypeError, ValueError):
        raise TypeError(f"{what}: the gradient must hold numbers, got {_describe(grad)}") from None
    if g.shape != np.shape(data):
        raise ValueError(f"{what}: the gradient has shape {g.shape}, the Value has shape "
                         f"{np.shape(data)}")
    return float(g) if type(data) is float else g


class Gradients:
    """What one pass computed: ``dL/dnode`` for every node it reached that requires grad.

    ``nodes[i]`` and ``sums[i]`` belong together (``None``: no gradient reached the node);
    ``index`` maps a node to its ``i``. Lists indexed by a number of the pass's own cost one
    dict lookup per edge where dicts of counts and sums cost four.
    """

    __slots__ = ("index", "nodes", "sums")

    def __init__(self, index: dict[Value, int], nodes: list[Value], sums: list[Any]) -> None:
        self.index, self.nodes, self.sums = index, nodes, sums

    def get(self, node: Value) -> Any:
        """The gradient of ``node``, or None if the pass did not reach it."""
        i = self.index.get(node)
        return None if i is None else self.sums[i]


def backprop(roots: tuple[Value, ...], seeds: tuple[Any, ...], *,
             create_graph: bool) -> Gradients:
    """One reverse pass from ``roots`` (each starting from its seed gradient).

    Returns the gradient of every node the pass reached that requires grad. With
    ``create_graph`` the seeds and results are Values whose graph can be differentiated again.
    """
    index: dict[Value, int] = {}  # every node of the pass that requires grad -> its number
    users: list[int] = []         # by number: the uses as an operand still to send a gradient
    sums: list[Any] = []          # by number: the partial sum of the node's gradient
    stack = []
    for root, g in zip(roots, seeds):
        if root.requires_grad:
            i = index.get(root)
            if i is None:
                index[root] = len(sums)
                users.append(0)
                sums.append(g)
                if root._op is not None:
                    stack.append(root)
            else:
                sums[i] = sums[i] + g
    first = len(sums)
    # Pass 1: number the nodes and count, for each, its uses as an operand inside this graph.
    # A node is ready once all its users have sent their share.
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        a: Any = node._in0  # never None: only computed nodes are pushed
        b: Any = node._in1
        for parent in ((a,) if b is None else (a, b) if node._in_more is None else
                       node._parents):
            if parent.requires_grad:
                i = index.get(parent)
                if i is None:
                    index[parent] = len(sums)
                    users.append(1)
                    sums.append(None)
                    if parent._op is not None:
                        push(parent)
                else:
                    users[i] += 1
    nodes = list(index)  # in the order of their numbers
    ready = [i for i in range(first) if users[i] == 0 and nodes[i]._op is not None]
    ident = get_ident()  # a pass records a graph exactly when it builds one (as _mode does)
    previous = ident not in _off
    try:
        _set_mode(ident, create_graph)
        _send_grads(ready, index, nodes, users, sums, create_graph)
    finally:
        _set_mode(ident, previous)
    return Gradients(index, nodes, sums)


def _send_grads(ready: list[int], index: dict[Value, int], nodes: list[Value],
                users: list[int], sums: list[Any], create_graph: bool) -> None:
    """Pass 2: in reverse topological order, send each node's gradient on to its operands.

    The rule of each node is called here, in one place: with the numbers of the node and its
    operands, or with the Values themselves when ``create_graph`` (so the rule records a graph).
    """
    pop, push = ready.pop, ready.append
    while ready:
        i = pop()
        node = nodes[i]
        a: Any = node._in0
        b: Any = node._in1
        parents: tuple[Value, ...] = (
            (a,) if b is None else (a, b) if node._in_more is None else node._parents)
        g = sums[i]
        if g is None:  # no gradient reached this node (e.g. a max that was not the maximum)
            sent: Any = (None,) * len(parents)
        else:
            prim: Primitive = node._op  # type: ignore[assignment]  # only computed nodes
            params = node._params
            if create_graph:
                out: Any = node
                xs: Any = parents
                if type(g) is not Value:
                    g = Value(g, requires_grad=False)
            else:
                out = node.data
                xs = None if params is None and prim.vjps is None and len(parents) < 3 else (
                    tuple([p.data for p in parents]))
            try:
                if xs is None:  # the common case, spelled out: no tuple of operands to build
                    sent = (prim.vjp(g, out, a.data) if b is None else
                            prim.vjp(g, out, a.data, b.data))
                elif prim.vjps is not None and not all([p.requires_grad for p in parents]):
                    # per-input rules: skip the work for operands that need no gradient
                    sent = [rule(g, out, *xs, **(params or _NO_PARAMS)) if p.requires_grad
                            else None for rule, p in zip(prim.vjps, parents)]
                else:
                    sent = prim.vjp(g, out, *xs, **(params or _NO_PARAMS))
            except (TypeError, AttributeError) as exc:
                if create_graph and not prim.builtin:
                    raise TypeError(f"{prim.name}: its vjp cannot take Values, so it cannot be "
                                    f"differentiated again (create_graph=True): {exc}") from exc
                raise
            if (type(sent) is not tuple and type(sent) is not list) or (
                    len(sent) != len(parents)):
                raise ValueError(f"{prim.name}: its vjp must return a tuple with one gradient "
                                 f"per input ({len(parents)}), got {_describe(sent)}")
            if create_graph:
                _check_values(prim, sent)
        for parent, pg in zip(parents, sent):
            if not parent.requires_grad:
                continue
            j = index[parent]
            if pg is not None:
                data = parent.data
                if type(pg) is not type(data) or (type(data) is np.ndarray and (
                        pg.shape != data.shape or pg.dtype is not data.dtype)):
                    pg = _reduce(pg, parent, node._op, create_graph)  # shape, dtype, kind
                old = sums[j]
                sums[j] = pg if old is None else old + pg
            if parent._op is not None:
                n = users[j] - 1
                users[j] = n
                if n == 0:
                    push(j)


_NO_PARAMS: dict[str, Any] = {}


def _check_values(prim: Primitive, sent: Any) -> None:
    """With create_graph, a rule must return Values: data would cut the gradient's graph."""
    for x in sent:
        if x is not None and not isinstance(x, Value):
            raise TypeError(f"{prim.name}: its vjp returned {_describe(x)}, not a Value, when "
                            f"called with Values, so it cannot be differentiated again "
                            f"(create_graph=True)")


def _reduce(g: Any, parent: Value, prim: Primitive | None, create_graph: bool) -> Any:
    """A gradient summed back to its operand's shape (undo broadcasting) and kind."""
    data = parent.data
    name = prim.name if prim is not None else "backward"
    if isinstance(g, Value) and not create_graph:
        g = g.data  # a rule that computed with Values on numbers: keep the numbers
    if isinstance(g, Value):  # create_graph: the sum is part of the gradient's graph
        if g.shape == parent.shape:
            return g
        summed = _ops.sum_to(g, parent.shape)
        if summed is None:
            raise ValueError(f"{name}: its vjp returned a gradient of shape {g.shape} for an"
                             f" input of shape {parent.shape}")
        return summed
    if type(g) is not np.ndarray:
        if not isinstance(g, (int, float, np.number, list, tuple)) or isinstance(g, bool):
            raise ValueError(f"{name}: its vjp returned {_describe(g)} as a gradient, not a "
                             f"number or an array")
        g = np.asarray(g)
    if g.dtype.kind not in "fiu":
        raise ValueError(f"{name}: its vjp returned a gradient of dtype {g.dtype}")
    if type(data) is float:
        return float(np.sum(g))
    shape = data.shape
    if g.shape != shape:
        reduced: Any = kernels.sum_to(g, shape)
        if reduced is None:  # fewer axes than the operand, or length 1 where it has more
            try:
                reduced = np.broadcast_to(g, shape)
            except ValueError:
                raise ValueError(f"{name}: its vjp returned a gradient of shape {g.shape} for"
                                 f" an input of shape {shape}") from None
        g = reduced
    if g.dtype != data.dtype:
        g = g.astype(data.dtype)
    return g


def _commit(grads: Gradients) -> None:
    """Add a finished pass's gradients into ``.grad``, one pass at a time.

    A leaf (a parameter) gets an array of its own on its first gradient, so changing it in
    place cannot change another Value's grad, and later passes add into it in place; an
    intermediate keeps the array it was sent (vector-Jacobian products may pass one array on to
    several operands, so the engine never writes into it, and the ``grad`` property hands it
    out read-only).
    """
    with _commit_lock:
        for node, g in zip(grads.nodes, grads.sums):
            if g is None:
                continue
            old = node._grad
            if old is None:
                node._grad = g.copy() if type(g) is np.ndarray and node._op is None else g
            elif type(g) is float or type(old) is not np.ndarray:
                node._grad = old + g
            elif node._op is None and old.flags.writeable and old.shape == g.shape:
                old += g
            else:
                node._grad = old + g


from . import ops as _ops  # noqa: E402  (the op table: sums of Values for create_graph)
