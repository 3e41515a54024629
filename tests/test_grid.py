"""The grid: `tinygrad_xor.xor.grid` and `tinygrad-xor grid` (small grids, few seeds and steps).

The file, serial runs and the argument checks need no Dask. The cluster tests (a LocalCluster
of 2 workers; a scheduler and a worker started as `dask scheduler` / `dask worker` would be,
on 127.0.0.1) are skipped where the `distributed` extra is not installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tinygrad_xor.cli import main
from tinygrad_xor.xor import cluster, grid
from tinygrad_xor.xor.grid import (
    COLUMNS,
    Cell,
    GridFileError,
    make_cells,
    read_results,
    run_grid,
    train_cell,
)
from tinygrad_xor.xor.recipes import RECIPES, get_recipe
from tinygrad_xor.xor.sweep import run_sweep

try:
    import distributed  # noqa: F401
    HAS_DASK = True
except ImportError:
    HAS_DASK = False
needs_dask = pytest.mark.skipif(not HAS_DASK, reason="needs the 'distributed' extra (Dask)")

#: 2 recipes x 2 hidden sizes x 2 learning rates: 8 cells of a fraction of a second each.
CELLS = make_cells(["sigmoid-momentum", "keras"], hidden=[2, 3], lr=[0.1, 0.5], seeds=40,
                   steps=60)
ARGS = ["grid", "--recipe", "sigmoid-momentum,keras", "--hidden", "2,3", "--lr", "0.1,0.5",
        "--seeds", "40", "--steps", "60"]


def results_of(path: Path) -> tuple[str, list[list[str]]]:
    """(header, rows without the seconds column, sorted): what a grid's file says about its
    cells; the rows come in the order the cells finished, and the seconds vary."""
    header, *lines = path.read_text().splitlines()
    return header, sorted(line.split(",")[:-1] for line in lines)


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> Path:
    """The grid of CELLS trained one cell after another in this process."""
    path = tmp_path_factory.mktemp("serial") / "serial.csv"
    run_grid(CELLS, out=path)
    return path


@pytest.fixture(scope="module")
def client():
    """A client on a LocalCluster of 2 workers, as the command makes it; made where another
    Dask cluster of this process has left Dask's malloc setting and 3 BLAS threads in the
    environment (a Dask nanny writes its variables into its process's environment)."""
    if not HAS_DASK:
        pytest.skip("needs the 'distributed' extra (Dask)")
    left = {"MALLOC_TRIM_THRESHOLD_": "65536", "OPENBLAS_NUM_THREADS": "3"}
    saved = {name: os.environ.get(name) for name in left}
    os.environ.update(left)
    try:
        with grid.local_cluster(2) as c:
            c.environ_after_start = {name: os.environ.get(name) for name in left}
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            yield c
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _worker_environ():
    import os

    return {name: os.environ.get(name) for name in ("MALLOC_TRIM_THRESHOLD_",
                                                   "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}


@needs_dask
def test_the_local_workers_run_without_dasks_malloc_setting_and_one_blas_thread(client):
    import dask

    environs = client.run(_worker_environ)
    assert len(environs) == 2
    assert set(map(tuple, map(dict.values, environs.values()))) == {(None, "1", "1")}
    # Dask's value was dropped from this process's environment, the BLAS one put back, and
    # Dask's settings are its own again for any other cluster
    assert client.environ_after_start == {"MALLOC_TRIM_THRESHOLD_": None,
                                          "OPENBLAS_NUM_THREADS": "3"}
    assert dask.config.get("distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_") \
        == 65536


# -- recipes with a hidden size and a learning rate --------------------------------------------


def test_a_variant_changes_the_hidden_size_and_the_learning_rate_only():
    base = get_recipe("sigmoid-momentum")
    v = base.variant(hidden=5, lr=0.25)
    assert v.sizes == (2, 5, 1) and v.lr == 0.25 and v.hidden == 5
    assert (v.momentum, v.loss, v.init, v.epochs, v.name) == (base.momentum, base.loss,
                                                               base.init, base.epochs, base.name)
    assert base.variant() == base and base.sizes == (2, 2, 1)
    assert v.init_state(0)["layers.0.weight"].shape == (2, 5)


@pytest.mark.parametrize("kwargs, message", [
    ({"hidden": 0}, "hidden must be an integer >= 1"),
    ({"hidden": 2.5}, "hidden must be an integer >= 1"),
    ({"hidden": True}, "hidden must be an integer >= 1"),
    ({"lr": 0.0}, "lr must be a finite number > 0"),
    ({"lr": float("nan")}, "lr must be a finite number > 0"),
])
def test_a_variant_checks_its_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        get_recipe("keras").variant(**kwargs)


def test_the_goodfellow_weights_have_no_variant():
    with pytest.raises(ValueError, match="fixed weights"):
        get_recipe("goodfellow").variant(hidden=3)
    with pytest.raises(ValueError, match="no training"):
        make_cells("goodfellow")


def test_a_cell_is_the_sweep_of_its_variant():
    cell = Cell("wide-tanh-adam", 3, 0.02, 30, 40)
    sweep = run_sweep(get_recipe("wide-tanh-adam").variant(hidden=3, lr=0.02), 30, 40,
                      progress=False)
    result = train_cell(cell)
    assert result.cell == cell
    assert result.solved == sweep.success_rate
    assert result.median_loss == float(np.median(sweep.final_loss))


def test_a_diverged_run_counts_as_an_infinite_loss():
    result = train_cell(Cell("keras", 2, 100.0, 20, 200))  # lr 100: every run overflows
    assert result.median_loss == float("inf") and result.solved == 0.0


def test_a_worker_with_another_version_refuses_the_cell():
    with pytest.raises(RuntimeError, match="install the same version on every worker"):
        train_cell(CELLS[0], version="0.0.0-other")


def test_cells_are_every_combination_with_the_recipes_own_defaults():
    assert [(c.recipe, c.hidden, c.lr) for c in CELLS] == [
        ("sigmoid-momentum", 2, 0.1), ("sigmoid-momentum", 2, 0.5),
        ("sigmoid-momentum", 3, 0.1), ("sigmoid-momentum", 3, 0.5),
        ("keras", 2, 0.1), ("keras", 2, 0.5), ("keras", 3, 0.1), ("keras", 3, 0.5)]
    own = make_cells(["blog", "wide-tanh-adam"], seeds=7)
    assert own == [Cell("blog", 2, 0.1, 7, RECIPES["blog"].epochs),
                   Cell("wide-tanh-adam", 8, 0.05, 7, RECIPES["wide-tanh-adam"].epochs)]


# -- the results file ------------------------------------------------------------------------


def test_the_file_has_a_header_and_one_exact_row_per_cell(serial):
    header, *lines = serial.read_text().splitlines()
    assert header == ",".join(COLUMNS) and len(lines) == len(CELLS)
    results = read_results(serial)
    assert [r.cell for r in results] == CELLS  # serially, the rows come in the grid's order
    for r in results:
        assert r.solved == train_cell(r.cell).solved  # floats written exactly (repr)
        assert 0.0 <= r.solved <= 1.0 and r.seconds >= 0


def test_run_grid_returns_the_results_in_the_order_of_the_cells(serial, monkeypatch):
    real_open = open

    def read_only(file, mode="r", *args, **kwargs):
        assert "r" in mode and "+" not in mode, f"{file} opened with mode {mode!r}"
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", read_only)  # a finished grid's file is only read
    again = run_grid(CELLS[::-1], out=serial)  # every cell is in the file: none is trained
    assert [r.cell for r in again] == CELLS[::-1]


def test_the_progress_bar_counts_the_cells(serial, tmp_path, capsys):
    pytest.importorskip("tqdm", reason="the bar is tqdm's: the 'progress' extra")
    path = tmp_path / "bar.csv"
    path.write_text("\n".join(serial.read_text().splitlines()[:7]) + "\n")  # 6 cells done
    run_grid(CELLS, out=path, progress=True)
    err = capsys.readouterr().err
    assert "grid:  75%" in err and "6/8" in err and "8/8" in err
    assert "keras h3 lr 0.5: " in err and "% solved" in err  # the last cell done


def test_a_file_with_rows_missing_is_completed_with_only_those_cells(serial, tmp_path,
                                                                     monkeypatch):
    header, *lines = serial.read_text().splitlines()
    kept = [lines[0], lines[2], lines[5], lines[7]]
    path = tmp_path / "partial.csv"
    # the last line cut short, as a crash in the middle of a write would leave it
    path.write_text("\n".join([header, *kept]) + "\n" + lines[4][:12])
    trained = []

    def spy(cell, version=None, jit=False):
        trained.append(cell)
        return train_cell(cell, version, jit)

    monkeypatch.setattr(grid, "train_cell", spy)
    run_grid(CELLS, out=path)
    assert sorted(trained, key=CELLS.index) == [CELLS[i] for i in (1, 3, 4, 6)]
    text = path.read_text().splitlines()
    assert text[:5] == [header, *kept]  # the rows already there are left as they were
    assert results_of(path) == results_of(serial)


def test_a_file_of_another_grid_is_refused(serial, capsys):
    other = make_cells(["sigmoid-momentum"], hidden=[2], lr=[0.1], seeds=41, steps=60)
    before = serial.read_text()
    with pytest.raises(GridFileError, match="holds the rows of another grid: line 2 is "
                                            "sigmoid-momentum with 40 seeds and 60 steps"):
        run_grid(other, out=serial)
    args = ARGS.copy()
    args[args.index("--steps") + 1] = "61"
    err = refusal([*args, "--out", str(serial)], capsys)
    assert "another grid" in err and "61 steps" in err
    assert serial.read_text() == before


@pytest.mark.parametrize("text", ["a,b\n1,2\n", "recipe,hidden,lr\n", "\x00\xff\xfe"])
def test_a_file_that_is_not_a_grid_file_is_refused(text, tmp_path, capsys):
    path = tmp_path / "other.csv"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(GridFileError, match="not a grid results file"):
        run_grid(CELLS, out=path)
    assert "not a grid results file" in refusal([*ARGS, "--out", str(path)], capsys)
    assert path.read_bytes() == text.encode("latin-1")


def test_a_row_that_cannot_be_read_is_refused_with_its_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(",".join(COLUMNS) + "\nkeras,2,0.1,40,60,half,0.1,1.0\n")
    with pytest.raises(GridFileError, match="line 2: not a row of grid results"):
        read_results(path)


# -- the command: its checks, the table and the plot -------------------------------------------


def refusal(argv, capsys) -> str:
    """Run the command, which must exit 2 with its usage line; returns what it printed."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: tinygrad-xor grid" in err
    return err


@pytest.mark.parametrize("change, message", [
    (["--recipe", "goodfellow"], "'goodfellow' has fixed weights and no training"),
    (["--recipe", "keras,nope"], "'nope' is not a recipe; choose from: blog, keras"),
    (["--recipe", "keras,"], "'' is empty"),
    (["--hidden", "2,0"], "from 1 to 1,000, got 0"),
    (["--hidden", "2,x"], "got 'x'"),
    (["--lr", "0"], "above 0 and at most 100, got '0'"),
    (["--lr", "0.1,-1"], "got '-1'"),
    (["--lr", "nan"], "got 'nan'"),
    (["--lr", "1e9"], "got '1e9'"),
    (["--seeds", "0"], "from 1 to 1,000,000, got 0"),
    (["--steps", "100001"], "from 1 to 100,000"),
    (["--workers", "0"], "from 1 to 1,000, got 0"),
    (["--workers", "2", "--scheduler", "127.0.0.1:8786"], "not allowed with argument"),
    (["--scheduler", "somewhere"], "such as tcp://127.0.0.1:8786, got 'somewhere'"),
    (["--scheduler", "http://127.0.0.1:8786"], "got 'http://127.0.0.1:8786'"),
    (["--scheduler", "127.0.0.1:99999"], "got '127.0.0.1:99999'"),
    (["--plot", "x.bmpq"], "must end in one of"),
])
def test_every_option_is_checked_before_anything_starts(change, message, tmp_path, capsys):
    if "--plot" in change:
        pytest.importorskip("matplotlib", reason="--plot needs matplotlib: the 'plot' extra")
    argv = [*ARGS, "--out", str(tmp_path / "r.csv")]
    for i in range(0, len(change), 2):
        if change[i] in argv:
            argv[argv.index(change[i]) + 1] = change[i + 1]
        else:
            argv += change[i:i + 2]
    assert message in refusal(argv, capsys)
    assert not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize("out, message", [
    ("", "must name a file, got an empty string"),
    ("{tmp}", "is a folder"),
    ("{tmp}/nowhere/r.csv", "the folder {tmp}/nowhere does not exist"),
    ("/proc/r.csv", "cannot create a file in /proc"),
])
def test_a_bad_out_is_refused(out, message, tmp_path, capsys):
    err = refusal([*ARGS, "--out", out.format(tmp=tmp_path)], capsys)
    assert message.format(tmp=tmp_path) in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any file")
def test_an_out_that_cannot_be_written_is_refused(tmp_path, capsys):
    path = tmp_path / "r.csv"
    path.write_text(",".join(COLUMNS) + "\n")
    path.chmod(0o444)
    assert "cannot be read and appended to" in refusal([*ARGS, "--out", str(path)], capsys)


def test_without_dask_the_command_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    def no_dask():
        raise RuntimeError("the grid needs Dask: pip install 'tinygrad_xor[distributed]'")

    monkeypatch.setattr(cluster, "distributed_module", no_dask)
    err = refusal([*ARGS, "--out", str(tmp_path / "r.csv")], capsys)
    assert "pip install 'tinygrad_xor[distributed]'" in err


def test_a_finished_grid_prints_its_table_and_draws_its_plot(serial, tmp_path, capsys,
                                                              monkeypatch):
    pytest.importorskip("matplotlib", reason="plotting needs matplotlib: the 'plot' extra")
    monkeypatch.setattr(cluster, "distributed_module",
                        lambda: pytest.fail("nothing to train, no cluster"))
    plot = tmp_path / "grid.png"
    assert main([*ARGS, "--out", str(serial), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "8 cells of 40 seeds; 8 already in" in out and "0 to train" in out
    solved = {(r.cell.recipe, r.cell.hidden, r.cell.lr): r.solved for r in read_results(serial)}
    table = out[out.index("sigmoid-momentum (60 steps, 40 seeds)"):]
    row = next(line for line in table.splitlines() if line.strip().startswith("3 "))
    assert row.split()[1:] == [f"{100 * solved['sigmoid-momentum', 3, lr]:.1f}"
                               for lr in (0.1, 0.5)]
    assert "keras (60 steps, 40 seeds)" in out and f"plot: {plot}" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.image import imread

    height, width = imread(plot).shape[:2]
    assert 400 <= width <= 1500 and height < width  # two panels side by side, docs width


DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.skipif(not (DOCS / "images" / "grid.csv").exists(),
                    reason="the real grid's file is in the repository, not in the sdist")
def test_the_docs_show_the_real_grids_table_and_heat_map():
    results = read_results(DOCS / "images" / "grid.csv")
    cells = make_cells(["keras", "sigmoid-momentum", "wide-tanh-adam"], hidden=[2, 3, 4, 8],
                       lr=[0.01, 0.03, 0.1, 0.3, 1], seeds=10_000, steps=2_000)
    assert len(results) == len(cells) and {r.cell for r in results} == set(cells)
    page = (DOCS / "grid.md").read_text()
    real = page[page.index("## A real grid"):]
    shown = real[real.index("```text\n") + len("```text\n"):]
    shown = shown[:shown.index("```")]
    by_cell = {r.cell: r for r in results}
    assert shown.strip() == grid.grid_table([by_cell[c] for c in cells])
    assert "![" in real and "(images/grid.png)" in real and (DOCS / "images/grid.png").exists()


# -- on a cluster ----------------------------------------------------------------------------


@needs_dask
@pytest.mark.slow  # a cluster of processes
def test_two_workers_give_the_serial_file(serial, client, tmp_path):
    path = tmp_path / "cluster.csv"
    results = run_grid(CELLS, client=client, out=path)
    assert [r.cell for r in results] == CELLS
    assert results_of(path) == results_of(serial)


@needs_dask
@pytest.mark.slow  # a cluster of processes
def test_the_command_on_a_local_cluster_gives_the_serial_file(serial, tmp_path, capsys):
    path = tmp_path / "cli.csv"
    assert main([*ARGS, "--out", str(path), "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "a local Dask cluster of 2 worker processes (1 thread each)" in out
    assert "dashboard http://127.0.0.1:" in out and "done: 8 cells in" in out
    assert results_of(path) == results_of(serial)


def dask_process(*args: str) -> subprocess.Popen:
    """`dask scheduler` or `dask worker` (python -m, so that no script needs to be on PATH)."""
    return subprocess.Popen([sys.executable, "-m", f"distributed.cli.dask_{args[0]}", *args[1:]],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@needs_dask
@pytest.mark.slow  # a cluster of processes
def test_a_scheduler_and_a_worker_started_by_hand_give_the_serial_file(serial, tmp_path,
                                                                        capsys):
    info = tmp_path / "scheduler.json"
    processes = [dask_process("scheduler", "--host", "127.0.0.1", "--port", "0",
                              "--no-dashboard", "--scheduler-file", str(info))]
    try:
        for _ in range(600):  # the scheduler writes its address when it listens
            if info.exists() and info.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        processes.append(dask_process("worker", address, "--host", "127.0.0.1", "--nthreads",
                                      "1", "--no-dashboard"))
        with grid.connect(address) as c:  # the worker has joined: the command sees it
            c.wait_for_workers(1)
        path = tmp_path / "scheduler.csv"
        assert main([*ARGS, "--out", str(path), "--scheduler", address]) == 0
        out = capsys.readouterr().out
        assert f"the Dask scheduler at {address}" in out
        # a worker started with Dask's defaults trims malloc: the command says so
        assert "note: 1 of 1 workers run with MALLOC_TRIM_THRESHOLD_ set" in out
        assert results_of(path) == results_of(serial)

        # the scheduler goes away in the middle of a grid: the rows done are kept, the others
        # are named in one message (exit 1), without a traceback of Dask's (a process of its
        # own, so that everything it prints is seen)
        gone = tmp_path / "gone.csv"
        args = ARGS.copy()
        args[args.index("--steps") + 1] = "400"
        proc = subprocess.Popen([sys.executable, "-m", "tinygrad_xor", *args, "--out",
                                 str(gone), "--scheduler", address],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while proc.poll() is None and len(_lines(gone)) < 2:
            time.sleep(0.05)
        processes[0].kill()
        _, err = proc.communicate()
        assert proc.returncode == 1, err
        assert "cells failed (the others are done)" in err and "did its scheduler stop?" in err
        assert "Traceback" not in err and "the same command again trains the rest" in err
        rows = _lines(gone)[1:]
        assert 1 <= len(rows) < 8 and all(row.count(",") == len(COLUMNS) - 1 for row in rows)
    finally:
        for p in processes[::-1]:
            p.terminate()
            p.wait()


class FakeClient:
    """A client whose workers answer `run` with what they were given."""

    def __init__(self, answers):
        self.answers = answers

    def run(self, function):
        function()  # it runs here too
        return self.answers


def test_workers_of_a_running_cluster_are_checked_before_the_grid():
    from tinygrad_xor import __version__

    assert cluster.worker_notes(FakeClient({"tcp://a:1": (__version__, None)})) == []
    assert "no worker has joined" in cluster.worker_notes(FakeClient({}))[0]
    trim = cluster.worker_notes(FakeClient({"tcp://a:1": (__version__, "65536"),
                                          "tcp://b:1": (__version__, None)}))
    assert trim[0].startswith("1 of 2 workers run with MALLOC_TRIM_THRESHOLD_ set")
    with pytest.raises(RuntimeError, match="tcp://b:1 has tinygrad_xor 0.0.1; install"):
        cluster.worker_notes(FakeClient({"tcp://a:1": (__version__, None),
                                       "tcp://b:1": ("0.0.1", None)}))
    with pytest.raises(RuntimeError, match="tcp://a:1 does not have tinygrad_xor"):
        cluster.worker_notes(FakeClient({"tcp://a:1": (None, None)}))


@needs_dask
@pytest.mark.slow  # a cluster of processes
def test_the_grid_benchmark_checks_the_cluster_against_serial(client):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import grid_bench

    cells = grid_bench.grid_cells(5, 5)
    assert len(set(cells)) == 8
    grid_bench.check(client, seeds=5, steps=5)
    assert grid_bench.dispatch_seconds(client, n=2) == pytest.approx(0, abs=60)


@needs_dask
def test_an_unreachable_scheduler_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 0.5)
    with socket.socket() as sock:  # bound, not listening: the port is ours and refuses
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"
        assert main([*ARGS, "--out", str(tmp_path / "r.csv"), "--scheduler", address]) == 1
    err = capsys.readouterr().err
    assert f"no Dask scheduler answered at {address} within 0.5 s" in err
    assert "Traceback" not in err
    assert not (tmp_path / "r.csv").exists()


@needs_dask
@pytest.mark.slow  # a cluster of processes
def test_a_killed_workers_cell_is_run_again(client, tmp_path):
    cells = make_cells("sigmoid-momentum", hidden=[2, 3], lr=[0.5], seeds=200, steps=1500)
    reference = tmp_path / "serial.csv"
    run_grid(cells, out=reference)
    killed: list[tuple[str, int]] = []
    done = threading.Event()

    def executing(dask_worker):
        return [str(ts.key) for ts in dask_worker.state.executing]

    def kill_a_worker_in_the_middle_of_a_cell():
        while not done.is_set() and not killed:
            for worker, keys in client.run(executing).items():
                cells_running = [k for k in keys if k.startswith("grid-cell-")]
                if cells_running:
                    pid = client.run(os.getpid, workers=[worker])[worker]
                    os.kill(pid, signal.SIGKILL)
                    killed.append((cells_running[0], pid))
                    return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_worker_in_the_middle_of_a_cell)
    killer.start()
    try:
        path = tmp_path / "killed.csv"
        run_grid(cells, client=client, out=path)
    finally:
        done.set()
        killer.join()
    assert killed, "no cell was seen running"
    key, pid = killed[0]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    runs = client.run_on_scheduler(
        lambda dask_scheduler: sum(1 for t in dask_scheduler.story(key) if t[2] == "processing"))
    assert runs >= 2  # sent to a worker, which died; sent again
    assert results_of(path) == results_of(reference)
    # the worker started again in its place leaves a Ctrl-C to the grid, as the first ones do
    client.wait_for_workers(2)
    assert set(client.run(lambda: signal.getsignal(signal.SIGINT)).values()) == {signal.SIG_IGN}


@needs_dask
@pytest.mark.slow  # a cluster of processes
def test_ctrl_c_keeps_the_finished_rows_and_closes_the_cluster_quietly(tmp_path):
    path = tmp_path / "interrupted.csv"
    args = ARGS.copy()
    args[args.index("--steps") + 1] = "400"  # slower cells, so that there is some left to stop
    argv = [sys.executable, "-m", "tinygrad_xor", *args, "--out", str(path), "--workers", "2"]
    # Ctrl-C as a terminal's job gets it: SIGINT not ignored (it is, in a job started in the
    # background), and a process group of its own
    wrapper = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
               "os.execv(sys.argv[1], sys.argv[1:])")
    proc = subprocess.Popen([sys.executable, "-c", wrapper, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        while proc.poll() is None and len(_lines(path)) < 2:  # the header and a first cell
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: every process of the group
        out, err = proc.communicate()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, (out, err)
    assert err == "interrupted\n"
    rows = _lines(path)
    assert 2 <= len(rows) <= 8 and all(row.count(",") == len(COLUMNS) - 1 for row in rows)
    for _ in range(100):  # the workers are gone too (they may take a moment to exit)
        if not _alive_in_group(proc.pid):
            break
        time.sleep(0.1)
    assert not _alive_in_group(proc.pid)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _alive_in_group(group: int) -> list[int]:
    """The processes of a process group that are running (not zombies waiting to be reaped)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[2]) == group and fields[0] != "Z":
                alive.append(int(stat.parent.name))
    return alive
