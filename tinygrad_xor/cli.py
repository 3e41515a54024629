"""The `tinygrad-xor` command line: train, check, draw, sweep, demo, landscape, grid,
compile.

The top layer: it stands on the XOR study (`tinygrad_xor.xor`) and nothing imports it. Each
sub-command's work lives in the study module that owns it; this file only parses arguments.
Building the parser imports `tinygrad_xor.xor.recipes` (and with it the library) for the
recipe names, and a ``--plot`` file is checked with `tinygrad_xor.xor.study` (the formats
matplotlib writes); a sub-command's own module is imported only when that sub-command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import io
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

# sub-command -> (module, function); the function takes the parsed arguments and returns an
# exit status.
COMMANDS = {
    "train": ("tinygrad_xor.xor.recipes", "train_command"),
    "check": ("tinygrad_xor.xor.blogcheck", "check_command"),
    "draw": ("tinygrad_xor.xor.draw", "draw_command"),
    "sweep": ("tinygrad_xor.xor.sweep", "sweep_command"),
    "demo": ("tinygrad_xor.xor.demo", "demo_command"),
    "landscape": ("tinygrad_xor.xor.landscape", "landscape_command"),
    "grid": ("tinygrad_xor.xor.grid", "grid_command"),
    "compile": ("tinygrad_xor.xor.compiled", "compile_command"),
}


# The ranges of the numeric options: checked by argparse before any work starts.
SEED_MAX = 2**32 - 1
EPOCHS_MAX = 1_000_000
STEPS_MAX = 100_000
SEEDS_MAX = 1_000_000
HIDDEN_MAX = 1_000
LR_MAX = 100.0
WORKERS_MAX = 1_000


def _int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high], else a usage error that gives the range."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be an integer from {low:,} to {high:,}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be an integer from {low:,} to {high:,}, got {value:,}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its messages
    return parse


def _system_words(exc: OSError) -> str:
    """What the system said, in its words (``File name too long``), for a message."""
    return exc.strerror or str(exc)


def _lookup(path: Path) -> bool:
    """Whether something is at ``path`` (a link: where it leads); OSError when the system
    refuses the name itself (too long, a loop of links, no permission to look)."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):  # nothing there (yet)
        return False
    return True


def _refused(text: str, exc: OSError | ValueError) -> str:
    """The message for a name the system refuses, in its words (os.stat's ValueError: a NUL)."""
    if isinstance(exc, OSError):
        return f"{text}: cannot be used (the system said: {_system_words(exc)})"
    return f"{text!r}: a name cannot contain a NUL character"


#: A folder must leave room in a path for a file name this long (the drawings' are shorter).
FILE_NAME_ROOM = 32


def _writable_folder(path: Path, room: int = FILE_NAME_ROOM) -> str | None:
    """Why files cannot be made in folder ``path`` (created if missing), or None if they can;
    ``room``: the length of file name the path must leave room for (0: not checked)."""
    probe = path
    try:
        while not _lookup(probe):  # a folder to be made: its nearest existing ancestor takes it
            if probe.is_symlink():
                return f"{probe} is a link to {os.readlink(probe)}, which does not exist"
            if probe.parent == probe:
                break
            probe = probe.parent
    except (OSError, ValueError) as exc:
        return _refused(str(path), exc)
    if not probe.is_dir():
        return f"{probe} is not a folder"
    try:
        if room:
            _lookup(path / ("x" * room))
    except OSError as exc:  # other refusals (no permission) are the file test's below
        if exc.errno == errno.ENAMETOOLONG:
            return (f"{path}: no room left in the path for the names of files inside it (the "
                    f"system said: {_system_words(exc)})")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        return f"cannot create a file in {probe} (the system said: {_system_words(exc)})"
    return None


