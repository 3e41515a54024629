"""Drawing: the computation graph that ends in a Value, and a network's neurons and weights.

Each drawing is first built as a plain description (nodes, edges and their attributes) by a
pure function of the graph: no recursion, no Graphviz. `graphviz.Digraph` then holds that
description; its ``.source`` is the DOT text, and Graphviz's ``dot`` program lays it out only
when the picture is rendered (``.render()``, ``.pipe()``, or inline display in Jupyter).

Legend of `draw_graph`: blue boxes are leaves that require grad (inputs and parameters), grey
dashed boxes are constants (``requires_grad=False``), white boxes are intermediate results,
the orange box with a thick border is the root, and small purple ovals are operations.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .core.value import Value, walk

__all__ = ["draw_graph", "draw_network", "GraphvizNotFound", "INSTALL_HINT", "CELL_SIZE"]

FONT = "Helvetica,Arial,sans-serif"

#: Graphviz's ``size`` of the drawings by default, in inches (width,height): a bigger layout
#: is scaled down to fit it, so a drawing fits the width of a notebook cell. None: no limit.
CELL_SIZE = "9,30"

#: Graphs whose longest path has more operations than this are laid out top to bottom when
#: ``rankdir`` is not given: left to right, they would be much wider than a notebook cell.
_LR_MAX_DEPTH = 6

INSTALL_HINT = ("Graphviz's 'dot' program is not installed, so drawings cannot be rendered; "
                "install it with 'sudo apt-get install graphviz' or 'brew install graphviz' "
                "(https://graphviz.org/download/); the DOT text is in .source.")

#: Fill colours of the node kinds (the legend in docs/drawing.md).
COLORS = {
    "param": "#cfe2ff",      # leaf that requires grad: an input or a parameter
    "const": "#eeeeee",      # leaf with requires_grad=False: a constant
    "inner": "#ffffff",      # intermediate result
    "root": "#ffd59e",       # the Value the drawing ends in (e.g. the loss)
    "op": "#eadcf8",         # an operation
    "more": "#f4f4f4",       # the collapsed rest of a big graph
}
GRAD_COLOR = "#b03a2e"

# Operations whose result does not depend on the order of their operands; the input edges of
# every other operation with two or more operands are labelled with their position.
_COMMUTATIVE = {"add", "mul"}

# Tensors with at most this many elements show their values; bigger ones show their shape.
_MAX_SHOWN = 16


@dataclass
class Drawing:
    """A drawing as plain data: graph attributes, nodes and edges (what DOT text says)."""

    name: str
    graph_attr: dict[str, str] = field(default_factory=dict)
    node_attr: dict[str, str] = field(default_factory=dict)
    edge_attr: dict[str, str] = field(default_factory=dict)
    nodes: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    subgraphs: list[tuple[dict[str, str], list[str]]] = field(default_factory=list)

    def to_digraph(self) -> Any:
        """The same drawing as a `graphviz.Digraph` (needs no ``dot`` binary)."""
        g = _digraph_class()(self.name, graph_attr=self.graph_attr, node_attr=self.node_attr,
                             edge_attr=self.edge_attr)
        for name, attrs in self.nodes:
            g.node(name, **attrs)
        for graph_attr, members in self.subgraphs:
            with g.subgraph(graph_attr=graph_attr) as sub:
                for name in members:
                    sub.node(name)
        for tail, head, attrs in self.edges:
            g.edge(tail, head, **attrs)
        return g


class GraphvizNotFound(RuntimeError):
    """Graphviz's ``dot`` program is missing; the message says how to install it."""


_DIGRAPH: Any = None


