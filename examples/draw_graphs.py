"""Draw computation graphs and a network with Graphviz: a neuron, XOR's network, a big graph.

Run: python examples/draw_graphs.py [OUT_DIR]
(without OUT_DIR: a temporary directory, removed at the end)

Writes each drawing as DOT text (no Graphviz needed) and, when Graphviz's `dot` program is
installed, as SVG too; prints the paths. Open the .svg files in a browser.
"""

import shutil
import sys
import tempfile
from pathlib import Path

from tinygrad_xor import Value
from tinygrad_xor.nn import MLP
from tinygrad_xor.viz import draw_graph, draw_network
from tinygrad_xor.xor import goodfellow_model


def neuron() -> Value:
    """One sigmoid neuron with two inputs and its squared error, after backward."""
    x1 = Value(1.0, label="x1", requires_grad=False)
    x2 = Value(0.0, label="x2", requires_grad=False)
    w1, w2, b = Value(0.8, label="w1"), Value(-0.4, label="w2"), Value(0.1, label="b")
    out = (x1 * w1 + x2 * w2 + b).sigmoid()
    out.label = "out"
    loss = (out - 1.0) ** 2
    loss.label = "loss"
    loss.backward()
    return loss


def long_sum(n: int) -> Value:
    """x0 + x1 + ... + x(n-1), a graph of 2n - 1 Values."""
    total = Value(0.0, label="x0")
    for i in range(1, n):
        total = total + Value(float(i), label=f"x{i}")
    return total


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    drawings = {
        "neuron": draw_graph(neuron()),
        "neuron_no_grads": draw_graph(neuron(), show_grad=False, rankdir="TB"),
        # 3,999 Values, but only the 30 nearest the loss are drawn, the rest as one node
        "long_sum_cut": draw_graph(long_sum(2000), max_nodes=30, rankdir="TB"),
        "goodfellow_network": draw_network(goodfellow_model()),
        "random_network": draw_network(MLP([2, 3, 3, 1], activation="tanh", rng=0)),
    }
    have_dot = shutil.which("dot") is not None
    for name, graph in drawings.items():
        dot_path = out / f"{name}.dot"
        graph.save(dot_path)
        line = f"{dot_path}  ({len(graph.source.splitlines())} lines of DOT)"
        if have_dot:
            svg_path = out / f"{name}.svg"
            svg_path.write_bytes(graph.pipe(format="svg"))
            line += f"\n{svg_path}"
        print(line)
    if not have_dot:
        print("Graphviz's 'dot' is not installed, so only .dot files were written "
              "(sudo apt-get install graphviz).")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:  # give OUT_DIR to keep the files
        with tempfile.TemporaryDirectory(prefix="draw_") as tmp:
            main(Path(tmp))
