"""The python and vector backends of `jit`: one line per element of every value.

`Elements` writes each operation of a traced graph element by element: every value a list of
names or literals, one per element, each a Python float (the python backend) or a NumPy vector
over a leading batch axis (the vector backend, many small networks at once). `inline` then
writes each value used once into the line that uses it, exactly. `generate_elements` puts the
lines into a function over flat arguments, and a loop form for a training step. The numba
backend (``compiler_numba.py``) extends `Elements`. Imports ``codegen.py`` and the core.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .codegen import INFIX, Writer, call_text, source_of
from .core import kernels
from .core.mode import TraceError
from .core.primitive import Primitive
from .core.value import Value, walk

__all__ = ["Elements", "generate_elements", "inline", "mask_line"]


#: Masks that act element by element (the others, such as max's share of a tie, are computed
#: on arrays). A function of the mask primitive elsewhere says so with ``fn.elementwise = True``.
_ELEMENTWISE_MASKS = {"positive", "sign", "maximum_share", "clip_inside", "clip_at_lo",
                      "clip_at_hi", "power_keep_a", "power_keep_b"}
SCALAR_CALLS = {"sigmoid": "sigmoid_scalar", "tanh": "tanh", "exp": "exp_scalar",
                 "log": "log_scalar", "sqrt": "sqrt_scalar", "sin": "sin_scalar",
                 "cos": "cos_scalar", "abs": "abs"}


def positions(shape: tuple[int, ...]) -> np.ndarray:
    """The flat index of every element of an array of ``shape``, as that array."""
    return np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)


def reduced_groups(shape: tuple[int, ...], axis: Any) -> np.ndarray:
    """The flat indices of each group a reduction over ``axis`` adds up, one row a group, in
    the order of the result's elements."""
    pos = positions(shape)
    axes = tuple(range(len(shape))) if axis is None else tuple(
        a % len(shape) for a in np.atleast_1d(axis))
    keep = [a for a in range(len(shape)) if a not in axes]
    groups: Any = np.moveaxis(pos, keep + list(axes), range(len(shape))).reshape(
        [shape[a] for a in keep] + [-1]) if keep else pos.reshape(1, -1)
    return groups.reshape(-1, groups.shape[-1])  # type: ignore[no-any-return]


def spread(elems: list[str], shape: tuple[int, ...], out: tuple[int, ...]) -> list[str]:
    """The elements of an operand broadcast to the shape ``out``, in C order."""
    if shape == out:
        return elems
    return [elems[i] for i in np.broadcast_to(positions(shape), out).ravel()]


def _infix(name: str, x: str, y: str) -> str:
    """``x op y``; a product with the literal 1.0 is the other factor (exactly: 1.0 * y == y
    for every float, NaN, infinities and -0.0 included)."""
    if name == "mul":
        if x == "1.0":
            return y
        if y == "1.0":
            return x
    return f"{x} {INFIX[name]} {y}"


def _larger(a: str, b: str, than: str) -> str:
    """``np.maximum(a, b)`` (``than`` ">") or ``np.minimum`` (``than`` "<") of two floats, as
    `kernels.maximum_scalar` computes it: a NaN wins, of equal numbers ``b``."""
    return f"({a} if {a} {than} {b} or {a} != {a} else {b})"


#: The most terms one line adds up (Python's compiler recurses once per operator of a line).
_TERMS = 32


def _sum_lines(el: Elements, stem: str, terms: list[str]) -> str:
    """``t0 + t1 + ...`` as one line, or as partial sums of `_TERMS` terms for a long one."""
    while len(terms) > _TERMS:
        terms = [el.line(stem, " + ".join(terms[i:i + _TERMS]))
                 for i in range(0, len(terms), _TERMS)]
    return " + ".join(terms) if terms else "0.0"


def cond(expr: str) -> str:
    """1.0 where ``expr`` holds, else 0.0."""
    return f"(1.0 if {expr} else 0.0)"


