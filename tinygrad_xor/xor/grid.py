"""Grids of sweeps on Dask: every recipe x hidden size x learning rate, `tinygrad-xor grid`.

A cell is one batched sweep (`tinygrad_xor.xor.sweep.run_sweep`) of a recipe with a given
hidden size and learning rate (`Recipe.variant`) over seeds 0..N-1 for a number of steps, so
its result is a function of the cell alone, whichever process or machine trains it. `run_grid`
trains the cells one after another in this process, or on a Dask cluster through a
`dask.distributed.Client`; each finished cell is appended to a CSV file at once (one whole
line, flushed), and the cells already in that file are not trained again.

Dask (the ``distributed`` extra) is imported only where a cluster is made or used:
``run_grid(cells)`` without a client, the file and the plot need none of it.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import cluster
from .cluster import connect, local_cluster
from .recipes import RECIPES, Recipe, get_recipe
from .study import new_figure, write_plot
from .sweep import run_sweep

__all__ = ["Cell", "CellResult", "COLUMNS", "GridFileError", "make_cells", "train_cell",
           "read_results", "run_grid", "local_cluster", "connect", "grid_table", "plot_grid",
           "grid_figure", "grid_command"]

#: The columns of a results file, in order.
COLUMNS = ("recipe", "hidden", "lr", "seeds", "steps", "solved", "median_loss", "seconds")



class GridFileError(ValueError):
    """A results file that is not one, or that holds the rows of another grid."""


@dataclass(frozen=True)
class Cell:
    """One batched sweep: a recipe with ``hidden`` units and learning rate ``lr``, seeds
    0..``seeds``-1, ``steps`` steps each."""

    recipe: str
    hidden: int
    lr: float
    seeds: int
    steps: int

    def make_recipe(self) -> Recipe:
        """The recipe this cell trains."""
        return get_recipe(self.recipe).variant(hidden=self.hidden, lr=self.lr)

    @property
    def cost(self) -> float:
        """Its relative cost: seeds x steps x (hidden units + 2), the weights per network."""
        return float(self.seeds) * self.steps * (self.hidden + 2)

    def describe(self) -> str:
        """One line naming the cell."""
        return (f"{self.recipe} hidden {self.hidden} lr {self.lr:g} ({self.seeds:,} seeds, "
                f"{self.steps:,} steps)")


@dataclass(frozen=True)
class CellResult:
    """A trained cell: the fraction of its seeds that solve XOR, their median final loss (a
    run whose loss overflowed counts as infinite) and the seconds its sweep took."""

    cell: Cell
    solved: float
    median_loss: float
    seconds: float

    def row(self) -> list[str]:
        """The cell's line of the results file, as fields (floats exact: repr)."""
        c = self.cell
        return [c.recipe, str(c.hidden), repr(c.lr), str(c.seeds), str(c.steps),
                repr(self.solved), repr(self.median_loss), f"{self.seconds:.3f}"]


def make_cells(recipes: str | Sequence[str], *, hidden: Sequence[int] | None = None,
               lr: Sequence[float] | None = None, seeds: int = 1000,
               steps: int | None = None) -> list[Cell]:
    """Every combination of recipe, hidden size and learning rate, in that order.

    ``hidden`` and ``lr`` default to each recipe's own; ``steps`` to each recipe's epochs.
    """
    names = [recipes] if isinstance(recipes, str) else list(recipes)
    if not names:
        raise ValueError("make_cells needs at least one recipe")
    if int(seeds) < 1:
        raise ValueError(f"make_cells: seeds must be >= 1, got {seeds}")
    if steps is not None and int(steps) < 1:
        raise ValueError(f"make_cells: steps must be >= 1, got {steps}")
    cells = []
    for name in dict.fromkeys(names):
        recipe = get_recipe(name)
        if recipe.init == "goodfellow":
            raise ValueError(f"make_cells: recipe {name!r} has fixed weights and no training; "
                             "choose from: " + ", ".join(_trainable()))
        for h in dict.fromkeys(hidden or [recipe.hidden]):
            for rate in dict.fromkeys(lr or [recipe.lr]):
                variant = recipe.variant(hidden=h, lr=rate)  # checks h and rate
                cells.append(Cell(name, variant.hidden, variant.lr, int(seeds),
                                  recipe.epochs if steps is None else int(steps)))
    return cells