def _out_dir(text: str) -> str:
    """An argparse type: a folder the drawings can be written into (checked before the work)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder, got an empty string")
    problem = _writable_folder(Path(text))
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _plot_file(text: str) -> str:
    """An argparse type: a plot file matplotlib knows the format of, in a writable folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a file, got an empty string")
    from .xor.study import check_plot_format

    try:
        check_plot_format(text)
    except (RuntimeError, ValueError) as exc:  # no matplotlib; a format it cannot write
        raise argparse.ArgumentTypeError(str(exc)) from None
    path = Path(text)
    name = text
    try:
        exists, folder_exists = _lookup(path), _lookup(path.parent)
        if not exists and path.is_symlink():  # savefig would write where it leads
            path = Path(os.path.realpath(path))
            name, folder_exists = f"{text} (a link to {path})", _lookup(path.parent)
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(_refused(text, exc)) from None
    if not folder_exists or not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{name}: the folder {path.parent} does not exist")
    if exists and path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder")
    problem = _writable_folder(path.parent, room=0)  # the file's own name was looked up
    if problem is None and exists and not os.access(path, os.W_OK):
        problem = f"{text} cannot be overwritten"
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _recipe(name: str) -> str:
    """An argparse type: a known recipe name, else a usage error that lists them."""
    from .xor.recipes import RECIPES

    if name not in RECIPES:
        raise argparse.ArgumentTypeError(f"unknown recipe {name!r}; choose from: "
                                         + ", ".join(RECIPES))
    return name


def _recipes(text: str) -> list[str]:
    """An argparse type: comma-separated names of recipes that train (not the fixed weights)."""
    from .xor.recipes import RECIPES

    names = [name.strip() for name in text.split(",")]
    trainable = [name for name, r in RECIPES.items() if r.init != "goodfellow"]
    for name in names:
        if name not in trainable:
            why = ("has fixed weights and no training" if name in RECIPES else
                   "is not a recipe" if name else "is empty")
            raise argparse.ArgumentTypeError(f"{name!r} {why}; choose from: "
                                             + ", ".join(trainable))
    return list(dict.fromkeys(names))


def _int_list(low: int, high: int) -> Callable[[str], list[int]]:
    """An argparse type: comma-separated integers in [low, high] (repeats dropped)."""
    one = _int_in(low, high)

    def parse(text: str) -> list[int]:
        return list(dict.fromkeys(one(part.strip()) for part in text.split(",")))

    parse.__name__ = "integer list"
    return parse


def _rate_list(text: str) -> list[float]:
    """An argparse type: comma-separated learning rates, numbers in (0, LR_MAX]."""
    rates = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            value = math.nan
        if not 0 < value <= LR_MAX:
            raise argparse.ArgumentTypeError(
                f"must be numbers above 0 and at most {LR_MAX:g}, got {part.strip()!r}")
        rates.append(value)
    return list(dict.fromkeys(rates))


