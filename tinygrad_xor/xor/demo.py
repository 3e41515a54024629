"""`tinygrad-xor demo`: the main job in one command: train XOR, check gradients, draw graphs."""

from __future__ import annotations

import argparse
import shutil
import sys

import numpy as np

from .. import no_grad
from ..gradcheck import GradcheckError, gradcheck
from . import X, Y

RECIPE = "wide-tanh-adam"


def demo_command(args: argparse.Namespace) -> int:
    """Train the XOR network, check its gradients two ways, and draw its graphs."""
    from ..train import predict
    from . import blogcheck, draw, solved
    from .recipes import get_recipe, train_recipe, truth_table

    recipe = get_recipe(RECIPE)
    print(f"1. Train XOR: recipe {recipe.name} ({recipe.describe()}), seed 0")
    model, _ = train_recipe(recipe, seed=0, progress=sys.stderr.isatty())
    print(truth_table(model))
    with no_grad():  # after the last step, as `tinygrad-xor train` reports it
        out = model(X)
        final = float(recipe.loss_fn()(out, Y).item())
        hits = (predict(out).reshape(-1) > 0.5) == (np.asarray(Y).reshape(-1) > 0.5)
        is_solved = solved(predict(out))
    print(f"   final loss {final:.3g}, accuracy {hits.mean():.0%}: "
          + ("XOR solved" if is_solved else "XOR NOT solved"))

    params = model.parameters()
    loss_fn = recipe.loss_fn()
    print(f"\n2. Check every gradient of the trained network's loss ({sum(p.size for p in params)}"
          " weights and biases) against central finite differences")
    try:
        gradcheck(lambda *ps: loss_fn(model(X), Y), *params)
    except GradcheckError as exc:
        print(f"   FAILED: {exc}")
        return 1
    print("   gradcheck: every reverse-mode gradient agrees")

    print("\n3. Check the blog's hand-derived gradients against autograd")
    rows = blogcheck.compare(0)
    print(blogcheck.format_table(rows))
    bad = [r for r in rows if not r.ok]
    print("   " + ("every delta and b_grad agrees; the post's W_grad is dL/dW transposed"
                   if not bad else f"FAILED: {len(bad)} gradient(s) disagree"))

    fmt = "svg" if shutil.which("dot") else "dot"
    print(f"\n4. Draw the XOR graphs and network ({fmt}) into {args.out}/")
    status = draw.draw_command(argparse.Namespace(out=args.out, format=fmt))
    if fmt == "dot":
        print(draw.INSTALL_HINT)
    return 1 if bad or status or not is_solved else 0
