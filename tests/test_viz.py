"""Tests of tinygrad_xor.viz: the DOT text of the drawings, real SVG from Graphviz."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tinygrad_xor import Value, primitive, viz, walk
from tinygrad_xor.nn import MLP, Linear, ReLU, Sequential, Sigmoid
from tinygrad_xor.viz import draw_graph, draw_network, graph_drawing
from tinygrad_xor.xor import goodfellow_model

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's 'dot' is not installed "
                                      "(apt-get install graphviz; CI installs it)")

SVG = "{http://www.w3.org/2000/svg}"
NODE_LINE = re.compile(r"^\t(\w+) \[", re.MULTILINE)
EDGE_LINE = re.compile(r"^\t(\w+) -> (\w+)", re.MULTILINE)


def nodes_of(source: str) -> list[str]:
    return [n for n in NODE_LINE.findall(source) if n not in ("graph", "node", "edge")]


def edges_of(source: str) -> list[tuple[str, str]]:
    return EDGE_LINE.findall(source)


def graph_of(root: Value) -> tuple[set[Value], int, int]:
    """(every Value in the graph, number of operations, number of edges), counted directly."""
    seen = set(walk(root))
    ops = [v for v in seen if v.parents]
    return seen, len(ops), sum(len(v.parents) + 1 for v in ops)


def node_labels(source: str) -> dict[str, str]:
    """Node id -> its label text with the HTML tags removed."""
    out = {}
    for match in re.finditer(r"^\t(\w+) \[label=(<.*?>|\"[^\"]*\")[ \]]", source, re.MULTILINE):
        text = re.sub(r"<[^>]*>", " ", match[2][1:-1])
        out[match[1]] = " ".join(text.split())
    return out


def svg_of(graph) -> ET.Element:
    return ET.fromstring(graph.pipe(format="svg"))


def svg_nodes(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]


def svg_texts(root: ET.Element) -> list[str]:
    return [t.text.strip() for t in root.iter(f"{SVG}text") if t.text and t.text.strip()]


# -- fixtures: a scalar, a tensor and a mixed graph --------------------------------------------


def scalar_graph() -> Value:
    x1 = Value(1.0, label="x1", requires_grad=False)
    x2 = Value(0.0, label="x2", requires_grad=False)
    w1, w2, b = Value(0.5, label="w1"), Value(-0.3, label="w2"), Value(0.1, label="b")
    h = (x1 * w1 + x2 * w2 + b).sigmoid()
    h.label = "h"
    loss = (h - 1.0) ** 2
    loss.label = "loss"
    return loss


def tensor_graph() -> Value:
    X = Value(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), label="X",
              requires_grad=False)
    W = Value(np.array([[1.0, 1.0], [1.0, 1.0]]), label="W")
    b = Value(np.array([0.0, -1.0]), label="b")
    h = (X @ W + b).relu()
    return h.sum(axis=1).tanh().mean()


def mixed_graph() -> Value:
    s = Value(2.0, label="s")
    big = Value(np.arange(20.0).reshape(4, 5) / 7, label="big")
    v = Value(np.array([0.25, -0.5, 0.125, 1.0, 2.0]), label="v")
    return ((big @ v) * s).max() + s.exp()


# -- DOT text -----------------------------------------------------------------------------------


def test_scalar_graph_dot_holds_ops_labels_and_rounded_values() -> None:
    loss = scalar_graph()
    loss.backward()
    source = draw_graph(loss).source
    for op in ("mul", "add", "sigmoid", "pow"):
        assert f"<b>{op}</b>" in source
    assert "p=2" in source                                   # pow's static parameter
    for label in ("x1", "x2", "w1", "w2", "b", "h", "loss"):
        assert f"<b>{label}</b>" in source
    h = 1 / (1 + np.exp(-0.6))
    labels = node_labels(source)
    texts = set(labels.values())
    assert f"h data {h:.4g} grad {2 * (h - 1):.4g}" in texts
    assert f"loss data {(h - 1) ** 2:.4g} grad 1" in texts
    assert "w1 data 0.5 grad " + f"{2 * (h - 1) * h * (1 - h):.4g}" in texts
    assert "w2 data -0.3 grad 0" in texts                     # x2 = 0: no gradient reaches w2
    assert "x1 data 1" in texts                                # constants have no grad row
    assert "rankdir=LR" in source


def test_grad_before_backward_reads_zero_and_show_flags() -> None:
    loss = scalar_graph()
    texts = set(node_labels(draw_graph(loss).source).values())
    assert "w1 data 0.5 grad 0" in texts
    source = draw_graph(loss, show_data=False, show_grad=False).source
    assert "data" not in source and "grad" not in source
    assert "<b>w1</b>" in source


def test_tensor_graph_shows_shapes_small_values_and_params() -> None:
    loss = tensor_graph()
    loss.backward()
    source = draw_graph(loss, rankdir="TB").source
    assert "rankdir=TB" in source
    for op in ("matmul", "add", "relu", "sum", "tanh", "mean"):
        assert f"<b>{op}</b>" in source
    assert "axis=1" in source
    labels = node_labels(source)
    w_label = next(text for text in labels.values() if text.startswith("W "))
    assert w_label.startswith("W data (2, 2) grad 1 1 1 1")
    grad_w = re.findall(r"-?\d[\d.e+-]*", w_label)[-4:]
    expected = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]).T @ (
        (np.array([[0.0, -1.0], [1.0, 0.0], [1.0, 0.0], [2.0, 1.0]]) > 0)
        * (1 - np.tanh(np.array([0.0, 1.0, 1.0, 3.0])) ** 2)[:, None] / 4)
    assert grad_w == [f"{g:.4g}" for g in expected.ravel()]
    assert "X data (4, 2) 0 0 1 0 0 1 1 1" in labels.values()
    # matmul's operands are told apart; add is commutative and is not
    assert 'label=left' in source and 'label=right' in source


def test_big_tensor_shows_only_its_shape() -> None:
    y = mixed_graph()
    y.backward()
    texts = set(node_labels(draw_graph(y).source).values())
    assert "big shape (4, 5)" in texts                       # 20 elements: too many to show
    assert any(t.startswith("v data (5,) 0.25 -0.5 0.125 1 2 grad") for t in texts)
    assert any(t.startswith("s data 2 grad ") for t in texts)


@pytest.mark.parametrize("make", [scalar_graph, tensor_graph, mixed_graph])
def test_node_and_edge_counts_match_the_graph(make) -> None:
    root = make()
    values, n_ops, n_edges = graph_of(root)
    source = draw_graph(root).source
    nodes = nodes_of(source)
    assert len(nodes) == len(set(nodes)) == len(values) + n_ops
    assert sum(1 for n in nodes if n.startswith("v")) == len(values)
    assert len(edges_of(source)) == n_edges
    for tail, head in edges_of(source):                       # value -> op -> value
        assert tail.startswith("op") != head.startswith("op")


def test_node_kinds_are_styled_apart() -> None:
    loss = scalar_graph()
    drawing = graph_drawing(loss)
    fills = {attrs["label"]: attrs.get("fillcolor") for _, attrs in drawing.nodes}
    by_label = {re.search(r"<b>(.*?)</b>", label)[1]: fill for label, fill in fills.items()
                if "<b>" in label}
    assert by_label["w1"] == by_label["b"] != by_label["x1"]   # parameters vs constants
    assert by_label["loss"] not in (by_label["w1"], by_label["x1"], by_label["h"])
    styles = [attrs.get("style", "") for _, attrs in drawing.nodes]
    assert sum("dashed" in s for s in styles) == 3            # x1, x2 and the constant -1


def test_operand_used_twice_gives_two_edges() -> None:
    x = Value(3.0, label="x")
    y = x * x
    assert len(edges_of(draw_graph(y).source)) == 3


def test_odd_names_and_labels_are_escaped() -> None:
    weird = primitive(lambda x: 2 * x, lambda g, out, x: (2 * g,))   # named "<lambda>"
    v = Value(1.0, label='a<b & "c"')
    source = draw_graph(weird(v)).source
    assert "&lt;lambda&gt;" in source and "a&lt;b &amp; &quot;c&quot;" in source


def test_bad_arguments() -> None:
    v = Value(1.0)
    with pytest.raises(TypeError):
        draw_graph(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(v, rankdir="XY")
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(v, max_nodes=0)


def test_value_draw_passes_options() -> None:
    loss = scalar_graph()
    assert loss.draw(rankdir="TB").source == draw_graph(loss, rankdir="TB").source


def test_value_draw_is_attached_by_viz_on_import_tinygrad_xor() -> None:
    """The core never imports the drawing: viz attaches `Value.draw`, and the package's
    import brings viz in (a fresh interpreter, so no other test has imported viz first)."""
    code = ("import sys, tinygrad_xor\n"
            "draw = tinygrad_xor.Value.draw  # before any drawing is asked for\n"
            "viz = sys.modules['tinygrad_xor.viz']\n"
            "assert draw is viz._draw, draw\n"
            "digraph = tinygrad_xor.Value(1.0).draw()\n"
            "assert digraph.source == viz.draw_graph(tinygrad_xor.Value(1.0)).source\n"
            "print(type(digraph).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0 and out.stdout == "Digraph\n", out.stderr
    assert Value.draw is viz._draw and Value.draw.__doc__ == (
        "The computation graph ending here, as a graphviz.Digraph (see viz.draw_graph).")


def test_no_module_outside_the_core_reads_the_private_parents() -> None:
    """Graphs are walked with `walk` and read through the public `Value.parents`."""
    package = Path(viz.__file__).parent
    readers = [str(path.relative_to(package)) for path in sorted(package.rglob("*.py"))
               if "core" not in path.relative_to(package).parts
               and "._parents" in path.read_text(encoding="utf-8")]
    assert readers == []


# -- big graphs -------------------------------------------------------------------------------


def test_max_nodes_collapses_the_far_part_of_a_big_graph() -> None:
    leaves = [Value(float(i)) for i in range(5000)]
    total = leaves[0]
    for leaf in leaves[1:]:
        total = total + leaf                                  # 10,000 Values in all
    values, _, _ = graph_of(total)
    assert len(values) == 9999
    source = draw_graph(total, max_nodes=200).source
    nodes = nodes_of(source)
    assert sum(1 for n in nodes if n.startswith("v")) == 200
    assert "more" in nodes
    assert f"{9999 - 200:,} more Values" in source
    assert len(nodes) <= 2 * 200 + 1
    assert len(edges_of(source)) < 2 * 200 + 50


def test_a_cut_graph_draws_the_values_nearest_the_root_in_the_order_of_walk() -> None:
    """The first max_nodes Values by distance from the root (operations away; ties in the
    order of `walk`), drawn in the order of `walk`: operands first."""
    model = MLP([2, 16, 16, 1], scalar=True, rng=0)
    loss = (model([1.0, 0.0]) - 1.0) ** 2
    values = walk(loss)
    distance = {loss: 0}
    for v in reversed(values):
        for p in v.parents:
            distance[p] = min(distance.get(p, len(values)), distance[v] + 1)
    kept = set(sorted(values, key=distance.__getitem__)[:40])
    drawn = [v for v in values if v in kept]
    # the layer's hidden units are operands of many Values, some of them cut: a walk of the
    # drawn part alone (as before) put them elsewhere
    whole = dict(graph_drawing(loss, max_nodes=len(values)).nodes)  # node id -> attributes
    ids = {v: f"v{i}" for i, v in enumerate(values)}
    got = [attrs for name, attrs in graph_drawing(loss, max_nodes=40).nodes
           if name.startswith("v")]
    assert got == [whole[ids[v]] for v in drawn]


def test_the_collapsed_node_says_how_to_draw_everything() -> None:
    """A 2-16-16-1 scalar network is 998 Values: the box names the max_nodes that draws all."""
    model = MLP([2, 16, 16, 1], scalar=True, rng=0)
    loss = (model([1.0, 0.0]) - 1.0) ** 2
    values, _, _ = graph_of(loss)
    source = draw_graph(loss, max_nodes=40).source
    assert f"{len(values) - 40:,} more Values" in source
    assert f"draw_graph(root, max_nodes={len(values)})" in source
    everything = draw_graph(loss, max_nodes=len(values)).source
    assert "more" not in nodes_of(everything)


@pytest.mark.slow
def test_a_million_deep_chain_builds_its_dot_without_recursion() -> None:
    x = Value(1.0, label="x")
    y = x
    for _ in range(10**6):
        y = y * y
    drawing = graph_drawing(y, max_nodes=50)
    assert sum(1 for n, _ in drawing.nodes if n.startswith("v")) == 50
    assert any("999,951 more Values" in attrs["label"] for _, attrs in drawing.nodes)
    assert len(drawing.to_digraph().source) < 100_000


# -- real SVG from Graphviz -------------------------------------------------------------------


@needs_dot
@pytest.mark.parametrize("make", [scalar_graph, tensor_graph, mixed_graph])
def test_svg_has_one_group_per_node_and_the_labels(make) -> None:
    root = make()
    root.backward()
    values, n_ops, _ = graph_of(root)
    svg = svg_of(draw_graph(root))
    assert len(svg_nodes(svg)) == len(values) + n_ops
    texts = svg_texts(svg)
    for v in values:
        if v.label:
            assert v.label in texts
        if v.parents:
            assert v.op in texts


@needs_dot
def test_svg_of_the_collapsed_graph() -> None:
    leaves = [Value(float(i)) for i in range(600)]
    total = leaves[0]
    for leaf in leaves[1:]:
        total = total + leaf
    svg = svg_of(draw_graph(total, max_nodes=40))
    assert len(svg_nodes(svg)) <= 2 * 40 + 1
    assert any("more Values" in t for t in svg_texts(svg))


@needs_dot
def test_svg_of_the_network() -> None:
    svg = svg_of(draw_network(goodfellow_model()))
    assert len(svg_nodes(svg)) == 5 + 2  # the neurons and the layers' headings
    assert len([g for g in svg.iter(f"{SVG}g") if g.get("class") == "edge"]) == 6
    texts = svg_texts(svg)
    for name in ("x1", "x2", "h1", "h2", "y", "ReLU", "b = -1", "-2"):
        assert name in texts


# -- the network picture ------------------------------------------------------------------------


def network_numbers(source: str) -> tuple[list[str], list[float], list[float]]:
    """(neuron names, edge weights in order, biases in order) read back from the DOT text."""
    labels = node_labels(source)
    names = [text.split()[0] for text in labels.values()
             if not text.startswith("layers.")]  # not the layers' headings
    weights = [float(w) for w in re.findall(r"(?:head|tail)label=\"?(-?[\d.e+-]+)", source)]
    biases = [float(b) for b in re.findall(r"b = (-?[\d.e+-]+)", source)]
    return names, weights, biases


def test_network_edges_pass_behind_the_neurons() -> None:
    """In a 2-16-16-1 network the edges from a neuron to far neurons of the next layer
    cross the neurons of its own column: drawn after them, they covered their text."""
    source = draw_network(MLP([2, 16, 16, 1], rng=0)).source
    assert re.search(r"\boutputorder=edgesfirst\b", source)


@needs_dot
def test_svg_of_a_network_draws_every_edge_before_the_neurons() -> None:
    svg = svg_of(draw_network(MLP([2, 16, 16, 1], rng=0)))
    kinds = [g.get("class") for g in svg.iter(f"{SVG}g") if g.get("class") in ("node", "edge")]
    assert kinds.count("edge") == 2 * 16 + 16 * 16 + 16
    assert kinds.index("node") > max(i for i, kind in enumerate(kinds) if kind == "edge")


def test_goodfellow_network_shows_its_neurons_and_weights() -> None:
    source = draw_network(goodfellow_model()).source
    names, weights, biases = network_numbers(source)
    assert names == ["x1", "x2", "h1", "h2", "y"]
    assert len(edges_of(source)) == 2 * 2 + 2 * 1
    assert weights[:4] == [1, 1, 1, 1] and biases[:2] == [0, -1]
    assert weights[4:] == [1, -2] and biases[2:] == [0]
    assert source.count("<i>ReLU</i>") == 2 and source.count("<i>identity</i>") == 1
    assert source.count("rank=same") == 3                     # one column per layer
    assert 'style=dashed' not in source                       # no zero weight in Goodfellow's W


def test_network_scalar_and_tensor_mlps_draw_alike() -> None:
    tensor = MLP([2, 3, 1], activation="tanh", output_activation="sigmoid", rng=1)
    scalar = MLP([2, 3, 1], activation="tanh", output_activation="sigmoid", scalar=True, rng=1)
    scalar.load_state_dict(tensor.state_dict())
    source = draw_network(tensor).source
    assert source == draw_network(scalar).source
    assert source.count("<i>tanh</i>") == 3 and source.count("<i>sigmoid</i>") == 1
    names, weights, biases = network_numbers(source)
    assert names == ["x1", "x2", "h1", "h2", "h3", "y"]
    state = tensor.state_dict()
    assert weights == [float(f"{w:.3g}") for w in np.concatenate(
        [state["layers.0.weight"].ravel(), state["layers.1.weight"].ravel()])]
    assert biases == [float(f"{b:.3g}") for b in np.concatenate(
        [state["layers.0.bias"], state["layers.1.bias"]])]


def test_network_of_a_deeper_sequential() -> None:
    model = Sequential(Linear(3, 4, rng=0), ReLU(), Linear(4, 4, rng=1), Sigmoid(),
                       Linear(4, 2, rng=2))
    source = draw_network(model).source
    names, _, _ = network_numbers(source)
    assert names == ["x1", "x2", "x3", "h1.1", "h1.2", "h1.3", "h1.4",
                     "h2.1", "h2.2", "h2.3", "h2.4", "y1", "y2"]
    assert len(edges_of(source)) == 12 + 16 + 8
    assert source.count("<i>ReLU</i>") == 4 and source.count("<i>sigmoid</i>") == 4
    assert source.count("<i>identity</i>") == 2
    assert "headlabel" not in draw_network(model, edge_labels=False).source
    assert "taillabel" not in draw_network(model, edge_labels=False).source


def test_model_draw_is_draw_network():
    from tinygrad_xor.viz import draw_network
    from tinygrad_xor.xor import goodfellow_model

    model = goodfellow_model()
    assert model.draw().source == draw_network(model).source


# -- fitting a notebook cell, names from the module tree, a missing dot -------------------------


def test_drawings_fit_a_notebook_cell_by_default() -> None:
    from tinygrad_xor.losses import mse
    from tinygrad_xor.nn import MLP
    from tinygrad_xor.xor import X as XOR_X
    from tinygrad_xor.xor import Y as XOR_Y

    loss = mse(MLP([2, 2, 1], rng=0)(XOR_X), XOR_Y)
    source = draw_graph(loss).source
    assert 'size="9,30"' in source and "rankdir=TB" in source  # deep: top to bottom
    assert "rankdir=LR" in draw_graph(loss, rankdir="LR").source
    assert " size=" not in draw_graph(loss, size=None).source.splitlines()[1]
    assert 'size="6,4"' in draw_graph(loss, size=(6, 4)).source
    assert 'size="9,30"' in draw_network(goodfellow_model()).source
    with pytest.raises(ValueError, match="size"):
        draw_graph(loss, size="wide")


def test_pictures_name_parameters_as_the_module_tree() -> None:
    from tinygrad_xor.losses import mse
    from tinygrad_xor.nn import MLP

    scalar = MLP([2, 2, 1], scalar=True, rng=0)
    source = draw_graph(mse(scalar([1.0, 0.0]), 1.0)).source
    for name in ("layers.0.weight[1,0]", "layers.0.bias[1]", "layers.1.weight[0,0]"):
        assert f"<b>{name}</b>" in source
    tensor = MLP([2, 2, 1], rng=0)
    source = draw_graph(tensor(np.ones((1, 2)))).source
    assert "<b>layers.0.weight</b>" in source and "<b>layers.1.bias</b>" in source
    net = draw_network(tensor).source
    assert "layers.0.weight[1,0] = " in net and "layers.1.bias[0] = " in net
    assert ">layers.0<" in net and ">layers.1<" in net


def test_a_missing_dot_is_one_line_with_the_install_hint(monkeypatch) -> None:
    import graphviz

    from tinygrad_xor.viz import GraphvizNotFound

    monkeypatch.setenv("PATH", "/nonexistent")
    graph = draw_network(goodfellow_model())
    with pytest.raises(GraphvizNotFound, match="apt-get install graphviz") as info:
        graph.pipe(format="svg")
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(graphviz.ExecutableNotFound):  # what graphviz's users catch
        graph.render(outfile="/tmp/never.svg")
    bundle = graph._repr_mimebundle_()  # what Jupyter calls to display it
    assert list(bundle) == ["text/plain"] and "apt-get install graphviz" in bundle["text/plain"]