def mask_line(fn: Any, xs: list[str], kw: dict[str, str]) -> str | None:
    """A mask function of the rules as one float expression of its operands (names or
    literals), or None: the python and numba backends' lines for the masks of the rules."""
    if not getattr(fn, "__module__", "").startswith("tinygrad_xor."):
        return None  # (a user's function of the same name is called)
    name = getattr(fn, "__name__", "")
    if name == "positive":
        return cond(f"{xs[0]} > 0.0")
    if name == "sign":
        return f"(1.0 if {xs[0]} > 0.0 else (-1.0 if {xs[0]} < 0.0 else 0.0))"
    if name == "maximum_share":  # 1 - (a < b) - 0.5 (a == b)
        return f"(0.0 if {xs[0]} < {xs[1]} else (0.5 if {xs[0]} == {xs[1]} else 1.0))"
    if name == "clip_inside":  # (x, lo=, hi=): numbers or None; (x, lo, hi): Value bounds
        x, lo, hi = xs if len(xs) == 3 else (xs[0], kw.get("lo", "None"), kw.get("hi", "None"))
        terms = ([] if lo == "None" else [f"{x} >= {lo}"]) + \
            ([] if hi == "None" else [f"{x} <= {hi}"])
        return cond(" and ".join(terms)) if terms else "1.0"
    if name == "clip_at_lo":
        return cond(f"{xs[0]} < {xs[1]} and {xs[1]} < {xs[2]}")
    if name == "clip_at_hi":
        return cond(f"{xs[0]} > {xs[2]} or {xs[2]} < {xs[1]}")
    if name == "power_keep_a":
        return cond(f"{xs[1]} != 0.0 or abs({xs[0]}) > 0.0")
    if name == "power_keep_b":
        return cond(f"{xs[0]} != 0.0 or {xs[1]} < 0.0")
    if name == "lift_to_tiny" and len(xs) == 1:  # (losses.py: max(x, tiny) - x, tiny = fn(0))
        tiny = repr(float(fn(0.0)))
        return f"({tiny} - {xs[0]} if {xs[0]} < {tiny} else 0.0)"
    return None