def _trainable() -> list[str]:
    """The recipes a grid can train (not the fixed Goodfellow weights)."""
    return [name for name, r in RECIPES.items() if r.init != "goodfellow"]


def train_cell(cell: Cell, version: str | None = None, jit: bool = False) -> CellResult:
    """Train one cell as a batched sweep (what a Dask worker runs).

    ``version``: the tinygrad_xor version of the process that made the grid; a worker with
    another one refuses the cell, since its results could differ. ``jit``: the sweep's step
    compiled (`run_sweep`).
    """
    from .. import __version__

    if version is not None and version != __version__:
        raise RuntimeError(f"this worker has tinygrad_xor {__version__}, the grid was started "
                           f"with {version}: install the same version on every worker")
    with np.errstate(all="ignore"):  # a learning rate that diverges is a result, not a warning
        result = run_sweep(cell.make_recipe(), cell.seeds, cell.steps, keep_weights=False,
                           curve_points=1, progress=False, jit=jit)
        final = np.where(np.isnan(result.final_loss), np.inf, result.final_loss)
        median = float(np.median(final))
    return CellResult(cell, result.success_rate, median, result.seconds)


# -- the results file --------------------------------------------------------------------------


def _parse(path: str | os.PathLike[str], text: str) -> tuple[list[CellResult], int]:
    """The results in a file's text, and the length of its whole lines (a last line without
    its newline was cut short by a crash: it is not a result)."""
    whole = text.rfind("\n") + 1
    lines = text[:whole].splitlines()
    if not lines:
        return [], whole
    header = next(csv.reader([lines[0]]))
    if tuple(header) != COLUMNS:
        raise GridFileError(f"{path} is not a grid results file: its first line is "
                            f"{lines[0][:60]!r}, a grid's is {','.join(COLUMNS)!r}")
    results = []
    for number, fields in enumerate(csv.reader(lines[1:]), start=2):
        try:
            if len(fields) != len(COLUMNS):
                raise ValueError(f"{len(fields)} fields")
            cell = Cell(fields[0], int(fields[1]), float(fields[2]), int(fields[3]),
                        int(fields[4]))
            results.append(CellResult(cell, float(fields[5]), float(fields[6]),
                                      float(fields[7])))
        except ValueError as exc:
            raise GridFileError(f"{path}, line {number}: not a row of grid results ({exc})") \
                from None
    return results, whole


def read_results(path: str | os.PathLike[str]) -> list[CellResult]:
    """The rows of a results file, in file order (GridFileError if it is not one)."""
    return _parse(path, Path(path).read_text(encoding="utf-8"))[0]


def _check_same_grid(path: str | os.PathLike[str], results: Sequence[CellResult],
                     cells: Sequence[Cell]) -> None:
    """GridFileError unless every row was trained with this grid's seeds and steps."""
    runs: dict[str, set[tuple[int, int]]] = {}
    for c in cells:
        runs.setdefault(c.recipe, set()).add((c.seeds, c.steps))
    all_seeds = {c.seeds for c in cells}
    for number, r in enumerate(results, start=2):
        c = r.cell
        theirs = f"{c.recipe} with {c.seeds:,} seeds and {c.steps:,} steps"
        if c.recipe in runs and (c.seeds, c.steps) not in runs[c.recipe]:
            seeds, steps = sorted(runs[c.recipe])[0]
            ours = f"{c.recipe} with {seeds:,} seeds and {steps:,} steps"
        elif c.recipe not in runs and c.seeds not in all_seeds:
            ours = f"{min(all_seeds):,} seeds"
        else:
            continue
        raise GridFileError(f"{path} holds the rows of another grid: line {number} is "
                            f"{theirs}, this grid trains {ours}; give another file, or the "
                            "same seeds and steps")


