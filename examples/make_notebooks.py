"""Write and run the notebooks of examples/ (their outputs are committed with them).

Run: python examples/make_notebooks.py [OUT_DIR]   (default: examples/, next to this script;
needs the 'notebook' extra and Graphviz's dot)

Each notebook is built from the cells below, executed top to bottom in a fresh kernel, and
saved with its outputs, so GitHub and nbviewer show the drawings and plots inline.
tests/test_notebooks.py executes the saved notebooks again and fails on any error or warning.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent

XOR = [
    ("md", """# XOR, from the blog to autograd

The blog post trains a 2-2-1 sigmoid network on XOR with hand-derived gradients. Here the
same network is built from `Value`s: we draw its computation graph, let autograd compute the
gradients and check the post's against them, train it, draw the trained network, and sweep
many seeds to see how often training solves XOR."""),
    ("code", """from tinygrad_xor import Value
from tinygrad_xor.losses import mse
from tinygrad_xor.nn import MLP
from tinygrad_xor.xor import X, solved"""),
    ("md", """## The graph of one sample

One scalar `Value` per weight (`scalar=True`): every multiplication and addition of the
forward pass is a node. Parameters are named as in `state_dict()`: `layers.0.weight[1,0]`
is the weight from input 1 to hidden neuron 0."""),
    ("code", """model = MLP([2, 2, 1], activation="sigmoid", output_activation="sigmoid",
            scalar=True, rng=0)
x = [Value(1.0, label="x1", requires_grad=False), Value(0.0, label="x2", requires_grad=False)]
loss = mse(model(x), 1.0)
loss.label = "loss"
loss.backward()
loss.draw()"""),
    ("md", """## The post's gradients against autograd

`tinygrad_xor.xor.blogcheck` runs the post's hand-derived backward pass and autograd's on
the same network and compares them quantity by quantity. The post's `W_grad` is the
transpose of dL/dW; everything else agrees exactly."""),
    ("code", """from tinygrad_xor.xor import blogcheck

rows = blogcheck.compare(seed=0)
print(blogcheck.format_table(rows))"""),
    ("md", """## Training

The `sigmoid-momentum` recipe (cross-entropy, SGD with momentum) solves XOR for most seeds;
its default seed shows a typical, successful run. The progress bar is a widget here and a
text bar in a terminal."""),
    ("code", """from tinygrad_xor.xor.recipes import train_recipe, truth_table

trained, history = train_recipe("sigmoid-momentum", seed=None, progress=True)
print(truth_table(trained))
print("final loss", round(history.loss[-1], 5), "- solves XOR:", solved(trained(X).data))"""),
    ("code", """trained.draw()"""),
    ("md", """## Many seeds at once

`run_sweep` trains one network per seed, all as one batched graph, with a progress bar over
the steps. `sweep_figure` returns a matplotlib `Figure` of its own, which the notebook shows
inline as a cell's last line, pyplot imported or not (your pyplot figures and backend are
left alone)."""),
    ("code", """from tinygrad_xor.xor.sweep import run_sweep, sweep_figure

result = run_sweep("sigmoid-momentum", 300, steps=600)
print(f"{result.success_rate:.0%} of {result.seeds.size} seeds solve XOR "
      f"after {result.steps} steps")
sweep_figure(result)"""),
]

CHECK = [
    ("md", """# Check your own operation

Add an operation to tinygrad_xor with `primitive(forward, vjp)`, check its gradient with
`gradcheck` at a point, then let hypothesis put it into random graphs with the strategies of
`tinygrad_xor.testing`. A wrong gradient is found and reported."""),
    ("code", """import numpy as np

from tinygrad_xor import GradcheckError, Value, gradcheck, primitive


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for large |x|


softplus = primitive(lambda x: np.logaddexp(0.0, x),
                     lambda grad, out, x: (grad * _sigmoid(x),), name="softplus")
softplus_wrong = primitive(lambda x: np.logaddexp(0.0, x),
                           lambda grad, out, x: (grad * np.exp(x),),  # should be sigmoid(x)
                           name="softplus_wrong")"""),
    ("md", """## gradcheck at a point