def _digraph_class() -> Any:
    """`graphviz.Digraph` whose rendering, piping and inline display say in one line how to
    install Graphviz when ``dot`` is missing (instead of graphviz's ExecutableNotFound)."""
    global _DIGRAPH
    if _DIGRAPH is not None:
        return _DIGRAPH
    import graphviz

    class NotFound(GraphvizNotFound, graphviz.ExecutableNotFound):
        """GraphvizNotFound that ``except graphviz.ExecutableNotFound`` also catches."""

        def __init__(self) -> None:
            RuntimeError.__init__(self, INSTALL_HINT)

        def __str__(self) -> str:
            return INSTALL_HINT

    class Digraph(graphviz.Digraph):  # type: ignore[misc]
        __doc__ = graphviz.Digraph.__doc__

        def pipe(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound:
                raise NotFound() from None

        def render(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound:
                raise NotFound() from None

        def _repr_mimebundle_(self, include: Any = None, exclude: Any = None,
                              **kwargs: Any) -> Any:
            # Jupyter's display: without dot, one line of text instead of a traceback.
            try:
                return super()._repr_mimebundle_(include, exclude, **kwargs)
            except graphviz.ExecutableNotFound:
                return {"text/plain": INSTALL_HINT}

    Digraph.__name__ = Digraph.__qualname__ = "Digraph"
    _DIGRAPH = Digraph
    return Digraph


def _size_attr(where: str, size: Any) -> dict[str, str]:
    """Graphviz's size attribute from ``size`` (None, "W,H" in inches, or (W, H))."""
    if size is None:
        return {}
    if isinstance(size, (tuple, list)) and len(size) == 2:
        size = f"{size[0]},{size[1]}"
    if isinstance(size, str):
        parts = size.rstrip("!").split(",")
        try:
            numbers = [float(part) for part in parts]
        except ValueError:
            numbers = []
        if len(numbers) in (1, 2) and all(math.isfinite(n) and n > 0 for n in numbers):
            return {"size": size}
    raise ValueError(f"{where}(): size must be None, 'W,H' in inches (e.g. '9,30') or a pair "
                     f"of numbers > 0, got {size!r}")


def _depth(order: list[Value]) -> int:
    """The most operations on a path from a drawn leaf to the last of ``order``, the drawn
    Values in topological order."""
    depth: dict[Value, int] = {}
    for v in order:
        parents = v.parents
        depth[v] = 1 + max((depth[p] for p in parents if p in depth), default=-1) if parents \
            else 0
    return depth[order[-1]]


# -- number and label formatting ------------------------------------------------------------


def _num(x: Any, digits: int = 4) -> str:
    """A number rounded to ``digits`` significant digits: 1, -2, 0.6225, 1.235e+07, 123456."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x.is_integer() and abs(x) < 1e7:  # whole numbers in full: 1999000, not 1.999e+06
        return str(int(x))
    text = f"{x:.{digits}g}"
    return "0" if text == "-0" else text


def _shape(shape: tuple[int, ...]) -> str:
    """A shape as NumPy prints it: (4, 2), (4,)."""
    return str(tuple(int(n) for n in shape))


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html(body: str) -> str:
    """An HTML-like Graphviz label (the Python graphviz package passes ``<...>`` through)."""
    return f"<{body}>"


def _grid(array: np.ndarray, color: str | None) -> str:
    """A small table of an array's rounded values (1-D: one row; more: rows of the last axis)."""
    rows = array.reshape(1, -1) if array.ndim == 1 else array.reshape(-1, array.shape[-1])
    cells = []
    for row in rows:
        tds = "".join(f"<td>{_colored(_num(x), color)}</td>" for x in row)
        cells.append(f"<tr>{tds}</tr>")
    return ('<table border="0" cellborder="1" cellspacing="0" cellpadding="2" color="#999999">'
            + "".join(cells) + "</table>")


def _colored(text: str, color: str | None) -> str:
    return text if color is None else f'<font color="{color}">{text}</font>'


def _value_label(v: Value, show_data: bool, show_grad: bool) -> str:
    """A Value's box: its label, then data and grad (side by side for a tensor)."""
    data = v.data
    grad = None
    if show_grad and v.requires_grad:
        grad = v._grad
        if grad is None:  # what `.grad` reads before any backward pass reaches this Value
            grad = 0.0 if type(data) is float else np.zeros_like(data)
    rows = []
    if v.label:
        rows.append(f'<tr><td colspan="2"><b>{_esc(v.label)}</b></td></tr>')
    if type(data) is float:
        if show_data:
            rows.append(f'<tr><td align="left">data</td><td align="left">{_num(data)}</td></tr>')
        if grad is not None:
            rows.append(f'<tr><td align="left">grad</td>'
                        f'<td align="left">{_colored(_num(grad), GRAD_COLOR)}</td></tr>')
    elif not (show_data or grad is not None) or data.size == 0 or data.size > _MAX_SHOWN:
        rows.append(f'<tr><td colspan="2">shape {_shape(data.shape)}</td></tr>')
    elif data.ndim == 1:  # one row each, stacked
        if show_data:
            rows.append(f'<tr><td align="left">data {_shape(data.shape)}</td>'
                        f'<td align="left">{_grid(data, None)}</td></tr>')
        if grad is not None:
            head = _colored("grad", GRAD_COLOR) + ("" if show_data else f" {_shape(data.shape)}")
            rows.append(f'<tr><td align="left">{head}</td>'
                        f'<td align="left">{_grid(np.asarray(grad), GRAD_COLOR)}</td></tr>')
    else:  # grids side by side
        heads, grids = [], []
        if show_data:
            heads.append(f"data {_shape(data.shape)}")
            grids.append(_grid(data, None))
        if grad is not None:
            heads.append(_colored("grad", GRAD_COLOR) if show_data
                         else f"{_colored('grad', GRAD_COLOR)} {_shape(data.shape)}")
            grids.append(_grid(np.asarray(grad), GRAD_COLOR))
        rows.append("<tr>" + "".join(f'<td align="left">{h}</td>' for h in heads) + "</tr>")
        rows.append("<tr>" + "".join(f'<td valign="top">{g}</td>' for g in grids) + "</tr>")
    if not rows:
        rows.append('<tr><td colspan="2"> </td></tr>')
    return _html('<table border="0" cellborder="0" cellspacing="0" cellpadding="1">'
                 + "".join(rows) + "</table>")


def _param_text(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return _num(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _op_label(v: Value) -> str:
    lines = [f"<b>{_esc(v.op)}</b>"]
    for key, value in v.params.items():
        if value is None or value is False:  # defaults such as axis=None, keepdims=False
            continue
        lines.append(f'<font point-size="9">{_esc(key)}={_esc(_param_text(value))}</font>')
    return _html("<br/>".join(lines))


# -- the computation graph --------------------------------------------------------------------


def _kind(v: Value, root: Value) -> str:
    if v is root:
        return "root"
    if v.parents:
        return "inner"
    return "param" if v.requires_grad else "const"


def _value_attrs(v: Value, kind: str, show_data: bool, show_grad: bool) -> dict[str, str]:
    attrs = {"label": _value_label(v, show_data, show_grad), "shape": "box",
             "style": "rounded,filled", "fillcolor": COLORS[kind]}
    if kind == "const":
        attrs["style"] = "rounded,filled,dashed"
        attrs["color"] = "#888888"
        attrs["fontcolor"] = "#444444"
    elif kind == "root":
        attrs["penwidth"] = "2.5"
    return attrs


def _argument_names(n: int) -> list[str]:
    return ["left", "right"] if n == 2 else [f"arg {i}" for i in range(n)]


def graph_drawing(root: Value, *, rankdir: str | None = None, show_data: bool = True,
                  show_grad: bool = True, max_nodes: int = 500,
                  size: Any = CELL_SIZE) -> Drawing:
    """The drawing of the graph ending in ``root`` as plain data; see `draw_graph`."""
    if not isinstance(root, Value):
        raise TypeError(f"draw_graph() needs a Value, got {type(root).__name__}")
    if rankdir is not None and rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, (int, np.integer)):
        raise TypeError(f"draw_graph(): max_nodes must be a positive integer, got "
                        f"{type(max_nodes).__name__} {max_nodes!r}")
    if max_nodes < 1:
        raise ValueError(f"draw_graph(): max_nodes must be a positive integer, got {max_nodes!r}")
    for name, flag in (("show_data", show_data), ("show_grad", show_grad)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"draw_graph(): {name} must be True or False, got "
                            f"{type(flag).__name__} {flag!r}")

    # The `max_nodes` Values nearest the root (fewest operations away; ties in the order of
    # `walk`) are drawn, in the order of `walk`: from the inputs to the root. Every Value
    # farther away is counted into one collapsed node.
    values = walk(root)
    order = values
    if len(values) > max_nodes:
        distance = {root: 0}
        for v in reversed(values):  # a Value's users come first, so its distance is final
            near = distance[v] + 1
            for parent in v.parents:
                if near < distance.get(parent, math.inf):
                    distance[parent] = near
        kept = set(sorted(values, key=distance.__getitem__)[:max_nodes])
        order = [v for v in values if v in kept]
    hidden = len(values) - len(order)
    size_attr = _size_attr("draw_graph", size)
    if rankdir is None:
        rankdir = "TB" if _depth(order) > _LR_MAX_DEPTH else "LR"

    drawing = Drawing(
        "computation_graph",
        graph_attr={"rankdir": rankdir, "fontname": FONT, "nodesep": "0.25", "ranksep": "0.35",
                    "bgcolor": "white", **size_attr},
        node_attr={"fontname": FONT, "fontsize": "11", "margin": "0.08,0.04"},
        edge_attr={"fontname": FONT, "fontsize": "9", "color": "#555555", "arrowsize": "0.7"},
    )
    ids = {v: f"v{i}" for i, v in enumerate(order)}
    more = "more"
    for v in order:
        drawing.nodes.append((ids[v], _value_attrs(v, _kind(v, root), show_data, show_grad)))
    if hidden:
        drawing.nodes.append((more, {
            # what is cut, and the call that draws it all
            "label": f"… {hidden:,} more Values (farther from the root)\n"
                     f"to draw them: draw_graph(root, max_nodes={len(values)})",
            "shape": "box3d", "style": "filled,dashed", "fillcolor": COLORS["more"],
            "color": "#888888"}))
    from_more: set[str] = set()
    for v in order:
        parents = v.parents
        if not parents:
            continue
        op = "op" + ids[v][1:]
        drawing.nodes.append((op, {"label": _op_label(v), "shape": "ellipse",
                                   "style": "filled", "fillcolor": COLORS["op"],
                                   "fontsize": "10", "margin": "0.02,0.01", "height": "0.3"}))
        names = (_argument_names(len(parents))
                 if len(parents) > 1 and v.op not in _COMMUTATIVE else None)
        for i, parent in enumerate(parents):
            if parent in ids:
                attrs = {"label": names[i]} if names else {}
                drawing.edges.append((ids[parent], op, attrs))
            elif op not in from_more:  # one edge from the collapsed node per operation
                from_more.add(op)
                drawing.edges.append((more, op, {"style": "dashed"}))
        drawing.edges.append((op, ids[v], {}))
    return drawing


def draw_graph(root: Value, *, rankdir: str | None = None, show_data: bool = True,
               show_grad: bool = True, max_nodes: int = 500, size: Any = CELL_SIZE) -> Any:
    """Draw the computation graph that ends in ``root`` as a `graphviz.Digraph`.

    Args:
        root: the Value the graph ends in (e.g. a loss).
        rankdir: Graphviz's direction: "LR" (inputs on the left), "TB", "RL" or "BT"; None
            (the default) is "LR", or "TB" for a graph more than 6 operations deep, which
            left to right would be far wider than a notebook cell.
        show_data: show each Value's data (a number; for a tensor its shape and, when it has
            at most 16 elements, its values rounded to 4 significant digits).
        show_grad: show the grad of every Value that requires grad (0 before a backward pass).
        max_nodes: the most Values drawn; the ones farthest from the root beyond it are
            collapsed into one node saying how many Values it stands for and the
            ``max_nodes`` that draws them all. Scaled to a notebook cell's width, about 40
            Values stay readable (a 2-16-16-1 scalar network on one sample: text 8 px high
            at 40, under 2 px at 500).
        size: the largest size of the picture in inches, "W,H" (default "9,30": the width of
            a notebook cell): a bigger layout is scaled down to fit; None draws at full size.

    Returns:
        A `graphviz.Digraph`: ``.source`` is the DOT text; ``.render(...)``/``.pipe(...)``
        need Graphviz's ``dot`` program (without it they raise `GraphvizNotFound`, whose one
        line says how to install it); Jupyter displays it inline.
    """
    return graph_drawing(root, rankdir=rankdir, show_data=show_data, show_grad=show_grad,
                         max_nodes=max_nodes, size=size).to_digraph()


# No _repr_svg_ on a Value: a notebook shows a Value as its text repr; `v.draw()` returns a
# Digraph, which Jupyter displays inline, so the picture (and its layout time) is asked for.
def _draw(self: Value, **kwargs: Any) -> Any:
    """The computation graph ending here, as a graphviz.Digraph (see viz.draw_graph)."""
    return draw_graph(self, **kwargs)


_draw.__name__, _draw.__qualname__ = "draw", "Value.draw"


# -- the network ------------------------------------------------------------------------------

_ACTIVATION_NAMES = {"relu": "ReLU", "sigmoid": "sigmoid", "tanh": "tanh", "identity": "identity",
                     "none": "identity", "linear": "identity"}


def _activation_name(obj: Any) -> str:
    """The display name of an activation given as a name, None, a module or a function."""
    if obj is None:
        return "identity"
    name = obj if isinstance(obj, str) else getattr(obj, "__name__", type(obj).__name__)
    return _ACTIVATION_NAMES.get(name.lower(), name)


def _is_linear(layer: Any) -> bool:
    return hasattr(layer, "weight") and hasattr(layer, "bias")


def _network_layers(model: Any) -> list[tuple[np.ndarray, np.ndarray | None, str, str]]:
    """(weight (in, out), bias (out,) or None, activation name, name in the module tree such
    as "layers.0") for each Linear layer."""
    if not callable(getattr(model, "state_dict", None)):
        raise TypeError(f"draw_network() needs a model with a state_dict() (an MLP, or a "
                        f"Sequential of Linear layers), got {type(model).__name__}")
    state = model.state_dict()
    by_index: dict[int, dict[str, np.ndarray]] = {}
    for key, array in state.items():
        match = re.fullmatch(r"layers\.(\d+)\.(weight|bias)", key)
        if match is None:
            raise ValueError(f"draw_network() understands state_dict keys like "
                             f"'layers.0.weight', got {key!r}")
        by_index.setdefault(int(match[1]), {})[match[2]] = np.asarray(array, dtype=float)
    if not by_index:
        raise ValueError("draw_network() needs a model with at least one Linear layer")
    layers = list(getattr(model, "layers", []))
    indices = sorted(by_index)
    # An MLP names its activations; a Sequential holds them as layers.
    named = hasattr(model, "activation_name")
    hidden_act = getattr(model, "activation_name", None)
    output_act = getattr(model, "output_activation_name", None)
    result = []
    for n, i in enumerate(indices):
        entry = by_index[i]
        if "weight" not in entry:
            raise ValueError(f"draw_network(): state_dict has layers.{i}.bias but no weight")
        weight = entry["weight"]
        if weight.ndim != 2:
            raise ValueError(f"draw_network(): layers.{i}.weight has shape {weight.shape}, "
                             f"expected (in, out)")
        if not named:
            # Sequential: the activation modules between this Linear and the next one.
            following = []
            for layer in layers[i + 1:]:
                if _is_linear(layer):
                    break
                following.append(_activation_name(layer))
            activation = " ∘ ".join(reversed(following)) if following else "identity"
        else:
            activation = _activation_name(output_act if n == len(indices) - 1 else hidden_act)
        result.append((weight, entry.get("bias"), activation, f"layers.{i}"))
    for (w0, _, _, _), (w1, _, _, _) in zip(result, result[1:]):
        if w0.shape[1] != w1.shape[0]:
            raise ValueError(f"draw_network(): a layer with {w0.shape[1]} outputs feeds one "
                             f"with {w1.shape[0]} inputs")
    return result


def _neuron_names(sizes: list[int]) -> list[list[str]]:
    names = [[f"x{j + 1}" for j in range(sizes[0])]]
    hidden = sizes[1:-1]
    for k, size in enumerate(hidden):
        prefix = "h" if len(hidden) == 1 else f"h{k + 1}."
        names.append([f"{prefix}{j + 1}" for j in range(size)])
    out = sizes[-1]
    names.append(["y"] if out == 1 else [f"y{j + 1}" for j in range(out)])
    return names


def network_drawing(model: Any, *, edge_labels: bool | None = None, digits: int = 3,
                    size: Any = CELL_SIZE) -> Drawing:
    """The drawing of a network's neurons and weights as plain data; see `draw_network`."""
    if edge_labels is not None and not isinstance(edge_labels, (bool, np.bool_)):
        raise TypeError(f"draw_network(): edge_labels must be True, False or None, got "
                        f"{type(edge_labels).__name__} {edge_labels!r}")
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)):
        raise TypeError(f"draw_network(): digits must be a positive integer, got "
                        f"{type(digits).__name__} {digits!r}")
    if digits < 1:
        raise ValueError(f"draw_network(): digits must be a positive integer, got {digits!r}")
    layers = _network_layers(model)
    sizes = [layers[0][0].shape[0]] + [w.shape[1] for w, _, _, _ in layers]
    names = _neuron_names(sizes)
    drawing = Drawing(
        "network",
        # edgesfirst: the neurons are drawn over the edges, so an edge that passes behind a
        # neuron of its own column never hides the neuron's text
        graph_attr={"rankdir": "LR", "fontname": FONT, "nodesep": "0.5", "ranksep": "1.6",
                    "splines": "line", "ordering": "out", "outputorder": "edgesfirst",
                    "bgcolor": "white",
                    **_size_attr("draw_network", size)},
        node_attr={"fontname": FONT, "fontsize": "11", "shape": "circle", "style": "filled",
                   "fixedsize": "false", "margin": "0.02"},
        edge_attr={"fontname": FONT, "fontsize": "10", "arrowsize": "0.6"},
    )
    for j, name in enumerate(names[0]):
        drawing.nodes.append((f"n0_{j}", {"label": _html(f"<b>{_esc(name)}</b>"),
                                          "fillcolor": COLORS["const"], "width": "0.55",
                                          "fixedsize": "true"}))
    drawing.subgraphs.append(({"rank": "same"}, [f"n0_{j}" for j in range(sizes[0])]))
    for k, (weight, bias, activation, layer) in enumerate(layers, start=1):
        last = k == len(layers)
        for j, name in enumerate(names[k]):
            lines = [f"<b>{_esc(name)}</b>"]
            if bias is not None:
                lines.append(f"b = {_num(bias[j], digits)}")
            lines.append(f'<font point-size="9"><i>{_esc(activation)}</i></font>')
            attrs = {"label": _html("<br/>".join(lines)),
                     "fillcolor": COLORS["root"] if last else COLORS["param"],
                     "width": "1.05", "fixedsize": "true",
                     "tooltip": (f"{layer}.bias[{j}] = {_num(bias[j], digits)}"
                                 if bias is not None else f"{layer}, no bias")}
            drawing.nodes.append((f"n{k}_{j}", attrs))
        # the layer's name in the module tree, as a heading above its column
        drawing.nodes.append((f"head{k}", {
            "label": _html(f'<font point-size="10" color="#555555">{_esc(layer)}</font>'),
            "shape": "plaintext", "style": "", "fixedsize": "false", "width": "0",
            "height": "0.2"}))
        drawing.subgraphs.append(({"rank": "same"},
                                  [f"head{k}"] + [f"n{k}_{j}" for j in range(sizes[k])]))
        fan_in, fan_out = weight.shape
        labelled = (weight.size <= 16 and min(fan_in, fan_out) <= 4 if edge_labels is None
                    else edge_labels)
        # Put each weight near the end of the edge where fewer edges meet, so labels do not
        # crowd: at the head when each neuron has fewer inputs than the layer below has outputs.
        end = "headlabel" if fan_in < fan_out else "taillabel"
        biggest = float(np.max(np.abs(weight))) or 1.0
        for i in range(weight.shape[0]):
            for j in range(weight.shape[1]):
                w = float(weight[i, j])
                attrs = {"penwidth": _num(0.6 + 2.4 * min(abs(w) / biggest, 1.0), 2),
                         "tooltip": f"{layer}.weight[{i},{j}] = {_num(w, digits)}"}
                if w > 0:
                    attrs["color"] = "#2166ac"
                elif w < 0:
                    attrs["color"] = "#c0392b"
                else:
                    attrs.update(color="#aaaaaa", style="dashed")
                if labelled:
                    attrs.update({end: _num(w, digits), "fontcolor": attrs["color"],
                                  "labeldistance": "3.5", "labelangle": "15"})
                drawing.edges.append((f"n{k - 1}_{i}", f"n{k}_{j}", attrs))
    return drawing


def draw_network(model: Any, *, edge_labels: bool | None = None, digits: int = 3,
                 size: Any = CELL_SIZE) -> Any:
    """Draw a network's neurons in columns, edges labelled with weights, as a graphviz.Digraph.

    Works for an `MLP` or a `Sequential` of `Linear` layers and activations, scalar or tensor:
    it reads ``model.state_dict()``. Each neuron shows its bias and activation; blue edges are
    positive weights, red negative, grey dashed zero, thicker the larger. ``edge_labels=None``
    labels the edges of layers with at most 16 weights; ``digits`` is the rounding. Each layer
    is headed by its name in the module tree (``layers.0``), and each edge and neuron carries
    its parameter's name (``layers.0.weight[1,0]``, ``layers.0.bias[1]``) as a tooltip.
    ``size`` is the largest size in inches, as in `draw_graph` (default: a notebook cell).
    """
    return network_drawing(model, edge_labels=edge_labels, digits=digits,
                           size=size).to_digraph()


# The drawing is attached to the Value from here, the layer above the core, which never
# imports it: `import tinygrad_xor` imports this module, so every Value has it.
Value.draw = _draw  # type: ignore[method-assign]
