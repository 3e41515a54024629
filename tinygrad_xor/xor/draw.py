"""The XOR pictures, and the command that writes them: `tinygrad-xor draw`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .. import Value
from ..losses import mse
from ..nn import MLP
from ..viz import draw_graph, draw_network
from . import X, Y, goodfellow_model

__all__ = ["xor_drawings", "draw_command", "INSTALL_HINT"]

INSTALL_HINT = ("Graphviz's 'dot' program is not installed, so only .dot files were written; "
                "install it with 'sudo apt-get install graphviz' or 'brew install graphviz' "
                "(https://graphviz.org/download/), or open the .dot files in any DOT viewer.")


def _titled(graph: Any, title: str) -> Any:
    graph.attr(label=title, labelloc="t", fontsize="14")
    return graph


def xor_drawings(seed: int = 0) -> list[tuple[str, Any, str]]:
    """The XOR drawings of `tinygrad-xor draw` as (file stem, Digraph, what it shows)."""
    # The blog's network, 2-2-1 with sigmoid everywhere, one neuron per scalar Value.
    model = MLP([2, 2, 1], activation="sigmoid", output_activation="sigmoid", scalar=True,
                rng=seed)
    for layer_number, layer in enumerate(model.layers, start=1):
        for (i, j), w in np.ndenumerate(layer.weight):
            w.label = f"w{layer_number}[{i},{j}]"
        for j, b in enumerate(layer.bias):
            b.label = f"b{layer_number}[{j}]"
    x = [Value(1.0, label="x1", requires_grad=False), Value(0.0, label="x2", requires_grad=False)]
    loss = mse(model(x), 1.0)
    loss.label = "loss"
    loss.backward()
    sample = _titled(draw_graph(loss, rankdir="TB"),
                     "XOR, one sample x = (1, 0) with target 1: loss = (y − 1)², after backward")

    batched_model = MLP([2, 2, 1], activation="sigmoid", output_activation="sigmoid", rng=seed)
    for layer_number, layer in enumerate(batched_model.layers, start=1):
        layer.weight.label = f"W{layer_number}"
        layer.bias.label = f"b{layer_number}"
    batch_loss = mse(batched_model(Value(X, label="X", requires_grad=False)), Y)
    batch_loss.label = "loss"
    batch_loss.backward()
    batch = _titled(draw_graph(batch_loss, rankdir="TB"),
                    "XOR, all four samples at once: loss = mean((y − Y)²), after backward")

    network = _titled(draw_network(goodfellow_model()),
                      "Goodfellow et al.'s exact XOR network: y = w2 · ReLU(W1 x + b1) + b2")
    return [("xor_graph_sample", sample, "neuron-level graph of one sample"),
            ("xor_graph_batch", batch, "tensor graph of the whole batch"),
            ("xor_network", network, "the network with Goodfellow's weights")]


def draw_command(args: Any) -> int:
    """`tinygrad-xor draw`: write the XOR graphs and network picture into ``args.out``."""
    try:
        return _draw_into(args.out, args.format)
    except OSError as exc:  # a folder that cannot be made or a file that cannot be written
        print(f"tinygrad-xor draw: error: cannot write the drawings into {args.out}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 1


def _draw_into(folder: str, fmt: str) -> int:
    import graphviz

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    drawings = xor_drawings()
    if fmt != "dot" and shutil.which("dot") is None:
        for stem, graph, what in drawings:
            path = out / f"{stem}.dot"
            path.write_text(graph.source, encoding="utf-8")
            print(f"{path}  ({what})")
        print(INSTALL_HINT, file=sys.stderr)
        return 1
    for stem, graph, what in drawings:
        path = out / f"{stem}.{fmt}"
        if fmt == "dot":
            path.write_text(graph.source, encoding="utf-8")
        else:
            try:
                path.write_bytes(graph.pipe(format=fmt))
            except (graphviz.ExecutableNotFound, graphviz.CalledProcessError) as exc:
                (out / f"{stem}.dot").write_text(graph.source, encoding="utf-8")
                print(f"tinygrad-xor draw: Graphviz failed on {stem}: {exc}", file=sys.stderr)
                return 1
        print(f"{path}  ({what})")
    return 0
