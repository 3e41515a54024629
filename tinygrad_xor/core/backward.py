"""Reverse mode: one backward pass over a graph of Values, and ``Value.backward``.

A pass (`_Pass`) counts, for every computed node, its uses as an operand in the graph (step 1
of docs/how-it-works.md, `_Pass.count_users`), then sends gradients back in reverse
topological order (step 2, `_Pass.send_gradients`), and at the end adds the leaves'
gradients into their ``.grad`` (`_Pass.finish_leaves`). Its bookkeeping lives in three slots
of each node it reaches, `_count` (uses still to send), `_sum` (the partial sum of the
gradient) and `_pass`, the pass they belong to (the `_Pass` object itself): a pass reads a
node's count and sum only when `_pass` is itself, so what an interrupted pass left behind (an
exception or a KeyboardInterrupt at any moment) is stale and never read: the next pass starts
clean. A node no pass has reached has ``_pass`` None and no count or sum yet.

Passes are mutually exclusive: each holds `_pass_lock` from its first step to its last, so
passes from several threads over shared nodes run one after another, and each adds its
gradients into ``.grad`` (as a node's gradient is complete) without losing another's update,
even while NumPy has released the GIL. A pass started inside another one in the same thread
(a vjp that calls ``backward`` or ``autograd.grad``) takes the lock again and keeps a journal
of the slots it overwrites, which it puts back when it ends, so the outer pass goes on with
its own counts and sums. What a pass changes outside its nodes (the depth of passes, the
thread's grad mode, the outer pass's slots) `_Pass.run` puts back, in steps that a
KeyboardInterrupt cannot cut in half.

A pass runs on plain floats and ndarrays; with ``create_graph=True`` it runs on Values, so the
gradients it returns have their own graph and can be differentiated again.

Imports: ``kernels``, ``checks``, ``mode``, ``value``, ``primitive``, ``ops`` (``sum_to``:
sums of Values for ``create_graph``). It attaches ``Value.backward``.
"""

from __future__ import annotations

import threading
from threading import get_ident
from typing import Any

import numpy as np

from . import kernels
from .checks import describe, like
from .mode import _off, _traced, _tracing
from .ops import sum_to
from .primitive import Primitive
from .value import Value

__all__ = ["backprop", "seed"]

#: Held by a pass from its first step to its last (reentrant: a pass inside a pass).
_pass_lock = threading.RLock()
#: How many passes are running now (held under `_pass_lock`): more than one only when passes
#: nest in one thread.
_depth = [0]


