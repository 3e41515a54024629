"""The grid benchmark: an 8-cell grid on a local Dask cluster of 2 workers against the same
cells trained one after another in this process.

Usage: python benchmarks/grid_bench.py [--quick] [--repeat N] [--workers N] [--dask-malloc].
It needs the ``distributed`` extra (Dask). The 8 cells are 2 recipes x 2 hidden sizes x 2
learning rates of 10,000 seeds x 2,000 steps (``--quick``: 2,000 x 500). The serial grid and
the cluster grid run interleaved, ``--repeat`` times each, after the cluster has started and
every worker has run a cell (so imports and the cluster's start are not in the times); the
table gives the median wall time of each and the ratio. Two overheads of the cluster are
measured apart: the time to dispatch a cell (64 cells of 1 seed x 1 step, on the cluster
against in this process) and the slowdown of a cell's own sweep on a worker (the seconds
the sweeps report, summed, against the serial run's). ``--dask-malloc`` adds a cluster whose
workers keep Dask's default ``MALLOC_TRIM_THRESHOLD_=65536``, the setting the grid removes.
First, as every benchmark here does, it checks that the cluster's results equal the serial
ones. The benchmark is a tool of the repository, not part of the installed package.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from tinygrad_xor.xor import cluster as dask_cluster
from tinygrad_xor.xor import grid
from tinygrad_xor.xor.grid import Cell, CellResult, make_cells, run_grid

__all__ = ["grid_cells", "check", "time_grid", "dispatch_seconds", "run"]

SIZES = {"full": (10_000, 2_000), "quick": (2_000, 500)}


def grid_cells(seeds: int, steps: int) -> list[Cell]:
    """The benchmark's 8 cells: 2 recipes x 2 hidden sizes x 2 learning rates."""
    return make_cells(["sigmoid-momentum", "wide-tanh-adam"], hidden=[2, 4], lr=[0.1, 0.5],
                      seeds=seeds, steps=steps)


def _outcome(results: Sequence[CellResult]) -> list[tuple[Cell, float, float]]:
    return [(r.cell, r.solved, r.median_loss) for r in results]


def check(client: Any, seeds: int = 20, steps: int = 30) -> None:
    """AssertionError unless the cluster's results of a small grid equal the serial ones."""
    cells = grid_cells(seeds, steps)
    serial, cluster = run_grid(cells), run_grid(cells, client=client)
    if _outcome(serial) != _outcome(cluster):
        raise AssertionError(f"the cluster's results differ from the serial ones:\n"
                             f"  serial:  {_outcome(serial)}\n  cluster: {_outcome(cluster)}")


def time_grid(cells: Sequence[Cell], client: Any = None) -> tuple[float, float]:
    """(wall seconds of the grid, the cells' own seconds summed: what their sweeps took);
    ``client`` may be a pool of plain processes (`_Pool`)."""
    start = time.perf_counter()
    if isinstance(client, _Pool):
        results = client.map_cells(cells)
    else:
        results = run_grid(cells, client=client)
    return time.perf_counter() - start, sum(r.seconds for r in results)


def dispatch_seconds(client: Any, n: int = 64) -> float:
    """Seconds the cluster adds to a cell: n cells of 1 seed x 1 step on it, less the same
    cells in this process, per cell (with 1 worker busy at a time, as in a real grid the
    dispatch overlaps other cells' work)."""
    cells = [Cell("sigmoid-momentum", 2, 0.5 + i / 1000, 1, 1) for i in range(n)]
    here, _ = time_grid(cells)
    there = min(time_grid([Cell(c.recipe, c.hidden, c.lr + 0.5, 1, 1) for c in cells],
                          client)[0] for _ in range(2))
    return (there - here) / n


@contextlib.contextmanager
def _dask_default_cluster(workers: int) -> Iterator[Any]:
    """A LocalCluster as Dask makes it by default (MALLOC_TRIM_THRESHOLD_=65536), on
    127.0.0.1, processes of one thread."""
    from dask.distributed import Client, LocalCluster

    with dask_cluster.quiet_dask(), dask_cluster.ctrl_c_ignored():
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address="127.0.0.1:0",
                               silence_logs=logging.CRITICAL)
    with cluster, Client(cluster) as client:
        yield client


class _Pool:
    """``workers`` plain processes (concurrent.futures, no Dask) with the local cluster's
    settings: spawned, BLAS on one thread, no MALLOC_TRIM_THRESHOLD_. Not a Dask client:
    `time_grid` calls its `map_cells`."""

    def __init__(self, workers: int) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        saved = {k: os.environ.get(k) for k in [*_ONE_THREAD, "MALLOC_TRIM_THRESHOLD_"]}
        os.environ.update(_ONE_THREAD)
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)  # a Dask nanny of this process may
        try:                                            # have left Dask's value there
            self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(
                "spawn"))
            list(self.pool.map(grid.train_cell, [Cell("wide-tanh-adam", 2, 0.1 + i / 100, 10,
                                                      10) for i in range(2 * workers)]))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def map_cells(self, cells: Sequence[Cell]) -> list[CellResult]:
        """The cells' results, biggest first, as the grid orders them on a cluster."""
        order = sorted(cells, key=lambda c: -c.cost)
        return list(self.pool.map(grid.train_cell, order))

    def close(self) -> None:
        self.pool.shutdown()


_ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


@contextlib.contextmanager
def _plain_pool(workers: int) -> Iterator[_Pool]:
    pool = _Pool(workers)
    try:
        yield pool
    finally:
        pool.close()


def _warm(client: Any, workers: int) -> None:
    """Every worker imports tinygrad_xor and runs one small cell."""
    client.wait_for_workers(workers)
    run_grid([Cell("wide-tanh-adam", 2, 0.1 + i / 100, 10, 10) for i in range(4 * workers)],
             client=client)


def _blas_one_thread() -> str:
    """NumPy's BLAS on one thread in this process, as on the workers (threadpoolctl, the
    ``bench`` extra); says what was done."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return "BLAS threads: as they are (threadpoolctl is not installed)"
    threadpool_limits(1)
    return "BLAS: 1 thread here and on the workers"


def _fmt(seconds: float) -> str:
    if math.isnan(seconds):
        return ""
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1e3:.1f} ms"


def run(*, quick: bool = False, repeat: int = 3, workers: int = 2, dask_malloc: bool = False,
        plain: bool = False, size: tuple[int, int] | None = None,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    """Check, then time the grid serially and on the cluster(s); print the table. ``size``:
    (seeds, steps) of a cell instead of SIZES'."""
    seeds, steps = size or SIZES["quick" if quick else "full"]
    cells = grid_cells(seeds, steps)
    log(_blas_one_thread())
    clusters: dict[str, Callable[[], Any]] = {
        f"{workers} workers": lambda: grid.local_cluster(workers)}
    if dask_malloc:
        clusters[f"{workers} workers, Dask's malloc setting"] = (
            lambda: _dask_default_cluster(workers))
    if plain:
        clusters[f"{workers} plain processes, no Dask"] = lambda: _plain_pool(workers)
    times: dict[str, list[float]] = {"serial": []}
    busy: dict[str, list[float]] = {"serial": []}
    extra: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        clients = {}
        for name, make in clusters.items():
            start = time.perf_counter()
            clients[name] = stack.enter_context(make())
            times[name], busy[name] = [], []
            if isinstance(clients[name], _Pool):
                extra[f"{name}: start"] = time.perf_counter() - start
                extra[f"{name}: dispatch"] = math.nan
                continue
            _warm(clients[name], workers)
            extra[f"{name}: start"] = time.perf_counter() - start
            log(f"{name}: started and warmed in {_fmt(extra[f'{name}: start'])}; checking "
                "its results against the serial ones ...")
            check(clients[name])
            extra[f"{name}: dispatch"] = dispatch_seconds(clients[name])
        for r in range(repeat):
            order = ["serial", *clients]
            for name in order if r % 2 == 0 else order[::-1]:
                wall, own = time_grid(cells, clients.get(name))
                times[name].append(wall)
                busy[name].append(own)
                log(f"round {r + 1}/{repeat}: {name} {_fmt(wall)} (the cells' sweeps: "
                    f"{_fmt(own)})")
    serial = statistics.median(times["serial"])
    serial_busy = statistics.median(busy["serial"])
    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, NumPy {np.__version__}, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end")
    print(f"grid: {len(cells)} cells (sigmoid-momentum and wide-tanh-adam, hidden 2 and 4, lr "
          f"0.1 and 0.5) of {seeds:,} seeds x {steps:,} steps; median of {repeat} "
          f"interleaved run{'s' * (repeat > 1)}")
    print()
    print("| run | wall time | the cells' sweeps, summed | wall / serial | per cell on a "
          "worker / serially | dispatch per cell | cluster start |")
    print("|---|---|---|---|---|---|---|")
    print(f"| serial, this process | {_fmt(serial)} | {_fmt(serial_busy)} | 1 | | | |")
    for name in clients:
        wall, own = statistics.median(times[name]), statistics.median(busy[name])
        print(f"| {name} | {_fmt(wall)} | {_fmt(own)} | {wall / serial:.2f} | "
              f"{own / serial_busy:.2f} | {_fmt(extra[f'{name}: dispatch'])} | "
              f"{_fmt(extra[f'{name}: start'])} |")
    return {"times": times, "busy": busy, "extra": extra}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks/grid_bench.py",
                                description="An 8-cell grid on a local Dask cluster against "
                                            "the same cells serially.")
    p.add_argument("--quick", action="store_true", help="2,000 seeds x 500 steps a cell")
    p.add_argument("--repeat", type=int, default=3, metavar="N",
                   help="interleaved runs of each (default: 3)")
    p.add_argument("--workers", type=int, default=2, metavar="N",
                   help="worker processes (default: 2)")
    p.add_argument("--dask-malloc", action="store_true",
                   help="also a cluster with Dask's default MALLOC_TRIM_THRESHOLD_=65536")
    p.add_argument("--plain", action="store_true",
                   help="also the cells on plain processes without Dask (what running two "
                        "at once costs on this machine, apart from Dask)")
    args = p.parse_args(argv)
    if args.repeat < 1 or args.workers < 1:
        p.error("--repeat and --workers must be >= 1")
    try:
        run(quick=args.quick, repeat=args.repeat, workers=args.workers,
            dask_malloc=args.dask_malloc, plain=args.plain)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # the workers are spawned processes: they import this file
    sys.exit(main())
