"""What `sweep`, `landscape` and `grid` share: many networks as one stacked graph, and plots.

Many networks of a recipe run as one: their weights stacked along a leading axis (weights
``(S, in, out)``, biases ``(S, 1, out)``, `stacked_params`), the four XOR inputs go through all
S networks with one batched ``@`` per layer (`stacked_forward`). A plot is a figure of its
own (`new_figure`: a `matplotlib.figure.Figure`, never pyplot's); `check_plot_format` is the
one check of a plot file's format (the command line's ``--plot`` runs it before any work),
and `write_plot` is a command's last step. Only the plots need matplotlib.
"""

from __future__ import annotations

import functools
import io
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import Value
from ..nn import activation

if TYPE_CHECKING:
    from .recipes import Recipe

__all__ = ["stacked_params", "stacked_forward", "tick", "seeds_text", "need_matplotlib",
           "new_figure", "check_plot_format", "write_plot"]


# -- many networks as one -------------------------------------------------------------------


def stacked_params(recipe: Recipe, seeds: Sequence[int] | np.ndarray) -> list[Value]:
    """Each seed's initial weights, stacked: [W0 (S,in,out), b0 (S,1,out), W1, b1, ...]."""
    states = [recipe.init_state(np.random.default_rng(int(s))) for s in seeds]
    params = []
    for key in states[0]:
        arr = np.stack([st[key] for st in states])
        if key.endswith("bias"):
            arr = arr[:, None, :]
        params.append(Value(arr, label=key))
    return params


def stacked_forward(recipe: Recipe, params: list[Value], x: np.ndarray) -> Value:
    """All S networks on x: (S, n, out)."""
    h: Any = x
    n_layers = len(params) // 2
    hidden, output = activation(recipe.activation), activation(recipe.output_activation)
    for i in range(n_layers):
        h = h @ params[2 * i] + params[2 * i + 1]
        h = output(h) if i == n_layers - 1 else hidden(h)
    return h


def tick(bar: Any, done: int, total: int) -> None:
    """Tell ``bar`` (None: there is none) that step ``done`` of a run of ``total`` steps is
    done: it hears of them in about a hundred updates a run."""
    if bar is not None:
        every = max(1, total // 100)
        if done % every == 0:
            bar.update(every)
        elif done == total:
            bar.update(done % every)


def seeds_text(n: int) -> str:
    """"seed 0" or "seeds 0..n-1": the seeds 0..n-1 of a run, in a line of its report."""
    return "seed 0" if n == 1 else f"seeds 0..{n - 1}"


# -- plots ----------------------------------------------------------------------------------


def need_matplotlib() -> Any:
    """The matplotlib module, or a RuntimeError that says how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("plotting needs matplotlib: pip install 'tinygrad_xor[plot]'") \
            from None
    return matplotlib


def new_figure(**kwargs: Any) -> Any:
    """A `matplotlib.figure.Figure` (``kwargs`` as Figure's) of its own, never pyplot's, so the
    backend and the figures of the session are left alone, that a Jupyter kernel shows inline
    whether pyplot has been imported or not: an `InlineFigure` (needs matplotlib)."""
    need_matplotlib()
    return _inline_figure_class()(**kwargs)


@functools.cache
def _inline_figure_class() -> Any:
    from matplotlib.figure import Figure

    class InlineFigure(Figure):  # type: ignore[misc]
        """A Figure that Jupyter shows as a PNG in any kernel. A plain Figure is shown only
        once pyplot's inline backend has registered a drawing for Figures (the first
        ``import matplotlib.pyplot`` does); before that, a cell whose last line is a Figure
        printed ``<Figure size 1100x400 with 2 Axes>``. Once registered, that drawing is used
        instead of this one, as for any Figure."""

        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", bbox_inches="tight")
            return buffer.getvalue()

    InlineFigure.__module__, InlineFigure.__qualname__ = __name__, "InlineFigure"
    return InlineFigure


def __getattr__(name: str) -> Any:
    """`InlineFigure`, the class, made on first use (it needs matplotlib); pickle finds it so."""
    if name == "InlineFigure":
        return _inline_figure_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_plot_format(path: str) -> None:
    """Raise ValueError unless matplotlib can write a file named ``path`` (its suffix, and TeX
    for a .pgf); RuntimeError without matplotlib. Whether the folder takes the file is for
    the caller to check."""
    need_matplotlib()
    from matplotlib.backend_bases import FigureCanvasBase

    kinds = FigureCanvasBase.get_supported_filetypes()
    suffix = Path(path).suffix.lstrip(".").lower()
    if suffix not in kinds:
        raise ValueError(f"{path}: the file name must end in one of "
                         + ", ".join(f".{k}" for k in sorted(kinds)))
    if suffix == "pgf":  # matplotlib measures the text with TeX: found out after the work
        from matplotlib import rcParams

        if shutil.which(rcParams["pgf.texsystem"]) is None:
            raise ValueError(f"{path}: a .pgf plot needs TeX ({rcParams['pgf.texsystem']}), "
                             "which is not installed; .pdf or .svg need nothing more")


def write_plot(command: str, plot: Any, result: Any, path: str) -> int:
    """Write ``plot(result, path)`` and print where it went: the exit status of ``command``
    (1, with a message, when the file cannot be written)."""
    try:
        print(f"plot: {plot(result, path)}")
    except (RuntimeError, OSError) as exc:
        print(f"tinygrad-xor {command}: error: cannot write the plot {path}: {exc}",
              file=sys.stderr)
        return 1
    return 0