def backward(self: Value, gradient: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Reverse-mode pass from this Value; adds dself/dx into x.grad for every x in the graph.

    ``gradient`` is dL/dself (PyTorch's name): a scalar needs none (it is 1.0); a tensor
    needs one of its own shape, of real numbers. The walk is iterative, so graphs millions
    of nodes deep work. ``retain_graph`` is accepted for PyTorch's call form: a graph here
    is always kept, so a second ``backward`` adds again. ``.grad`` holds numbers, so
    ``create_graph=True`` is refused: `autograd.grad` returns differentiable gradients.
    """
    if retain_graph is not None and not isinstance(retain_graph, (bool, np.bool_)):
        raise TypeError(f"backward(): retain_graph must be True, False or None, got "
                        f"{describe(retain_graph)}")
    if create_graph is not False:
        if not isinstance(create_graph, (bool, np.bool_)):
            raise TypeError(f"backward(): create_graph must be True or False, got "
                            f"{describe(create_graph)}")
        if create_graph:
            raise ValueError("backward(create_graph=True): .grad holds numbers here, never"
                             " a graph; use autograd.grad(out, inputs, create_graph=True)"
                             " for gradients that can be differentiated again")
    if _tracing:
        _traced(self, "backward()")
    if not self._requires_grad:
        raise ValueError("backward() on a Value that does not require grad"
                         " (made under no_grad(), from constants, or requires_grad=False)")
    backprop((self,), (seed(self, gradient, "backward()"),), create_graph=False)


backward.__qualname__ = "Value.backward"
Value.backward = backward  # type: ignore[method-assign]


def seed(root: Value, grad: Any, what: str) -> Any:
    """The gradient a pass starts from at ``root``: 1.0 for a scalar, else ``grad`` checked
    (real numbers of the root's shape), as an array of its own: the root's ``.grad`` may
    become this very array, which must not change with the caller's."""
    data = root._data
    if grad is None:
        if type(data) is float:
            return 1.0
        raise ValueError(f"{what} on a tensor of shape {data.shape} needs a gradient of that"
                         f" shape (dL/dself); only a scalar's is implied")
    given = grad._data if isinstance(grad, Value) else grad
    g = like(given, data, f"{what}: the gradient")
    if type(g) is np.ndarray and isinstance(given, np.ndarray) and np.may_share_memory(g, given):
        g = g.copy()
    return g


def backprop(roots: tuple[Value, ...], seeds: tuple[Any, ...], *, create_graph: bool,
             wanted: tuple[Value, ...] | None = None) -> dict[Value, Any] | None:
    """One reverse pass from ``roots``, each starting from its seed gradient.

    With ``wanted`` None (``backward``), every node's gradient is added into its ``.grad`` and
    None is returned. Otherwise (``autograd.grad``) no ``.grad`` changes and the
    gradients of the ``wanted`` nodes are returned, by node (one the pass does not reach is
    missing). With ``create_graph`` the seeds and gradients are Values whose graph can be
    differentiated again.
    """
    return _Pass(create_graph, wanted).run(roots, seeds)


Journal = list[tuple[Value, Any, Any, Any]]


class _Pass:
    """One backward pass: the token its nodes are tagged with (the object itself), whether it
    builds the gradients' graph, the leaves it met, the gradients wanted of it (``found``,
    None for ``backward``) and, inside another pass, the journal of the slots it overwrote."""

    __slots__ = ("create_graph", "found", "leaves", "journal")

    def __init__(self, create_graph: bool, wanted: tuple[Value, ...] | None) -> None:
        self.create_graph = create_graph
        self.found: dict[Value, Any] | None = None if wanted is None else dict.fromkeys(wanted)
        self.leaves: list[Value] = []
        self.journal: Journal | None = None

    def run(self, roots: tuple[Value, ...], seeds: tuple[Any, ...]) -> dict[Value, Any] | None:
        """Enter the pass (the lock, the depth, this thread's grad mode), run its steps, leave.

        Interrupt-safe by construction: CPython raises a KeyboardInterrupt only as a call
        returns, as a Python function starts, or at a loop's backward jump. Each change below
        is made inside the try whose finally undoes it, last made first undone, written out
        here rather than in an ``__exit__`` (a Python ``__exit__`` can be interrupted as it
        starts, before it undoes anything). The depth and the mode are put back by one store
        and one call of a C function, which an interrupt cannot cut short; one that lands
        after either is raised into the next finally out. (One that lands while the outer
        pass's slots are put back goes on through the outer pass, which it stops as well.)
        """
        ident = get_ident()
        enabled = ident not in _off  # this thread's grad mode, which restore_mode puts back
        restore_mode = _off.discard if enabled else _off.add
        create_graph = self.create_graph
        with _pass_lock:
            depth = _depth[0]
            if depth:
                self.journal = []
            try:
                _depth[0] = depth + 1
                try:
                    if enabled != create_graph:  # a pass records a graph when it builds one
                        if create_graph:
                            _off.discard(ident)
                        else:
                            _off.add(ident)
                    try:
                        ready = self.count_users(roots, seeds)
                        self.send_gradients(ready)
                        return self.finish_leaves()
                    finally:
                        journal = self.journal
                        if journal:  # inside a pass: put back what the outer pass had there
                            for node, owner, count, partial in reversed(journal):
                                node._pass, node._count, node._sum = owner, count, partial
                finally:
                    restore_mode(ident)
            finally:
                _depth[0] = depth

    def count_users(self, roots: tuple[Value, ...], seeds: tuple[Any, ...]) -> list[Value]:
        """Step 1, count the users: the roots take their seeds, then every computed node of
        the graph is claimed for this pass and its uses as an operand counted. Returns the
        roots that are ready (all their users, if any, have sent their share). Leaves are not
        counted: they are finished when the pass ends."""
        token, journal = self, self.journal
        stack: list[Value] = []
        for root, g in zip(roots, seeds):
            if root._requires_grad:
                self.send_seed(root, g, self.leaves if root._op is None else stack)
        ready = stack[:]
        pop, push = stack.pop, stack.append
        while stack:
            node = pop()
            a: Any = node._in0  # never None: only computed nodes are pushed
            b: Any = node._in1
            for parent in ((a,) if b is None else (a, b) if node._rest is None else
                           node._parents):  # (the operands, spelled out for one or two)
                if parent._op is not None:  # computed (so it requires grad)
                    if parent._pass is token:
                        parent._count += 1
                    else:  # self.claim(parent, 1), written out: once per node
                        if journal is not None:
                            _note(journal, parent)
                        parent._pass = token
                        parent._count = 1
                        parent._sum = None
                        push(parent)
        if len(ready) > 1:  # roots used by other roots wait for them
            ready = [root for root in ready if root._count == 0]
        return ready

    def claim(self, node: Value, count: int) -> None:
        """Make ``node``'s bookkeeping slots this pass's (noting the old ones in a nested
        pass). The two hot loops write it out inline."""
        if self.journal is not None:
            _note(self.journal, node)
        node._pass = self
        node._count = count
        node._sum = None

    def send_seed(self, node: Value, g: Any, met: list[Value]) -> None:
        """Add a root's seed ``g`` into its partial sum in this pass (claiming it, into
        ``met``, the first time)."""
        if node._pass is not self:
            self.claim(node, 0)
            met.append(node)
        old = node._sum
        node._sum = g if old is None else old + g

    def send_gradients(self, ready: list[Value]) -> None:
        """Step 2, in reverse topological order, send each node's gradient on to its operands.

        A node's gradient is complete when it is taken from ``ready``: it is added into its
        ``.grad`` then (or kept in ``found`` for ``autograd.grad``). The rule of each node is
        called here, in one place: with the numbers of the node and its operands, or with the
        Values themselves when ``create_graph`` (so the rule records a graph).
        """
        token, journal, leaves = self, self.journal, self.leaves
        found, create_graph = self.found, self.create_graph
        pop, push = ready.pop, ready.append
        while ready:
            node = pop()
            a: Any = node._in0
            b: Any = node._in1
            rest = node._rest
            parents: tuple[Value, ...] = (  # (the operands, spelled out for one or two)
                (a,) if b is None else (a, b) if rest is None else node._parents)
            g = node._sum
            node._sum = None
            if g is None:  # no gradient reached this node (e.g. a max that was not the maximum)
                sent: Any = (None,) * len(parents)
            else:
                if found is not None:
                    if node in found:
                        found[node] = g
                elif node._grad is None and not create_graph:
                    node._grad = g  # what _accumulate does for a computed node's first gradient
                else:
                    _accumulate(node, g)
                prim: Primitive = node._op  # type: ignore[assignment]  # only computed nodes
                if rest is None and prim.vjps is None and not create_graph:
                    # the common case, spelled out: numbers, one or two operands, no parameters
                    sent = (prim.vjp(g, node._data, a._data) if b is None else
                            prim.vjp(g, node._data, a._data, b._data))
                else:
                    sent = _call_rule(prim, node, parents, g, create_graph)
            i = 0  # (an index, not zip: this loop runs once per edge of the graph)
            for parent in parents:
                pg = sent[i]
                i += 1
                if parent._op is not None:  # computed: it requires grad, this pass claimed it
                    n = parent._count - 1
                    parent._count = n
                    if n == 0:  # its last user: ready once this gradient is added (below)
                        push(parent)
                elif pg is None or not parent._requires_grad:
                    continue
                elif parent._pass is not token:  # a leaf met first: self.claim(parent, 0), inline
                    if journal is not None:
                        _note(journal, parent)
                    parent._pass = token
                    parent._count = 0
                    parent._sum = None
                    leaves.append(parent)
                if pg is not None:
                    if type(pg) is not float and (  # a float is sent only to a float (_reduce)
                            type(pg) is not np.ndarray or type(parent._data) is not np.ndarray
                            or pg.shape != parent._data.shape
                            or pg.dtype is not parent._data.dtype):
                        pg = _reduce(pg, parent, node._op, create_graph)
                    old = parent._sum
                    parent._sum = pg if old is None else old + pg

    def finish_leaves(self) -> dict[Value, Any] | None:
        """The end of the pass: each leaf's gradient is complete, added into its ``.grad``
        (or returned, for ``autograd.grad``: the wanted nodes' gradients, by node)."""
        found = self.found
        for leaf in self.leaves:
            g = leaf._sum
            leaf._sum = None
            if found is None:
                _accumulate(leaf, g)
            elif leaf in found:
                found[leaf] = g
        if found is None:
            return None
        return {node: g for node, g in found.items() if g is not None}


def _note(journal: Journal, node: Value) -> None:
    """Note a node's bookkeeping slots before a nested pass overwrites them (a node no pass
    has reached has no count or sum yet)."""
    owner = node._pass
    journal.append((node, None, 0, None) if owner is None else
                   (node, owner, node._count, node._sum))


def _call_rule(prim: Primitive, node: Value, parents: tuple[Value, ...], g: Any,
               create_graph: bool) -> Any:
    """The gradients ``node``'s rule sends to its operands: called with their numbers, or with
    the Values themselves when ``create_graph`` (so the rule records a graph); per input when
    the op has per-input rules and an operand needs no gradient. (A user's rule checks what it
    returns: see primitive._checked.)"""
    rest = node._rest
    params = _NO_PARAMS if rest is None or rest.params is None else rest.params
    if create_graph:
        out: Any = node
        xs: Any = parents
        if type(g) is not Value:
            g = Value(g, requires_grad=False)
    else:
        out = node._data
        xs = ((parents[0]._data,) if len(parents) == 1 else
              (parents[0]._data, parents[1]._data) if len(parents) == 2 else
              tuple([p._data for p in parents]))
    if prim.vjps is not None and not (
            parents[0]._requires_grad and (len(parents) == 1 or parents[1]._requires_grad)
            and (len(parents) < 3 or all([p._requires_grad for p in parents]))):
        return [rule(g, out, *xs, **params) if p._requires_grad else None
                for rule, p in zip(prim.vjps, parents)]
    return prim.vjp(g, out, *xs, **params)


_NO_PARAMS: dict[str, Any] = {}


def _reduce(g: Any, parent: Value, prim: Primitive | None, create_graph: bool) -> Any:
    """A gradient summed back to its operand's shape (undo broadcasting) and kind.

    The pass calls it for every gradient but a float, and for an array only when it does not
    fit already: a float is taken to be a float operand's gradient. The table's rules send a
    float only to a float (the gradient tests check every rule's gradient kind and shape), and
    the wrapper of a user's rule (primitive._checked) makes a number sent to an array an array.
    """
    data = parent._data
    if type(g) is not np.ndarray:
        if isinstance(g, Value):
            if create_graph:  # the sum is part of the gradient's graph
                if g.shape == parent.shape:
                    return g
                summed = sum_to(g, parent.shape)
                if summed is None:
                    raise ValueError(f"{_name(prim)}: its vjp returned a gradient of shape "
                                     f"{g.shape} for an input of shape {parent.shape}")
                return summed
            g = g._data  # a rule that computed with Values on numbers: keep the numbers
        if type(g) is not np.ndarray:
            if not isinstance(g, (int, float, np.number, list, tuple)) or isinstance(g, bool):
                raise ValueError(f"{_name(prim)}: its vjp returned {describe(g)} as a "
                                 f"gradient, not a number or an array")
            g = np.asarray(g)
    if g.dtype.kind not in "fiu":
        raise ValueError(f"{_name(prim)}: its vjp returned a gradient of dtype {g.dtype}")
    if type(data) is float:
        return float(np.sum(g))
    shape = data.shape
    if g.shape != shape:
        reduced: Any = kernels.sum_to(g, shape)
        if reduced is None:  # fewer axes than the operand, or length 1 where it has more
            try:
                reduced = np.broadcast_to(g, shape)
            except ValueError:
                raise ValueError(f"{_name(prim)}: its vjp returned a gradient of shape "
                                 f"{g.shape} for an input of shape {shape}") from None
        g = reduced
    if g.dtype != data.dtype:
        g = g.astype(data.dtype)
    return g


def _name(prim: Primitive | None) -> str:
    return prim.name if prim is not None else "backward"


def _accumulate(node: Value, g: Any) -> None:
    """Add one pass's gradient into ``node.grad`` (the pass holds `_pass_lock`).

    A leaf (a parameter) gets an array of its own on its first gradient, so changing it in
    place cannot change another Value's grad, and later passes add into it in place; an
    intermediate keeps the array it was sent (vector-Jacobian products may pass one array on to
    several operands, so the engine never writes into it, and the ``grad`` property hands it
    out read-only).
    """
    if type(g) is Value:  # create_graph: .grad holds numbers, never a Value
        g = g._data
    old = node._grad
    if old is None:
        node._grad = g.copy() if type(g) is np.ndarray and node._op is None else g
    elif type(g) is float or type(old) is not np.ndarray:
        node._grad = old + g
    elif node._op is None and old.flags.writeable and old.shape == g.shape:
        old += g
    else:
        node._grad = old + g