class Elements:
    """The python backend's writer: each Value a list of names or literals, one per element.

    With ``vector``, each element is a NumPy vector instead, one entry per network of a batch
    (the vector backend): the same lines, with NumPy's functions for the scalar ones."""

    def __init__(self, w: Writer, vector: bool = False) -> None:
        self.w = w
        self.vector = vector
        self.body: list[str] = []

    def line(self, stem: str, expr: str) -> str:
        name = self.w.fresh(stem)
        self.body.append(f"    {name} = {expr}")
        return name

    def node(self, node: Value, ops: list[tuple[list[str], tuple[int, ...]]]) -> list[str]:
        prim: Primitive = node._op  # type: ignore[assignment]  # a computed node
        name, params = prim.name, node._params or {}
        out = node.shape
        stem = f"{self.w.fresh(name)}_"
        n = int(np.prod(out)) if out else 1
        if name in INFIX:
            a, b = (spread(e, s, out) for e, s in ops)
            return [self.line(stem, _infix(name, x, y)) for x, y in zip(a, b)]
        vector = self.vector
        if name == "relu":
            if vector:
                return [self.line(stem, f"np.maximum({x}, 0.0)") for x in ops[0][0]]
            return [self.line(stem, f"(0.0 if {x} <= 0.0 else {x})") for x in ops[0][0]]
        if name in SCALAR_CALLS and prim.scalar is not None:
            fn = (self.w.bind(prim.forward, name) if vector else
                  self.w.bind(prim.scalar, SCALAR_CALLS[name]))
            return [self.line(stem, f"{fn}({x})") for x in ops[0][0]]
        if name == "pow":
            p = params["p"]
            if p == 2:
                return [self.line(stem, f"{x} * {x}") for x in ops[0][0]]
            fn = (self.w.bind(kernels.pow_array, "pow_array") if vector else
                  self.w.bind(prim.scalar, "pow_scalar"))
            return [self.line(stem, f"{fn}({x}, {p!r})") for x in ops[0][0]]
        if name in ("power", "maximum", "minimum"):
            a, b = (spread(e, s, out) for e, s in ops)
            if name != "power" and not vector:
                return [self.line(stem, _larger(x, y, "<" if name == "minimum" else ">"))
                        for x, y in zip(a, b)]
            fn = f"np.{name}" if vector else self.w.bind(prim.scalar, "power_scalar")
            return [self.line(stem, f"{fn}({x}, {y})") for x, y in zip(a, b)]
        if name == "keep":
            m, g = (spread(e, s, out) for e, s in ops)
            if vector:
                return [self.line(stem, f"np.where({x} > 0.5, {y}, 0.0)") for x, y in zip(m, g)]
            return [self.line(stem, f"({y} if {x} > 0.5 else 0.0)") for x, y in zip(m, g)]
        if name == "mask" and (getattr(params["fn"], "__name__", "") in _ELEMENTWISE_MASKS
                               or getattr(params["fn"], "elementwise", False)):
            fn = params["fn"]
            rest = {k: v for k, v in params.items() if k != "fn"}
            cols = [spread(e, s, out) for e, s in ops]
            consts = {k: self._param_elements(v, out) for k, v in rest.items()}
            if not vector:  # the rules' masks as expressions, others as calls
                lines = [mask_line(fn, [c[i] for c in cols], {k: consts[k][i] for k in consts})
                         for i in range(n)]
                if None not in lines:
                    return [self.line(stem, str(line)) for line in lines]
            call = self.w.bind(fn, fn.__name__)
            cast = "_floats" if vector else "float"
            self.w.namespace["_floats"] = _floats
            return [self.line(stem, f"{cast}({call}(" + ", ".join(
                [c[i] for c in cols] + [f"{k}={consts[k][i]}" for k in consts]) + "))")
                for i in range(n)]
        if name == "clip" and len(ops) == 1:
            lo, hi = (self._param_elements(params[k], out) for k in ("lo", "hi"))
            if vector:
                return [self.line(stem, f"np.clip({x}, {lo[i]}, {hi[i]})")
                        for i, x in enumerate(ops[0][0])]
            return [self.line(stem, self._clip(x, lo[i], hi[i])) for i, x in enumerate(ops[0][0])]
        if name in ("sum", "mean", "max"):
            return self._reduce(stem, name, ops[0], params, out)
        if name == "matmul":
            return self._matmul(stem, ops[0], ops[1], out)
        moved = self._moved(name, ops, params, node)
        if moved is not None:
            return moved
        return self._arrays(stem, node, ops)

    def _param_elements(self, value: Any, out: tuple[int, ...]) -> list[str]:
        if value is None or type(value) is float or np.ndim(value) == 0:
            text = "None" if value is None else repr(float(value))
            return [text] * (int(np.prod(out)) if out else 1)
        return [repr(float(v)) for v in np.broadcast_to(value, out).ravel()]

    @staticmethod
    def _clip(x: str, lo: str, hi: str) -> str:
        if lo != "None":
            x = f"({lo} if {x} < {lo} else {x})"
        if hi != "None":
            x = f"({hi} if {x} > {hi} else {x})"
        return x

    def _reduce(self, stem: str, name: str, op: tuple[list[str], tuple[int, ...]],
                params: dict[str, Any], out: tuple[int, ...]) -> list[str]:
        elems, shape = op
        if not shape:
            return [elems[0]] if name != "mean" else [elems[0]]
        result = []
        for group in reduced_groups(shape, params["axis"]):
            terms = [elems[i] for i in group]
            if name == "max" and self.vector:
                expr = terms[0] if len(terms) == 1 else f"np.maximum.reduce([{', '.join(terms)}])"
            elif name == "max":  # a fold from the left: NaN if any term is NaN, as np.max
                top = terms[0]
                for t in terms[1:-1]:
                    top = self.line(stem, _larger(top, t, ">"))
                expr = _larger(top, terms[-1], ">") if len(terms) > 1 else top
            else:
                expr = _sum_lines(self, stem, terms)
                if name == "mean":
                    expr = f"({expr}) / {float(len(terms))!r}"
            result.append(self.line(stem, expr))
        return result

    def _matmul(self, stem: str, a: tuple[list[str], tuple[int, ...]],
                b: tuple[list[str], tuple[int, ...]], out: tuple[int, ...]) -> list[str]:
        (ae, ash), (be, bsh) = a, b
        pa = positions(ash)
        pb = positions(bsh)
        pa2 = pa[None, :] if pa.ndim == 1 else pa          # (..., n, k)
        pb2 = pb[:, None] if pb.ndim == 1 else pb          # (..., k, m)
        batch = np.broadcast_shapes(pa2.shape[:-2], pb2.shape[:-2])
        pa2 = np.broadcast_to(pa2, batch + pa2.shape[-2:])
        pb2 = np.broadcast_to(pb2, batch + pb2.shape[-2:])
        result = []
        for ia, ib in zip(pa2.reshape(-1, *pa2.shape[-2:]), pb2.reshape(-1, *pb2.shape[-2:])):
            for i in range(ia.shape[0]):
                for j in range(ib.shape[1]):
                    terms = [_infix("mul", ae[ia[i, k]], be[ib[k, j]])
                             for k in range(ia.shape[1])]
                    result.append(self.line(stem, _sum_lines(self, stem, terms)))
        return result

    def _moved(self, name: str, ops: list[tuple[list[str], tuple[int, ...]]],
               params: dict[str, Any], node: Value) -> list[str] | None:
        """Operations that only move elements: their names, no code."""
        if name in ("reshape", "argument", "stop_gradient"):
            return ops[0][0]
        if name == "broadcast_to":
            return spread(ops[0][0], ops[0][1], node.shape)
        if name == "transpose":
            return [ops[0][0][i] for i in np.transpose(positions(ops[0][1]),
                                                       params["axes"]).ravel()]
        if name == "getitem":
            elems, shape = ops[0]
            picked = np.asarray(positions(shape)[params["index"]])
            return [elems[i] for i in picked.ravel()]
        if name == "where":
            cond = np.broadcast_to(params["cond"], node.shape).ravel()
            a, b = (spread(e, s, node.shape) for e, s in ops)
            return [x if c else y for c, x, y in zip(cond, a, b)]
        if name in ("concatenate", "stack"):
            offset, parts = 0, []
            for e, s in ops:
                parts.append(positions(s) + offset)
                offset += len(e)
            join = np.concatenate if name == "concatenate" else np.stack
            flat = [x for e, _ in ops for x in e]
            return [flat[i] for i in join(parts, axis=params["axis"]).ravel()]
        return None

    def _arrays(self, stem: str, node: Value, ops: list[tuple[list[str], tuple[int, ...]]]
                ) -> list[str]:
        """Anything else (a user's primitive, scatter, max's share of a tie): computed on
        arrays built from the elements, with the eager engine's function."""
        prim: Primitive = node._op  # type: ignore[assignment]  # a computed node
        if self.vector:
            raise TraceError(f"jit: the vector backend cannot run {prim.name!r} element by "
                             f"element yet; use the numpy backend")
        args = []
        for e, s in ops:
            args.append(e[0] if not s else f"np.array([{', '.join(e)}]).reshape({s!r})")
        fn = self.w.bind(prim.forward, prim.name)
        params = node._params or {}
        if prim.name == "mask":
            fn = self.w.bind(params["fn"], getattr(params["fn"], "__name__", "mask"))
            params = {k: v for k, v in params.items() if k != "fn"}
        call = call_text(self.w, fn, args, params)
        if not node.shape:
            return [self.line(stem, f"_norm({call})")]
        tmp = self.line(stem, f"_norm({call}).ravel().tolist()")
        names = [self.w.fresh(stem) for _ in range(node.size)]
        self.body.append(f"    {', '.join(names)}, = {tmp}")
        return names