def _results_file(text: str) -> str:
    """An argparse type: a file the grid can read and append to (its rows are checked against
    the grid by the command, which knows the seeds and steps)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a file, got an empty string")
    path = Path(text)
    try:
        exists, folder_exists = _lookup(path), _lookup(path.parent)
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(_refused(text, exc)) from None
    if not exists and path.is_symlink():
        raise argparse.ArgumentTypeError(f"{text} is a link to {os.readlink(path)}, which does "
                                         "not exist")
    if not folder_exists or not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: the folder {path.parent} does not exist")
    if exists and path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder")
    if exists and not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a regular file")
    if exists and not os.access(path, os.R_OK | os.W_OK):
        raise argparse.ArgumentTypeError(f"{text} cannot be read and appended to")
    problem = None if exists else _writable_folder(path.parent, room=0)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _trained_recipe(name: str) -> str:
    """An argparse type: the name of one recipe that trains (not the fixed weights)."""
    from .xor.recipes import RECIPES

    trainable = [n for n, r in RECIPES.items() if r.init != "goodfellow"]
    if name not in trainable:
        why = "has fixed weights and no training step" if name in RECIPES else "is not a recipe"
        raise argparse.ArgumentTypeError(f"{name!r} {why}; choose from: " + ", ".join(trainable))
    return name


def _backends() -> str:
    """jit's backends; numba's with how to install it where it is not installed."""
    from .compiler import BACKENDS
    from .compiler_numba import INSTALL

    return ", ".join(BACKENDS) + ("" if "numba" in BACKENDS else f" (numba: {INSTALL})")


def _backend(name: str) -> str:
    """An argparse type: a backend of jit that runs here, else a usage error that lists them
    (numba's says how to install it)."""
    from .compiler import BACKENDS
    from .compiler_numba import INSTALL

    if name == "numba" and name not in BACKENDS:
        raise argparse.ArgumentTypeError(f"the 'numba' backend needs numba: {INSTALL}")
    if name not in BACKENDS:
        raise argparse.ArgumentTypeError(f"unknown backend {name!r}; choose from: "
                                         + ", ".join(BACKENDS))
    return name


def _scheduler(text: str) -> str:
    """An argparse type: a Dask scheduler's address, [tcp://|tls://]HOST:PORT."""
    scheme, sep, rest = text.strip().rpartition("://")
    host, colon, port = rest.rpartition(":")
    if ((sep and scheme not in ("tcp", "tls")) or not colon or not host or not port.isdigit()
            or not 1 <= int(port) <= 65535):
        raise argparse.ArgumentTypeError(
            f"must be a Dask scheduler's address such as tcp://127.0.0.1:8786, got {text!r}")
    return text.strip()


def _add_jit(command_parser: argparse.ArgumentParser) -> None:
    """The --jit option of the commands that train many networks at once."""
    command_parser.add_argument("--jit", action="store_true",
                                help="compile the training step once (tinygrad_xor.jit) and "
                                     "run it without building graphs")


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
    p.add_argument("--seed", type=_int_in(0, SEED_MAX), default=None,
                   help=f"random seed, 0 to {SEED_MAX:,} (default: the recipe's own, a seed "
                        "that shows its typical outcome)")
    p.add_argument("--epochs", type=_int_in(1, EPOCHS_MAX), default=None,
                   help=f"number of epochs, 1 to {EPOCHS_MAX:,} (default: the recipe's own)")

    sub.add_parser("check", help="compare the blog's hand-derived gradients with autograd",
                   description="Compare, layer by layer, the blog's hand-derived gradients with "
                               "autograd's, as a table. Exit status 1 if a gradient that should "
                               "agree does not.")

    p = sub.add_parser("draw", help="write the XOR computation graphs and the network picture",
                       description="Write the XOR network's computation graphs and its network "
                                   "picture to files and print their paths.")
    p.add_argument("--out", default="tinygrad_xor_drawings", metavar="DIR", type=_out_dir,
                   help="output directory (default: ./tinygrad_xor_drawings)")
    p.add_argument("--format", default="svg", choices=["svg", "png", "pdf", "dot"],
                   help="file format (default: svg); 'dot' needs no Graphviz install")

    p = sub.add_parser("sweep", help="train many seeds at once; the fraction that solve XOR",
                       description="Train many independently seeded XOR networks of a recipe "
                                   "at once, as one batched graph, and report the fraction "
                                   "that solve XOR.")
    p.add_argument("--recipe", required=True, metavar="NAME", type=_recipe,
                   help=f"one of: {recipes}")
    p.add_argument("--seeds", type=_int_in(1, SEEDS_MAX), default=1000,
                   help=f"number of seeds, 1 to {SEEDS_MAX:,}, trained in chunks of 10,000 "
                        "(default: 1000)")
    p.add_argument("--steps", type=_int_in(1, STEPS_MAX), default=None,
                   help=f"training steps per network, 1 to {STEPS_MAX:,} (default: the "
                        "recipe's own)")
    p.add_argument("--plot", default=None, metavar="FILE", type=_plot_file,
                   help="write a plot of the final losses (needs the 'plot' extra)")
    _add_jit(p)

    p = sub.add_parser("demo", help="train XOR, check its gradients, draw its graph",
                       description="The main job in one command: train the XOR network, check "
                                   "its gradients against finite differences and the blog's, "
                                   "and draw its graphs.")
    p.add_argument("--out", default="tinygrad_xor_drawings", metavar="DIR", type=_out_dir,
                   help="where the drawings go (default: ./tinygrad_xor_drawings)")

    p = sub.add_parser("landscape", help="classify where the runs that fail XOR stalled",
                       description="Train many seeds of a recipe; at the end point of each run "
                                   "that does not solve XOR, classify it from the gradient norm "
                                   "and the Hessian's eigenvalues (strict local minimum, saddle, "
                                   "flat region, not yet stationary), print the fractions, and "
                                   "try the way out along negative curvature.")
    p.add_argument("--recipe", required=True, metavar="NAME", type=_recipe,
                   help=f"one of: {recipes}")
    p.add_argument("--seeds", type=_int_in(1, SEEDS_MAX), default=1000,
                   help=f"number of seeds, 1 to {SEEDS_MAX:,}, 10,000 at a time (default: "
                        "1000)")
    p.add_argument("--steps", type=_int_in(1, STEPS_MAX), default=None,
                   help=f"training steps per network, 1 to {STEPS_MAX:,} (default: enough for "
                        f"runs to stop moving)")
    p.add_argument("--plot", default=None, metavar="FILE", type=_plot_file,
                   help="write a plot of the spectra (needs the 'plot' extra)")
    _add_jit(p)
    p = sub.add_parser("grid", help="train every recipe x hidden size x learning rate on Dask",
                       description="Train every combination of recipe, hidden size and learning "
                                   "rate (a cell: a batched sweep of --seeds seeds) on Dask: an "
                                   "embedded local cluster, or the scheduler at --scheduler. "
                                   "Each finished cell is appended to --out at once; the same "
                                   "command again trains only the cells missing from it.")
    trainable = ", ".join(name for name, r in RECIPES.items() if r.init != "goodfellow")
    p.add_argument("--recipe", required=True, metavar="NAME[,NAME...]", type=_recipes,
                   help=f"recipes, from: {trainable}")
    p.add_argument("--hidden", type=_int_list(1, HIDDEN_MAX), default=None, metavar="N,N...",
                   help=f"hidden layer sizes, 1 to {HIDDEN_MAX:,} (default: each recipe's own)")
    p.add_argument("--lr", type=_rate_list, default=None, metavar="X,X...",
                   help=f"learning rates, above 0 and at most {LR_MAX:g} (default: each "
                        "recipe's own)")
    p.add_argument("--seeds", required=True, type=_int_in(1, SEEDS_MAX), metavar="N",
                   help=f"seeds per cell, 1 to {SEEDS_MAX:,}")
    p.add_argument("--steps", type=_int_in(1, STEPS_MAX), default=None, metavar="N",
                   help=f"training steps per network, 1 to {STEPS_MAX:,} (default: each "
                        "recipe's own)")
    _add_jit(p)
    p.add_argument("--out", required=True, metavar="FILE", type=_results_file,
                   help="the results, CSV: each finished cell is appended at once, and the "
                        "cells already there are not trained again")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_int_in(1, WORKERS_MAX), default=None, metavar="N",
                       help=f"worker processes of the local cluster, 1 to {WORKERS_MAX:,} "
                            "(default: the machine's cores)")
    where.add_argument("--scheduler", type=_scheduler, default=None, metavar="ADDRESS",
                       help="the address of a running Dask scheduler, such as "
                            "tcp://HOST:8786 (its workers need tinygrad_xor installed)")
    p.add_argument("--plot", default=None, metavar="FILE", type=_plot_file,
                   help="write the solved fraction as a heat map per recipe (needs the 'plot' "
                        "extra)")
    p = sub.add_parser("compile", help="print a recipe's training step as the code jit writes",
                       description="Write one training step of a recipe's network (its loss, "
                                   "every gradient by reverse mode, the optimizer's update) as a "
                                   "function of arrays, compile it with jit, run it once on the "
                                   "recipe's initial weights and print the generated Python.")
    p.add_argument("--recipe", required=True, metavar="NAME", type=_trained_recipe,
                   help=f"a recipe that trains, from: {trainable}")
    p.add_argument("--backend", default="auto", type=_backend, metavar="NAME",
                   help=f"jit's backend, one of: {_backends()} (default: auto)")
    for command_parser in sub.choices.values():  # for main's message on an unknown argument
        command_parser.set_defaults(command_parser=command_parser)
    return parser


@contextlib.contextmanager
def _paths_printable() -> Iterator[None]:
    """Print a path given in bytes that are not UTF-8 back as those bytes, as `ls` does, where
    the locale makes stdout strict (it was a UnicodeEncodeError after the work)."""
    stdout = sys.stdout
    if not (isinstance(stdout, io.TextIOWrapper) and stdout.errors == "strict"):
        yield
        return
    stdout.reconfigure(errors="surrogateescape")
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):  # a closed pipe, a closed stream
            stdout.reconfigure(errors="strict")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said by the command's own parser, so its usage line is the one shown
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    module_name, function_name = COMMANDS[args.command]
    command = getattr(importlib.import_module(module_name), function_name)
    try:
        with _paths_printable():
            return int(command(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
