"""Regenerate the pictures of docs/drawing.md (and the README) as SVG files.

Run: python docs/make_pictures.py [OUT_DIR]     (default: docs/images next to this script)

Needs Graphviz's ``dot`` program (``sudo apt-get install graphviz``). Writes:

- graph_before_backward.svg: the XOR network's neuron-level graph for one sample, before backward;
- graph_after_backward.svg: the same graph after ``loss.backward()``, every grad filled in;
- graph_batch.svg: the tensor graph of all four samples at once, after backward;
- network_goodfellow.svg: the network with Goodfellow et al.'s exact weights;
- network_trained.svg: the network after a successful training run.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

from tinygrad_xor import Value
from tinygrad_xor.losses import mse
from tinygrad_xor.nn import MLP
from tinygrad_xor.viz import draw_graph, draw_network
from tinygrad_xor.xor import X, Y, goodfellow_model, solved
from tinygrad_xor.xor.recipes import train_recipe


def blog_network(seed: int, scalar: bool) -> MLP:
    """The blog's 2-2-1 network, sigmoid on every layer, with readable parameter labels."""
    model = MLP([2, 2, 1], activation="sigmoid", output_activation="sigmoid", scalar=scalar,
                rng=seed)
    for n, layer in enumerate(model.layers, start=1):
        if scalar:
            for (i, j), w in np.ndenumerate(layer.weight):
                w.label = f"w{n}[{i},{j}]"
            for j, b in enumerate(layer.bias):
                b.label = f"b{n}[{j}]"
        else:
            layer.weight.label, layer.bias.label = f"W{n}", f"b{n}"
    return model


def one_sample_loss() -> Value:
    """The loss (y - 1)² of the blog's network on the sample x = (1, 0), target 1."""
    x = [Value(1.0, label="x1", requires_grad=False), Value(0.0, label="x2", requires_grad=False)]
    loss = mse(blog_network(seed=0, scalar=True)(x), 1.0)
    loss.label = "loss"
    return loss


def trained_network() -> tuple[MLP, int]:
    """The blog's 2-2-1 sigmoid network trained with the sigmoid-momentum recipe (first seed
    that solves XOR)."""
    for seed in range(20):
        model, _ = train_recipe("sigmoid-momentum", seed)
        if solved(model(Value(X, requires_grad=False)).data):
            return model, seed
    raise RuntimeError("no seed in 0..19 solved XOR")


def titled(graph, title: str):
    """Put a title above a Digraph."""
    graph.attr(label=title, labelloc="t", fontsize="15")
    return graph


def make_pictures() -> dict:
    """Every picture, by file stem, as a graphviz.Digraph."""
    pictures = {}

    loss = one_sample_loss()
    pictures["graph_before_backward"] = titled(
        draw_graph(loss, rankdir="TB"), "One XOR sample x = (1, 0), target 1: before backward")
    loss.backward()
    pictures["graph_after_backward"] = titled(
        draw_graph(loss, rankdir="TB"), "The same graph after loss.backward()")

    batch_model = blog_network(seed=0, scalar=False)
    batch_loss = mse(batch_model(Value(X, label="X", requires_grad=False)), Y)
    batch_loss.label = "loss"
    batch_loss.backward()
    pictures["graph_batch"] = titled(
        draw_graph(batch_loss, rankdir="TB"), "All four XOR samples at once, after backward")

    pictures["network_goodfellow"] = titled(
        draw_network(goodfellow_model()), "Goodfellow et al.'s exact XOR network")
    model, seed = trained_network()
    pictures["network_trained"] = titled(
        draw_network(model),
        f"The blog's network trained on XOR (recipe sigmoid-momentum, seed {seed})")

    return pictures


def main(out: Path) -> None:
    if shutil.which("dot") is None:
        sys.exit("make_pictures.py needs Graphviz's 'dot': sudo apt-get install graphviz")
    out.mkdir(parents=True, exist_ok=True)
    for name, graph in make_pictures().items():
        path = out / f"{name}.svg"
        path.write_bytes(graph.pipe(format="svg"))
        print(path)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "images")