def _floats(x: Any) -> Any:
    """A mask's entries as float64 numbers (the vector backend's ``float``)."""
    return np.asarray(x, dtype=np.float64)


class _ElementProgram:
    """A graph written element by element: the writer, its lines, the parameters' names (one
    per element of each input), the results' (one per element of each Value output, or a
    literal) and the outputs' shapes (None for an output that is not a Value)."""

    def __init__(self, w: Writer, el: Elements, params: list[str], results: list[str],
                 shapes: list[tuple[int, ...] | None], captured: list) -> None:
        self.w, self.el, self.params, self.results = w, el, params, results
        self.shapes, self.captured = shapes, captured


def elements(inputs: list[Value], outputs: list[Any], lifted: dict[int, np.ndarray],
              el: Elements) -> _ElementProgram:
    """The graph from ``inputs`` to ``outputs`` written by ``el``, one line per element."""
    w = el.w
    index = {id(v): i for i, v in enumerate(inputs)}
    params = []
    names: dict[int, list[str]] = {}
    for i, v in enumerate(inputs):
        names[id(v)] = [f"x{i}"] if not v.shape else [f"x{i}_{k}" for k in range(v.size)]
        params += names[id(v)]
    roots = [o for o in outputs if isinstance(o, Value)]
    captured: list[tuple[Value, Any, Any]] = []
    for node in walk(*roots) if roots else []:
        if node._op is None:
            if id(node) not in index:
                data = node._data
                copy: Any = data if type(data) is float else data.copy()
                names[id(node)] = [repr(float(x)) if np.isfinite(x) else w.bind(float(x), "c")
                                   for x in np.ravel(copy)]
                source = source_of(node, lifted)
                captured.append((source, source._data, copy if type(copy) is float else
                                 source._data.tobytes()))
            continue
        names[id(node)] = el.node(node, [(names[id(p)], p.shape) for p in node.parents])
    results: list[str] = []
    shapes: list[tuple[int, ...] | None] = []
    for o in outputs:
        if isinstance(o, Value):
            results += names[id(o)]
            shapes.append(o.shape)
        else:
            results.append(w.param(o, "out"))
            shapes.append(None)
    return _ElementProgram(w, el, params, results, shapes, captured)