Central finite differences against the VJP. PyTorch's form works too:
`gradcheck(f, (x,))`, with `fast_mode=True` for one random product per input."""),
    ("code", """x = Value(np.array([-2.0, 0.0, 1.5]), label="x")
print(gradcheck(softplus, x))
y = Value(np.array([0.5, -1.0, 2.0]), label="y")
print(gradcheck(lambda a, b: softplus(a * b).sum(), (x, y), fast_mode=True))
try:
    gradcheck(softplus_wrong, x)
except GradcheckError as error:
    print(str(error).splitlines()[0])"""),
    ("code", """(softplus(x) * x).sum().draw()"""),
    ("md", """## Random graphs with hypothesis

`testing.values` draws `Value`s; `testing.expressions` draws whole differentiable graphs
`(f, inputs)` that use the operations you give it, custom primitives included."""),
    ("code", """from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_xor.testing import expressions, values


@settings(max_examples=30, deadline=None, database=None)
@given(values(shape=st.sampled_from([(), (3,), (2, 3)]), min_value=-5, max_value=5))
def softplus_matches_finite_differences(v):
    assert gradcheck(softplus, v)


softplus_matches_finite_differences()
print("softplus: 30 random inputs pass")"""),
    ("code", """@settings(max_examples=50, deadline=None, database=None)
@given(expressions(max_ops=4, ops=["add", "mul", "tanh", softplus_wrong]))
def graphs_with_the_wrong_softplus(drawn):
    f, inputs = drawn
    gradcheck(f, *inputs)


try:
    graphs_with_the_wrong_softplus()
except GradcheckError as error:
    print("hypothesis found the wrong VJP:", str(error).splitlines()[0])"""),
]


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(text) if kind == "md"
                else nbformat.v4.new_code_cell(text) for kind, text in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


_ADDRESS = re.compile(r" at 0x[0-9a-f]+>")
_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# tqdm's times and rate, as in "[00:01<00:00, 523.41it/s, loss=0.1]"; tqdm.notebook writes
# &lt; and U+2007 spaces
_TQDM_TIMES = re.compile(r"\[[\d:]+(?:<|&lt;)[\d:?]+,\s*[\d.?]+\s*(?:[a-zA-Z]+/s|s/[a-zA-Z]+)")


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Make a run's notebook the same text every time: cell ids numbered in order, no
    execution timestamps, no memory addresses in reprs, widget ids numbered in order of first
    use, tqdm's elapsed times and rates blanked (graphviz's SVG is the same every run)."""
    for n, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{n}"
        cell.get("metadata", {}).pop("execution", None)
    text = nbformat.writes(nb)
    text = _ADDRESS.sub(">", text)
    text = _TQDM_TIMES.sub("[...", text)
    widgets = nb.metadata.get("widgets", {}).get(_WIDGET_STATE, {}).get("state", {})
    # number the widgets shown by the outputs in order, then the ones each refers to
    # (the state's own order changes from run to run), then any others by their content
    known = re.compile("|".join(map(re.escape, widgets)) or "(?!)")
    outputs = json.dumps([cell.get("outputs", []) for cell in nb.cells], sort_keys=True)
    order = list(dict.fromkeys(known.findall(outputs)))
    for key in order:  # grows while it is walked
        refs = known.findall(json.dumps(widgets[key], sort_keys=True))
        order += [ref for ref in dict.fromkeys(refs) if ref not in order]
    order += sorted((key for key in widgets if key not in order),
                    key=lambda key: json.dumps(widgets[key], sort_keys=True))
    ids = {key: f"widget-{n}" for n, key in enumerate(order)}
    if ids:
        text = re.sub("|".join(map(re.escape, ids)), lambda m: ids[m.group()], text)
    nb = nbformat.reads(text, as_version=4)
    state = nb.metadata.get("widgets", {}).get(_WIDGET_STATE, {}).get("state")
    if state:
        nb.metadata["widgets"][_WIDGET_STATE]["state"] = dict(sorted(state.items()))
    return nb


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    for name, cells in [("xor_from_blog_to_autograd", XOR), ("check_your_own_operation", CHECK)]:
        nb = build(cells)
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(HERE)}}).execute()
        path = out / f"{name}.ipynb"
        nbformat.write(normalise(nb), path)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