def _load(path: str | os.PathLike[str], cells: Sequence[Cell]) -> tuple[list[CellResult], int]:
    """The results already in ``path`` (none if it does not exist) and the length of its whole
    lines; GridFileError for a file of another kind or of another grid."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], 0
    except UnicodeDecodeError:
        raise GridFileError(f"{path} is not a grid results file (not UTF-8 text)") from None
    results, whole = _parse(path, text)
    _check_same_grid(path, results, cells)
    return results, whole


@contextlib.contextmanager
def _appender(path: str | os.PathLike[str] | None, whole: int) -> Iterator[Any]:
    """A function that appends one result to ``path`` as one whole line, written and flushed
    at once; the header first in a new file, a line cut short by a crash dropped."""
    if path is None:
        yield lambda result: None
        return
    with open(path, "a+", encoding="utf-8", newline="") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() != whole:       # a half line at the end: never a result, so cut it off
            f.truncate(whole)
            f.seek(whole)

        def write(fields: Sequence[str]) -> None:
            line = io.StringIO()
            csv.writer(line, lineterminator="\n").writerow(fields)
            f.write(line.getvalue())
            f.flush()
            os.fsync(f.fileno())

        if whole == 0:
            write(COLUMNS)
        yield lambda result: write(result.row())


# -- running a grid ----------------------------------------------------------------------------


def run_grid(cells: Iterable[Cell], *, client: Any = None,
             out: str | os.PathLike[str] | None = None,
             progress: bool = False, jit: bool = False) -> list[CellResult]:
    """Train every cell and return the results in the order of ``cells``.

    Args:
        cells: the cells (`make_cells` makes a grid of them); a cell given twice runs once.
        client: a `dask.distributed.Client`: the cells run on its cluster, biggest first,
            and a cell whose worker dies is run again elsewhere (Dask's retries). None: they
            run one after another in this process.
        out: a CSV file (`COLUMNS`). Each finished cell is appended at once, as one whole
            line, flushed; the cells already in it are read back, not trained again. A file
            whose rows were trained with other seeds or steps is refused (`GridFileError`).
        progress: show a bar over the cells on stderr (tqdm, if installed).
        jit: compile each cell's training step (`run_sweep`'s ``jit``).

    A cell that fails (on a cluster: its worker died more often than the scheduler allows)
    does not stop the others: when they are done, a RuntimeError names it. A KeyboardInterrupt
    cancels the cells still to run; the finished ones are in ``out``.
    """
    cells = list(dict.fromkeys(cells))
    for c in cells:
        if not isinstance(c, Cell):
            raise TypeError(f"run_grid: cells must be Cell objects, got {type(c).__name__}")
    done: dict[Cell, CellResult] = {}
    whole = 0
    if out is not None:
        earlier, whole = _load(out, cells)
        wanted = set(cells)
        for r in earlier:
            if r.cell in wanted:
                done.setdefault(r.cell, r)
    todo = [c for c in cells if c not in done]
    failed: list[tuple[Cell, BaseException]] = []
    bar = _cell_bar(len(cells), len(done)) if progress else None
    width = max((len(_last(c, 1.0)) for c in todo), default=0)  # the bar keeps its length
    try:
        with _appender(out if todo else None, whole) as append:  # nothing to add: untouched
            for cell, result in _results(todo, client, failed, jit):
                done[cell] = result
                append(result)
                if bar is not None:
                    bar.set_postfix_str(_last(cell, result.solved).ljust(width),
                                        refresh=False)
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if failed:
        reasons: dict[str, list[Cell]] = {}
        for c, exc in failed:
            reasons.setdefault(f"{type(exc).__name__}: {exc}", []).append(c)
        raise RuntimeError(f"{len(failed)} of {len(cells)} cells failed (the others are done): "
                           + "; ".join(f"{cs[0].describe()}{' and' * (len(cs) > 1)}"
                                       f"{f' {len(cs) - 1} more' * (len(cs) > 1)}: {why}"
                                       for why, cs in reasons.items()))
    return [done[c] for c in cells]


def _last(cell: Cell, solved: float) -> str:
    """The bar's note on the last cell done."""
    return f"{cell.recipe} h{cell.hidden} lr {cell.lr:g}: {solved:.0%} solved"


def _results(todo: list[Cell], client: Any, failed: list[tuple[Cell, BaseException]],
             jit: bool = False) -> Iterator[tuple[Cell, CellResult]]:
    """(cell, result) as each cell finishes; a cell that fails goes to ``failed``."""
    if client is None:
        for cell in todo:
            yield cell, train_cell(cell, None, jit)
        return
    from dask.distributed import as_completed

    from .. import __version__

    order = sorted(todo, key=lambda c: -c.cost)  # biggest first: the last ones are short
    futures = {client.submit(train_cell, cell, __version__, jit, key=_key(cell),
                             priority=len(order) - i): cell for i, cell in enumerate(order)}
    try:
        for future in as_completed(futures):
            cell = futures[future]
            if future.status == "finished":
                yield cell, future.result()
            elif future.status == "error":
                failed.append((cell, future.exception()))
            else:  # cancelled: the scheduler went away, or someone cancelled it there
                failed.append((cell, RuntimeError(f"the cluster dropped it ({future.status}: "
                                                  "did its scheduler stop?)")))
            future.release()
    finally:  # a KeyboardInterrupt, or the caller stopped: the cells still queued are dropped
        client.cancel([f for f in futures if not f.done()])