#: A name in a line's expression (not a digit's exponent, not an attribute)
_NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
#: A line of infix operations on names or literals: ``a * b`` (as `_infix` writes it),
#: ``t0 + t1 + t2`` (as `_sum_lines` does), ``a * b + c * d`` (a matmul's element)
_INFIX_LINE = re.compile(r"[^\s()]+(?: [-+*/] [^\s()]+)+")
_OPERATORS = re.compile(r" (?:[-+*/<>]|<=|>=|==|!=|if|else|and|or) ")
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
#: The most operators from a line's start to its deepest operand that inlining makes
#: (Python's compiler recurses once per level of an expression)
_DEPTH = 48


def _atomic(expr: str) -> bool:
    """Whether ``expr`` is a name, a literal, a call or in parentheses: an operand that needs
    no parentheses of its own."""
    if " " not in expr:
        return True
    head = expr.find("(")
    if head < 0 or (head and not expr[:head].replace(".", "_").isidentifier()):
        return False
    depth = 0
    for i in range(head, len(expr)):
        depth += (expr[i] == "(") - (expr[i] == ")")
        if depth == 0:
            return i == len(expr) - 1
    return False


def _whole_argument(found: re.Match[str]) -> bool:
    """Whether the name ``found`` is a whole argument of a call: ``f(name)``, ``f(a, name)``."""
    text, i, j = found.string, found.start(), found.end()
    return (text[i - 1:i] == "(" and i > 1 and text[i - 2] not in " (" or text[i - 2:i] == ", ") \
        and text[j:j + 1] in (",", ")")


