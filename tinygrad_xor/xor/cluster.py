"""The Dask cluster of a grid: an embedded local cluster, or a running one by its address.

`local_cluster` starts worker processes on this machine (one thread each, BLAS on one thread,
Ctrl-C left to this process), `connect` reaches a scheduler within `CONNECT_TIMEOUT` seconds;
`worker_notes` says what is wrong with a cluster's workers (none, another version of the
package, Dask's malloc setting), `dashboard` where its dashboard is. Dask (the ``distributed``
extra) is imported only here, when a cluster is made or used (`distributed_module`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

#: Seconds to wait for a Dask scheduler to answer before saying it cannot be reached.
CONNECT_TIMEOUT = 5


def distributed_module() -> Any:
    """dask.distributed, or a RuntimeError saying how to install it."""
    try:
        import dask.distributed
    except ImportError:
        raise RuntimeError("the grid needs Dask: pip install 'tinygrad_xor[distributed]'") \
            from None
    return dask.distributed


@contextlib.contextmanager
def quiet_dask() -> Iterator[None]:
    """Dask's own log lines (workers stopping, connections closed) off the terminal."""
    names = [name for name in logging.root.manager.loggerDict  # Dask sets some children's
             if name.partition(".")[0] in ("distributed", "tornado", "bokeh")]  # levels too
    loggers = [logging.getLogger(name) for name in ["distributed", "tornado", "bokeh", *names]]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@contextlib.contextmanager
def local_cluster(workers: int | None = None) -> Iterator[Any]:
    """A `dask.distributed.Client` on an embedded LocalCluster of ``workers`` processes (the
    machine's cores by default) on 127.0.0.1, closed on the way out.

    Each worker is a process of one thread with its BLAS pinned to one thread, and without
    Dask's default ``MALLOC_TRIM_THRESHOLD_=65536`` (with it, glibc hands the sweep's
    temporaries back to the system at every step and a cell can run 2x slower). Dask's own
    settings are changed only while the workers start, so other clusters keep Dask's. A
    script that calls this needs the ``if __name__ == "__main__":`` guard: the workers are
    spawned and import it.
    """
    distributed = distributed_module()
    import dask

    n = (os.cpu_count() or 1) if workers is None else int(workers)
    if n < 1:
        raise ValueError(f"local_cluster: workers must be >= 1, got {workers}")
    key = "distributed.nanny.pre-spawn-environ"
    trim = dask.config.get(f"{key}.MALLOC_TRIM_THRESHOLD_", None)
    if trim is not None and os.environ.get("MALLOC_TRIM_THRESHOLD_") == str(trim):
        # Dask's value in this process's environment: a Dask nanny of this process (another
        # cluster) wrote it there, as nannies do with their variables; the workers inherit it
        del os.environ["MALLOC_TRIM_THRESHOLD_"]
    one = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    saved = {name: os.environ.get(name) for name in one}
    with quiet_dask():
        try:
            os.environ.update(one)  # Dask takes a variable set here over its own settings
            with dask.config.set({key: {"MALLOC_TRIM_THRESHOLD_": None, **one}}), \
                    ctrl_c_ignored():  # the workers start with it ignored (they inherit that)
                cluster = distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        try:
            client = distributed.Client(cluster)
            try:
                client.register_plugin(_ignore_ctrl_c_plugin(), name="tinygrad-xor-ctrl-c")
                yield client
            finally:
                client.close()
        finally:
            cluster.close()


# A Ctrl-C in a terminal goes to every process of its group, the local workers too: they
# leave it to this process, which cancels the cells and closes the cluster (else each worker
# prints a traceback of its own).


@contextlib.contextmanager
def ctrl_c_ignored() -> Iterator[None]:
    """SIGINT ignored while the local workers are spawned (a spawned process keeps that)."""
    import signal

    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to do
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _ignore_ctrl_c() -> None:
    """Ignore SIGINT in this (worker) process."""
    import signal

    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _ignore_ctrl_c_plugin() -> Any:
    """A Dask worker plugin that makes each worker, a restarted one too, ignore SIGINT."""
    from dask.distributed import WorkerPlugin

    class IgnoreCtrlC(WorkerPlugin):  # type: ignore[misc]
        def setup(self, worker: Any) -> None:
            _ignore_ctrl_c()

    return IgnoreCtrlC()


@contextlib.contextmanager
def connect(address: str, timeout: float | None = None) -> Iterator[Any]:
    """A `dask.distributed.Client` on the scheduler at ``address``, closed on the way out; a
    ConnectionError within ``timeout`` seconds (`CONNECT_TIMEOUT`) when none answers there."""
    distributed = distributed_module()
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    with quiet_dask():
        try:
            client = distributed.Client(address, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            why = "" if isinstance(exc, TimeoutError) else f" ({exc})"
            raise ConnectionError(f"no Dask scheduler answered at {address} within "
                                  f"{timeout:g} s{why}: is it running, and is the address "
                                  "right?") from None
        try:
            yield client
        finally:
            client.close()


def worker_notes(client: Any) -> list[str]:
    """What to know about a running cluster's workers before the grid starts: a RuntimeError
    for a worker without this version of tinygrad_xor; notes for none yet, and for Dask's
    default malloc setting."""
    from .. import __version__

    def facts() -> tuple[str | None, str | None]:  # runs on each worker, sent by value
        import os

        try:
            import tinygrad_xor
        except ImportError:
            return None, os.environ.get("MALLOC_TRIM_THRESHOLD_")
        return tinygrad_xor.__version__, os.environ.get("MALLOC_TRIM_THRESHOLD_")

    workers = client.run(facts)
    if not workers:
        return ["no worker has joined the scheduler yet: the cells wait for the first"]
    for address, (version, _) in sorted(workers.items()):
        if version != __version__:
            has = "does not have tinygrad_xor" if version is None else f"has tinygrad_xor {version}"
            raise RuntimeError(f"the worker at {address} {has}; install tinygrad_xor "
                               f"{__version__} on every worker")
    trimming = sum(1 for _, trim in workers.values() if trim is not None)
    if not trimming:
        return []
    return [f"{trimming} of {len(workers)} workers run with MALLOC_TRIM_THRESHOLD_ set (Dask's "
            "default is 65536), which can make a cell up to 2x slower: see 'Grids on a "
            "cluster' in the docs"]


def dashboard(client: Any) -> str:
    """The dashboard's address, and what it needs when bokeh is missing."""
    link = str(client.dashboard_link)
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return f"{link} (it needs bokeh: pip install 'tinygrad_xor[distributed]')"
    return link