def _key(cell: Cell) -> str:
    """The cell's task name, as the dashboard shows it (unique on a shared scheduler)."""
    import uuid

    return (f"grid-cell-{cell.recipe}-h{cell.hidden}-lr{cell.lr!r}-{cell.seeds}x{cell.steps}"
            f"-{uuid.uuid4().hex[:8]}")


def _cell_bar(total: int, initial: int) -> Any:
    """A progress bar over cells on stderr with an ETA: tqdm's if installed, else None."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, desc="grid", unit="cell", file=sys.stderr,
                dynamic_ncols=True)


# -- the table and the plot --------------------------------------------------------------------


def _by_recipe(results: Sequence[CellResult]) -> dict[str, list[CellResult]]:
    groups: dict[str, list[CellResult]] = {}
    for r in results:
        groups.setdefault(r.cell.recipe, []).append(r)
    return groups


def _matrix(results: Sequence[CellResult]) -> tuple[list[int], list[float], np.ndarray]:
    """(hidden sizes, learning rates, solved fractions (hidden, lr); NaN where no cell)."""
    hidden = sorted({r.cell.hidden for r in results})
    rates = sorted({r.cell.lr for r in results})
    grid = np.full((len(hidden), len(rates)), np.nan)
    for r in results:
        grid[hidden.index(r.cell.hidden), rates.index(r.cell.lr)] = r.solved
    return hidden, rates, grid


def _runs(results: Sequence[CellResult]) -> str:
    """"2,000 steps, 10,000 seeds" for the results of one recipe."""
    runs = sorted({(r.cell.steps, r.cell.seeds) for r in results})
    return "; ".join(f"{steps:,} steps, {seeds:,} seeds" for steps, seeds in runs)


def grid_table(results: Sequence[CellResult]) -> str:
    """The percentage of seeds that solve XOR, one table per recipe (hidden x learning rate)."""
    blocks = []
    for recipe, rows in _by_recipe(results).items():
        hidden, rates, grid = _matrix(rows)
        width = max(7, *(len(f"{lr:g}") + 1 for lr in rates))
        lines = [f"{recipe} ({_runs(rows)}): % of seeds that solve XOR",
                 "hidden \\ lr" + "".join(f"{lr:>{width}g}" for lr in rates)]
        for h, values in zip(hidden, grid):
            lines.append(f"{h:>11d}" + "".join(
                f"{'-' if math.isnan(v) else f'{100 * v:.1f}':>{width}}" for v in values))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def grid_figure(results: Sequence[CellResult]) -> Any:
    """The heat maps of `plot_grid` as a `matplotlib.figure.Figure` of its own, never pyplot's
    (an `InlineFigure`: Jupyter shows it inline, pyplot imported or not)."""
    groups = _by_recipe(results)
    if not groups:
        raise ValueError("grid_figure: no results to draw")
    shapes = [_matrix(rows)[2].shape for rows in groups.values()]
    n_rows, n_cols = -(-len(groups) // 3), min(len(groups), 3)  # 3 panels a row at most
    runs = {_runs(rows) for rows in groups.values()}
    shared = runs.pop() if len(runs) == 1 else None  # said once, above the panels
    width = n_cols * (0.5 * max(s[1] for s in shapes) + 0.65) + 1.1  # fits a docs column
    height = n_rows * (0.5 * max(s[0] for s in shapes) + (1.0 if shared else 1.3)) + 0.4
    fig = new_figure(figsize=(min(width, 10.0), height), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    images = []
    for ax, (recipe, rows) in zip(axes, groups.items()):
        hidden, rates, grid = _matrix(rows)
        percent = 100 * grid
        images.append(ax.imshow(percent, origin="lower", cmap="viridis", vmin=0.0, vmax=100.0,
                                aspect="auto"))
        for i in range(len(hidden)):
            for j in range(len(rates)):
                v = percent[i, j]
                text = "–" if math.isnan(v) else f"{v:.0f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=10,
                        color="black" if not math.isnan(v) and v > 60 else "white")
        ax.set_xticks(range(len(rates)), [f"{lr:g}" for lr in rates], fontsize=10)
        ax.set_yticks(range(len(hidden)), [str(h) for h in hidden], fontsize=10)
        ax.set_xlabel("learning rate", fontsize=10)
        ax.set_ylabel("hidden units", fontsize=10)
        ax.set_title(recipe if shared else f"{recipe}\n{_runs(rows)}", fontsize=11)
    for ax in axes[len(groups):]:
        ax.set_axis_off()
    if shared:
        fig.suptitle(f"% of seeds that solve XOR ({shared})", fontsize=11)
    bar = fig.colorbar(images[0], ax=list(axes), shrink=0.9)
    bar.ax.tick_params(labelsize=10)
    bar.set_label("% of seeds that solve XOR", fontsize=10)
    return fig


def plot_grid(results: Sequence[CellResult], path: str) -> str:
    """Write the solved fraction as a heat map over hidden size x learning rate, one panel per
    recipe, the percentage written in each cell (needs matplotlib)."""
    grid_figure(results).savefig(path, dpi=100)
    return path


# -- the command -------------------------------------------------------------------------------


def _count(n: int, unit: str) -> str:
    """"1 cell", "2,000 cells"."""
    return f"{n:,} {unit}" if n == 1 else f"{n:,} {unit}s"


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def grid_command(args: argparse.Namespace) -> int:
    """`tinygrad-xor grid`: train every cell of the grid on Dask, append each to --out."""
    usage_error = args.command_parser.error  # prints the usage line, exits with status 2
    cells = make_cells(args.recipe, hidden=args.hidden, lr=args.lr, seeds=args.seeds,
                       steps=args.steps)
    try:
        earlier, _ = _load(args.out, cells)
    except GridFileError as exc:
        usage_error(f"argument --out: {exc}")
    except OSError as exc:
        usage_error(f"argument --out: {args.out}: cannot be read ({exc.strerror or exc})")
    there = set(cells) & {r.cell for r in earlier}
    if len(there) < len(cells):
        try:
            cluster.distributed_module()
        except RuntimeError as exc:
            usage_error(str(exc))
    sizes = [len({getattr(c, name) for c in cells}) for name in ("recipe", "hidden", "lr")]
    print(f"grid: {_count(sizes[0], 'recipe')} x {_count(sizes[1], 'hidden size')} x "
          f"{_count(sizes[2], 'learning rate')} = {_count(len(cells), 'cell')} of "
          f"{_count(args.seeds, 'seed')}; {len(there)} already in {args.out}, "
          f"{len(cells) - len(there)} to train")
    start = time.perf_counter()
    try:
        with contextlib.ExitStack() as stack:
            if len(there) < len(cells):
                notes = []
                if args.scheduler:
                    client = stack.enter_context(connect(args.scheduler))
                    where = f"the Dask scheduler at {args.scheduler}"
                    notes = cluster.worker_notes(client)
                else:
                    client = stack.enter_context(local_cluster(args.workers))
                    n = len(client.scheduler_info()["workers"])
                    where = f"a local Dask cluster of {n} worker processes (1 thread each)"
                print(f"cluster: {where}; dashboard {cluster.dashboard(client)}")
                for note in notes:
                    print(f"note: {note}")
                sys.stdout.flush()
            else:
                client = None
            results = run_grid(cells, client=client, out=args.out,
                               progress=sys.stderr.isatty(),
                               jit=bool(getattr(args, "jit", False)))
    except ConnectionError as exc:
        print(f"tinygrad-xor grid: error: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"tinygrad-xor grid: error: {exc}", file=sys.stderr)
        print(f"the finished cells are in {args.out}; the same command again trains the rest",
              file=sys.stderr)
        return 1
    trained = [r for r in results if r.cell not in there]
    if trained:
        busy = sum(r.seconds for r in trained)
        print(f"done: {_count(len(trained), 'cell')} in {_elapsed(time.perf_counter() - start)}"
              f" (their sweeps took {_elapsed(busy)}, {busy / len(trained):.2f} s a cell)")
    print(f"results: {args.out}")
    print()
    print(grid_table(results))
    if args.plot:
        print()
        return write_plot("grid", plot_grid, results, args.plot)
    return 0
