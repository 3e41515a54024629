"""The `tinygrad-xor` command line: train, check, draw, sweep, demo.

The top layer: it stands on the XOR study (`tinygrad_xor.xor`) and nothing imports it. Each
sub-command's work lives in the study module that owns it; this file only parses arguments.
Building the parser imports `tinygrad_xor.xor.recipes` (and with it the library) for the
recipe names; a sub-command's own module is imported only when that sub-command runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# sub-command -> (module, function); the function takes the parsed arguments and returns an
# exit status.
COMMANDS = {
    "train": ("tinygrad_xor.xor.recipes", "train_command"),
    "check": ("tinygrad_xor.xor.blogcheck", "check_command"),
    "draw": ("tinygrad_xor.xor.draw", "draw_command"),
    "sweep": ("tinygrad_xor.xor.sweep", "sweep_command"),
    "demo": ("tinygrad_xor.xor.demo", "demo_command"),
    "landscape": ("tinygrad_xor.xor.landscape", "landscape_command"),
}


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _recipe(name: str) -> str:
    """An argparse type: a known recipe name, else a usage error that lists them."""
    from .xor.recipes import RECIPES

    if name not in RECIPES:
        raise argparse.ArgumentTypeError(f"unknown recipe {name!r}; choose from: "
                                         + ", ".join(RECIPES))
    return name


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="tinygrad-xor",
        description="See and check backpropagation on the XOR network: train it, check the "
                    "blog's gradients against autograd, draw its graphs.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("train", help="train XOR with a recipe and print the truth table",
                       description="Train the XOR network with a recipe and print the final "
                                   "truth table and loss.")
    from .xor.recipes import RECIPES

    recipes = ", ".join(RECIPES)
    p.add_argument("--recipe", required=True, metavar="NAME", type=_recipe,
                   help=f"one of: {recipes}")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--epochs", type=_positive_int, default=None,
                   help="number of epochs (default: the recipe's own)")

    sub.add_parser("check", help="compare the blog's hand-derived gradients with autograd",
                   description="Compare, layer by layer, the blog's hand-derived gradients with "
                               "autograd's, as a table. Exit status 1 if a gradient that should "
                               "agree does not.")

    p = sub.add_parser("draw", help="write the XOR computation graphs and the network picture",
                       description="Write the XOR network's computation graphs and its network "
                                   "picture to files and print their paths.")
    p.add_argument("--out", default="tinygrad_xor_drawings", metavar="DIR",
                   help="output directory (default: ./tinygrad_xor_drawings)")
    p.add_argument("--format", default="svg", choices=["svg", "png", "pdf", "dot"],
                   help="file format (default: svg); 'dot' needs no Graphviz install")

    p = sub.add_parser("sweep", help="train many seeds at once; the fraction that solve XOR",
                       description="Train many independently seeded XOR networks of a recipe "
                                   "at once, as one batched graph, and report the fraction "
                                   "that solve XOR.")
    p.add_argument("--recipe", required=True, metavar="NAME", type=_recipe,
                   help=f"one of: {recipes}")
    p.add_argument("--seeds", type=_positive_int, default=1000,
                   help="number of seeds (default: 1000)")
    p.add_argument("--steps", type=_positive_int, default=None,
                   help="training steps per network (default: the recipe's own)")
    p.add_argument("--plot", default=None, metavar="FILE",
                   help="write a plot of the final losses (needs the 'plot' extra)")

    p = sub.add_parser("demo", help="train XOR, check its gradients, draw its graph",
                       description="The main job in one command: train the XOR network, check "
                                   "its gradients against finite differences and the blog's, "
                                   "and draw its graphs.")
    p.add_argument("--out", default="tinygrad_xor_drawings", metavar="DIR",
                   help="where the drawings go (default: ./tinygrad_xor_drawings)")

    p = sub.add_parser("landscape", help="classify where the runs that fail XOR stalled",
                       description="Train many seeds of a recipe; at the end point of each run "
                                   "that does not solve XOR, classify it from the gradient norm "
                                   "and the Hessian's eigenvalues (strict local minimum, saddle, "
                                   "flat region, not yet stationary), print the fractions, and "
                                   "try the way out along negative curvature.")
    p.add_argument("--recipe", required=True, metavar="NAME", type=_recipe,
                   help=f"one of: {recipes}")
    p.add_argument("--seeds", type=_positive_int, default=1000,
                   help="number of seeds (default: 1000)")
    p.add_argument("--steps", type=_positive_int, default=None,
                   help="training steps per network (default: enough for runs to stop moving)")
    p.add_argument("--plot", default=None, metavar="FILE",
                   help="write a plot of the spectra (needs the 'plot' extra)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    module_name, function_name = COMMANDS[args.command]
    command = getattr(importlib.import_module(module_name), function_name)
    try:
        return int(command(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
