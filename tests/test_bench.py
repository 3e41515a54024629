"""The benchmark's correctness checks on tiny sizes, and memory staying flat while training.

No timing here: the benchmark itself (`tinygrad-xor bench`) is not part of the test run.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import pytest

from tinygrad_xor import Value, bench


@pytest.mark.parametrize("wid", sorted(bench.WORKLOADS))
def test_every_backend_follows_the_baseline_loss_trajectory(wid: str) -> None:
    workload = bench.WORKLOADS[wid]
    errors = bench.check(workload, steps=4)
    assert bench.OURS in errors
    assert all(err <= 1e-9 for err in errors.values()), errors


@pytest.mark.parametrize("wid", sorted(bench.WORKLOADS))
def test_trajectories_are_not_trivial(wid: str) -> None:
    # the check would be empty if the losses did not change from step to step
    workload = bench.WORKLOADS[wid]
    losses = workload.backends[bench.OURS](**workload.tiny)(3)
    assert len(losses) in (3, 6) and all(np.isfinite(losses))
    if wid != "W2":
        assert losses[0] != losses[-1]


def test_a_wrong_engine_fails_the_check() -> None:
    workload = bench.WORKLOADS["W3"]

    def wrong(seed: int = 0) -> bench.Trainer:
        right = bench.w3_tinygrad(seed)
        return lambda steps: [loss * (1 + 1e-8) for loss in right(steps)]

    broken = bench.Workload(workload.id, workload.title, workload.baseline,
                            {"numpy": bench.w3_numpy, bench.OURS: wrong},
                            {"numpy": "", bench.OURS: ""}, workload.targets)
    with pytest.raises(AssertionError, match="differs from numpy"):
        bench.check(broken, steps=3)


def test_w2_chain_gradient_is_exact() -> None:
    x, g = bench.w2_tinygrad(length=1000)(1)
    assert g == pytest.approx(0.999 ** 1000, rel=1e-12)
    assert x == pytest.approx(bench.w2_floats(length=1000)(1)[0], rel=1e-15)


def test_two_moons_shapes_and_labels() -> None:
    x, y = bench.two_moons(100, seed=1)
    assert x.shape == (100, 2) and y.shape == (100,)
    assert sorted(set(y.tolist())) == [-1.0, 1.0] and y.sum() == 0


def test_measure_reports_medians_and_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    quick = bench.Workload("W3", "tiny XOR", "numpy",
                           {"numpy": bench.w3_numpy, bench.OURS: bench.w3_tinygrad,
                            "missing": bench.w3_numpy},
                           {"numpy": "", bench.OURS: "", "missing": "no_such_module_xyz"},
                           {"numpy": 1e9}, block=3)
    result = bench.measure(quick, repeat=3, log=lambda line: None)
    assert set(result.medians) == {"numpy", bench.OURS}
    assert all(len(s) == 3 and min(s) > 0 for s in result.samples.values())
    assert result.notes == ["W3: missing is not installed; skipped"]
    text = bench.table([result])
    assert "| W3 | numpy |" in text and "<= 1e+09 | yes |" in text


def test_bench_command_accepts_the_cli_options(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake_run(workloads: object, **kwargs: object) -> list[object]:
        seen.update(kwargs, workloads=workloads)
        return []

    monkeypatch.setattr(bench, "run", fake_run)
    args = argparse.Namespace(quick=True, repeat=2, workloads="W1,W3", no_memory=True, threads=1,
                              system_malloc=True)
    assert bench.bench_command(args) == 0
    assert seen == {"workloads": ["W1", "W3"], "quick": True, "repeat": 2, "memory": False,
                    "threads": 1, "keep_memory": False}


def test_keep_freed_memory_says_what_it_did() -> None:
    # in a child process: the setting is for the life of a process, and a test must not leave it
    import subprocess
    import sys

    code = "from tinygrad_xor.bench import keep_freed_memory as k; print(k())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out.startswith("malloc: ")
    if platform.libc_ver()[0] == "glibc":
        assert "keeps freed memory" in out


def test_xor_training_memory_is_flat() -> None:
    # 100,000 steps of the XOR network (tensor Values, a hand-written SGD step): each step's
    # graph is freed by reference counting, so the process does not grow after warming up.
    grown = bench.xor_memory_growth(steps=100_000, warmup=1_000)
    assert grown < 1_000_000, f"RSS grew by {grown} bytes"


def test_a_graph_left_alive_is_seen_by_the_memory_measure() -> None:
    # the measure is not blind: keeping 200,000 nodes alive shows up as megabytes
    before = bench.rss_bytes()
    x = Value(1.0)
    for _ in range(100_000):
        x = x * 0.999 + 0.001
    assert bench.rss_bytes() - before > 5_000_000
    del x


def test_chain_memory_per_node_is_under_500_bytes() -> None:
    # measured in a fresh process: the peak of forward and backward, divided by the nodes
    per_node = bench.chain_memory(bench.OURS, 200_000)
    assert per_node is not None and 0 < per_node < 500


def test_run_names_an_unknown_workload() -> None:
    with pytest.raises(ValueError, match="unknown workload W9; choose from: W1, W2"):
        bench.run(["W9"], memory=False, keep_memory=False)