def inline(body: list[str], results: list[str]) -> list[str]:
    """``body`` (lines ``    name = expr``) with each value that one later line uses, once,
    written into that line: ``add1 = x2 + x0 * 1.01 + x1 * -0.01`` for four lines.

    Exact: each operation is the same, on the same operands, in the same order (parentheses
    where Python's precedence would regroup it); a value used twice, and each of ``results``,
    keeps its name. Fewer names and shorter code, and intermediates die as soon as they are
    used (docs/performance.md measures what that saves)."""
    lines = [line.strip().split(" = ", 1) for line in body]
    defined = {name for name, _ in lines}
    uses: dict[str, int] = {}
    for text in [e for _, e in lines] + results:
        for t in _NAME.findall(text):
            if t in defined:
                uses[t] = uses.get(t, 0) + 1
    for r in results:
        uses[r] = 2
    pending: dict[str, tuple[str, int, int]] = {}  # name -> (expression, precedence, depth)
    out = []
    for name, expr in lines:
        depth = 0  # the deepest inlined operand's
        own = len(_OPERATORS.findall(expr))

        def take(t: str, left: int, right: int) -> str:
            """``t``, or the expression pending under that name: in parentheses unless its
            operator binds tighter than the one on its left (precedence ``left``) and at
            least as tight as the one on its right (``right``)."""
            nonlocal depth
            if t not in pending:
                return t
            e, q, d = pending.pop(t)
            depth = max(depth, d)
            return f"({e})" if q <= left or q < right else e

        if _INFIX_LINE.fullmatch(expr):  # operands between operators
            parts = expr.split(" ")
            ops = [_PRECEDENCE[op] for op in parts[1::2]] + [0]
            prec = min(ops[:-1])
            parts[::2] = [take(t, ops[k - 1] if k else 0, ops[k])
                          for k, t in enumerate(parts[::2])]
            expr = " ".join(parts)
        else:  # a call's whole argument needs no parentheses, any other operand does
            expr = _NAME.sub(lambda found: take(found.group(0), *(
                (-1, -1) if _whole_argument(found) else (2, 0))), expr)
            prec = 3 if _atomic(expr) else 0
        depth += own
        if uses.get(name) == 1 and depth <= _DEPTH:
            pending[name] = (expr, prec, depth)
        else:
            out.append(f"    {name} = {expr}")
    assert not pending, sorted(pending)[:3]  # (each was used by a later line)
    return out


def generate_elements(name: str, inputs: list[Value], outputs: list[Any],
                     lifted: dict[int, np.ndarray], vector: bool = False
                     ) -> tuple[str, Any, list, list[tuple[int, ...] | None]]:
    """The python backend's source: one line per element, flat floats in and out, and a loop
    function that feeds the results back as arguments (vectors of a batch with ``vector``)."""
    p = elements(inputs, outputs, lifted, Elements(Writer(), vector))
    params, results = p.params, p.results
    ret = ", ".join(results) + ("," if len(results) == 1 else "")
    head = f"def {name}({', '.join(params)}):"
    lines = inline(p.el.body, results)
    body = lines or ["    pass"]
    loop: list[str] = []
    if len(results) == len(params) and params:  # a step: its results can be its arguments
        loop = ["", f"def {name}_loop(n, {', '.join(params)}):", "    for _ in range(n):",
                *["    " + line for line in lines],
                f"        {', '.join(params)}{',' if len(params) == 1 else ''} = {ret}",
                f"    return ({', '.join(params)}{',' if len(params) == 1 else ''})"]
    source = "\n".join([head, *body, f"    return ({ret})", *loop]) + "\n"
    return source, p.w.namespace, p.captured, p.shapes


