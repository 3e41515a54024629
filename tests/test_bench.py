"""The benchmark's correctness checks on tiny sizes, and memory staying flat while training.

No timing here: the benchmark itself (`python benchmarks/run.py`) is not part of the test run.
It lives outside the package, in benchmarks/, and is imported from there by path.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_xor import Value

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import count  # noqa: E402
import harness  # noqa: E402
import run as bench_run  # noqa: E402
import workloads  # noqa: E402


@pytest.mark.parametrize("wid", sorted(workloads.WORKLOADS))
def test_every_backend_follows_the_baseline_loss_trajectory(wid: str) -> None:
    workload = workloads.WORKLOADS[wid]
    errors = harness.check(workload, steps=4)
    assert workloads.OURS in errors or workloads.OURS_JIT in errors
    assert all(err <= 1e-9 for err in errors.values()), errors
    if workloads.OURS_JIT in workload.backends:
        assert workloads.OURS_JIT in errors
        if workloads.optional("jax") is not None and wid not in ("W1", "W3L"):
            assert "jax" in errors


JIT_ROWS = sorted(w for w in workloads.WORKLOADS if workloads.OURS_JIT in
                  workloads.WORKLOADS[w].backends)


@pytest.mark.parametrize("backend", ["numpy", "python"])
@pytest.mark.parametrize("wid", JIT_ROWS)
def test_every_compiled_row_follows_the_baseline_on_each_backend(wid: str, backend: str) -> None:
    # the check above runs jit's "auto", which picks the python backend for the tiny sizes;
    # the full sizes of W1, W5, W5' and W7 run on the numpy backend: both are checked here
    workload = workloads.WORKLOADS[wid]
    expected = np.array(workload.backends[workload.baseline](**workload.tiny)(4))
    trainer = workload.backends[workloads.OURS_JIT](**workload.tiny, backend=backend)
    got = np.array(trainer(4))
    assert workloads.jit_backend(trainer.compiled) == backend
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected) / np.maximum(1.0, np.abs(expected))) <= 1e-9
    assert trainer.compiled.traces == 1  # traced once, then run: the rows time the program


def test_the_loop_row_runs_n_steps_in_one_call() -> None:
    # W3L: one loop(7) ends where seven loop(1) calls end, and where the NumPy loop ends; a
    # call returns the last step's loss and the 9 parameters after it
    expected = workloads.w3l_numpy()(7)
    assert len(expected) == 10 and expected != workloads.w3l_numpy()(6)
    assert _rel(workloads.w3l_jit()(7), expected) <= 1e-12
    one_by_one = workloads.w3l_jit()
    for _ in range(6):
        one_by_one(1)
    assert _rel(one_by_one(1), expected) <= 1e-12


@pytest.mark.parametrize("wid", sorted(workloads.WORKLOADS))
def test_trajectories_are_not_trivial(wid: str) -> None:
    # the check would be empty if the losses did not change from step to step
    workload = workloads.WORKLOADS[wid]
    ours = workloads.OURS if workloads.OURS in workload.backends else workloads.OURS_JIT
    trainer = workload.backends[ours](**workload.tiny)
    steps = np.array([trainer(1) for _ in range(3)])  # one row per step
    assert steps.size > 0 and np.all(np.isfinite(steps))
    if wid != "W2":
        assert not np.array_equal(steps[0], steps[-1])
        assert np.any(steps != 0)


def test_a_wrong_engine_fails_the_check() -> None:
    workload = workloads.WORKLOADS["W3"]

    def wrong(seed: int = 0) -> workloads.Trainer:
        right = workloads.w3_tinygrad(seed)
        return lambda steps: [loss * (1 + 1e-8) for loss in right(steps)]

    broken = workloads.Workload(workload.id, workload.title, workload.baseline,
                            {"numpy": workloads.w3_numpy, workloads.OURS: wrong},
                            {"numpy": "", workloads.OURS: ""}, workload.targets)
    with pytest.raises(AssertionError, match="differs from numpy"):
        harness.check(broken, steps=3)


def _rel(a: object, b: object) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def test_w6_hessians_agree_to_1e_9_relative_and_are_symmetric() -> None:
    expected = np.array(workloads.w6_numpy()(3)).reshape(3, 9, 9)
    ours = np.array(workloads.w6_tinygrad()(3)).reshape(3, 9, 9)
    assert _rel(ours, expected) <= 1e-9
    assert np.allclose(ours, ours.transpose(0, 2, 1), rtol=0, atol=1e-15)
    assert np.abs(ours).max() > 1e-3  # not a zero matrix
    if workloads.optional("torch") is not None:
        torch_h = np.array(workloads.w6_torch()(3)).reshape(3, 9, 9)
        assert _rel(torch_h, expected) <= 1e-9


def test_w6_baseline_is_the_hessian_of_w3s_loss() -> None:
    # the complex-step baseline against central differences of W3's hand-written gradient
    p, _ = workloads._w6_point(0)
    h = 1e-6
    fd = np.stack([(workloads._xor_grad(*workloads._split(p + h * e, workloads._XOR_SHAPES))
                    - workloads._xor_grad(*workloads._split(p - h * e, workloads._XOR_SHAPES)))
                   / (2 * h) for e in np.eye(9)], axis=1)
    expected = np.array(workloads.w6_numpy()(1)).reshape(9, 9)
    assert _rel(expected, fd) <= 1e-6


def test_w7_hessian_vector_products_agree_to_1e_9_relative() -> None:
    tiny = workloads.WORKLOADS["W7"].tiny
    expected = np.array(workloads.w7_numpy(**tiny)(3))
    ours = np.array(workloads.w7_tinygrad(**tiny)(3))
    assert _rel(ours, expected) <= 1e-9
    if workloads.optional("torch") is not None:
        assert _rel(np.array(workloads.w7_torch(**tiny)(3)), expected) <= 1e-9


def test_w7_baseline_is_the_hessian_times_v() -> None:
    # on a tiny MLP, the complex-step product equals H v by central differences of the
    # first-order gradient along v (ours, a first-order pass: no second-order code involved)
    from tinygrad_xor import grad

    tiny = workloads.WORKLOADS["W7"].tiny
    xs, ys, shapes, p, v, _ = workloads._w7_problem(tiny["batch"], tiny["sizes"], 0)
    x, y = Value(xs, requires_grad=False), Value(ys, requires_grad=False)

    def loss(*params: Value) -> Value:
        h: object = x
        for i in range(len(params) // 2):
            h = h @ params[2 * i] + params[2 * i + 1]  # type: ignore[operator]
            if i < len(params) // 2 - 1:
                h = h.relu()  # type: ignore[attr-defined]
        return ((h - y) ** 2).mean()  # type: ignore[operator]

    def flat_grad(q: np.ndarray) -> np.ndarray:
        gs = grad(loss, argnums=tuple(range(len(shapes))))(*workloads._split(q, shapes))
        return np.concatenate([g.ravel() for g in gs])

    eps = 1e-6
    fd = (flat_grad(p + eps * v) - flat_grad(p - eps * v)) / (2 * eps)
    assert _rel(np.array(workloads.w7_numpy(**tiny)(1)), fd) <= 1e-6


def test_a_wrong_second_order_engine_fails_the_check() -> None:
    workload = workloads.WORKLOADS["W6"]

    def wrong(seed: int = 0) -> workloads.Trainer:
        right = workloads.w6_tinygrad(seed)
        return lambda steps: [h * (1 + 1e-8) + 1e-8 for h in right(steps)]

    broken = workloads.Workload(workload.id, workload.title, workload.baseline,
                                {"numpy": workloads.w6_numpy, workloads.OURS: wrong},
                                {"numpy": "", workloads.OURS: ""}, workload.targets)
    with pytest.raises(AssertionError, match="differs from numpy"):
        harness.check(broken, steps=2)


def test_w2_chain_gradient_is_exact() -> None:
    x, g = workloads.w2_tinygrad(length=1000)(1)
    assert g == pytest.approx(0.999 ** 1000, rel=1e-12)
    assert x == pytest.approx(workloads.w2_floats(length=1000)(1)[0], rel=1e-15)


def test_two_moons_shapes_and_labels() -> None:
    x, y = workloads.two_moons(100, seed=1)
    assert x.shape == (100, 2) and y.shape == (100,)
    assert sorted(set(y.tolist())) == [-1.0, 1.0] and y.sum() == 0


def test_measure_reports_medians_and_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    quick = workloads.Workload("W3", "tiny XOR", "numpy",
                           {"numpy": workloads.w3_numpy, workloads.OURS: workloads.w3_tinygrad,
                            "missing": workloads.w3_numpy},
                           {"numpy": "", workloads.OURS: "", "missing": "no_such_module_xyz"},
                           {"numpy": 1e9}, block=3)
    result = harness.measure(quick, repeat=3, log=lambda line: None)
    assert set(result.medians) == {"numpy", workloads.OURS}
    assert all(len(s) == 3 and min(s) > 0 for s in result.samples.values())
    assert result.notes == ["W3: missing is not installed; skipped"]
    text = harness.table([result])
    assert "| W3 | numpy |" in text and "<= 1e+09 | yes |" in text


def test_jax_fori_loop_compiles_its_loop_once() -> None:
    # the timed rounds call the loop again and again: none of them may compile it anew
    pytest.importorskip("jax")
    loop = workloads.w3l_jax_fori()
    for steps in (1, 2, 3):
        loop(steps)
    assert loop.jitted._cache_size() == 1


def test_measure_times_the_compiled_row_and_its_first_call() -> None:
    quick = workloads.Workload("W3", "tiny XOR", "numpy",
                               {"numpy": workloads.w3_numpy, workloads.OURS_JIT: workloads.w3_jit},
                               {"numpy": "", workloads.OURS_JIT: ""}, {},
                               first_calls={workloads.OURS_JIT: workloads.w3_jit_first_call},
                               first_call_target=10.0, block=3)
    result = harness.measure(quick, repeat=3, log=lambda line: None)
    assert set(result.medians) == {"numpy", workloads.OURS_JIT}
    first = result.extra[f"{workloads.OURS_JIT} first call"]
    assert first.jit and first.target == "<= 10000 ms" and first.met == "yes"
    assert len(result.notes) == 1 and result.notes[0].startswith(
        "W3: tinygrad_xor (jit) runs on jit's ") and "(asked for 'auto')" in result.notes[0]


def test_the_first_calls_are_timed_on_fresh_functions() -> None:
    # each call traces anew: a second first call is not a cached program's call
    for first_call in (workloads.w3_jit_first_call, workloads.w6_jit_first_call):
        assert first_call() > 0 and first_call() > 0
    if workloads.optional("jax") is not None:
        assert workloads.w3_jax_first_call() > 0


def test_the_table_has_jit_columns_when_a_workload_has_a_compiled_row() -> None:
    ours, compiled = workloads.OURS, workloads.OURS_JIT
    made_up = workloads.Workload("WX", "made up", "numpy", {}, {}, {"ref": 0.5},
                                 jit_targets={"ref": 0.2})
    res = harness.Result(made_up, {"numpy": 1.0, ours: 4.0, compiled: 1.0, "ref": 2.0}, {}, [])
    res.extra[f"{compiled} first call"] = harness.Extra("30.00 ms", "<= 50 ms", "yes", jit=True)
    res.extra[f"{ours} bytes/node"] = harness.Extra("177", "<= 500", "yes")
    lines = harness.table([res]).splitlines()
    assert lines[0] == ("| workload | backend | median per step | ours / this | target | met "
                        "| jit / this | target | met |")
    assert lines[2:] == [
        "| WX | numpy | 1.00 s | 4.000 |  |  | 1.000 |  |  |",
        "| WX | tinygrad_xor | 4.00 s |  |  |  | 0.250 |  |  |",
        "| WX | tinygrad_xor (jit) | 1.00 s |  |  |  |  |  |  |",
        "| WX | ref | 2.00 s | 2.000 | <= 0.5 | NO | 0.500 | <= 0.2 | NO |",
        "| WX | tinygrad_xor (jit) first call | 30.00 ms |  |  |  |  | <= 50 ms | yes |",
        "| WX | tinygrad_xor bytes/node | 177 |  | <= 500 | yes |  |  |  |"]
    # a table without a compiled row keeps its six columns
    plain = harness.Result(made_up, {"numpy": 1.0, ours: 0.4, "ref": 2.0}, {}, [])
    assert harness.table([plain]).splitlines()[2:] == [
        "| WX | numpy | 1.00 s | 0.400 |  |  |",
        "| WX | tinygrad_xor | 400.00 ms |  |  |  |",
        "| WX | ref | 2.00 s | 0.200 | <= 0.5 | yes |"]


def test_run_py_passes_its_options_to_the_harness(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake_run(workloads: object, **kwargs: object) -> list[object]:
        seen.update(kwargs, workloads=workloads)
        return []

    monkeypatch.setattr(harness, "run", fake_run)
    argv = ["--quick", "--repeat", "2", "--workloads", "w1,W3", "--no-memory", "--threads", "1",
            "--system-malloc"]
    assert bench_run.main(argv) == 0
    assert seen == {"workloads": ["W1", "W3"], "quick": True, "repeat": 2, "memory": False,
                    "threads": 1, "keep_memory": False}


@pytest.mark.parametrize("argv, message", [
    (["--workloads", "W3,W9"],
     "unknown workload W9; choose from: W1, W2, W3, W3L, W4, W5, W5', W6, W7"),
    (["--repeat", "0"], "must be a positive integer"),
])
def test_run_py_bad_arguments_exit_2_with_a_message(argv: list[str], message: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench_run.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_run_py_works_as_a_script_from_the_repository_root() -> None:
    out = subprocess.run([sys.executable, "benchmarks/run.py", "--help"], capture_output=True,
                         text=True, cwd=BENCHMARKS.parent)
    assert out.returncode == 0, out.stderr
    assert "--workloads" in out.stdout


def test_the_package_does_not_hold_the_benchmark() -> None:
    import tinygrad_xor

    package = Path(tinygrad_xor.__file__).parent
    assert not (package / "bench.py").exists()
    code = ("import sys, tinygrad_xor.cli, tinygrad_xor.xor.demo; "
            "print(sorted(m for m in sys.modules if m in ('harness', 'workloads', 'run')"
            " or 'bench' in m))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_keep_freed_memory_says_what_it_did() -> None:
    # in a child process: the setting is for the life of a process, and a test must not leave it
    code = (f"import sys; sys.path.insert(0, {str(BENCHMARKS)!r}); "
            "from harness import keep_freed_memory as k; print(k())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out.startswith("malloc: ")
    if platform.libc_ver()[0] == "glibc":
        assert "keeps freed memory" in out


@pytest.mark.slow
def test_xor_training_memory_is_flat() -> None:
    # 100,000 steps of the XOR network (tensor Values, a hand-written SGD step): each step's
    # graph is freed by reference counting, so the process does not grow after warming up.
    grown = harness.xor_memory_growth(steps=100_000, warmup=1_000)
    assert grown < 1_000_000, f"RSS grew by {grown} bytes"


def test_a_graph_left_alive_is_seen_by_the_memory_measure() -> None:
    # the measure is not blind: keeping 200,000 nodes alive shows up as megabytes
    before = harness.rss_bytes()
    x = Value(1.0)
    for _ in range(100_000):
        x = x * 0.999 + 0.001
    assert harness.rss_bytes() - before > 5_000_000
    del x


def test_chain_memory_per_node_is_under_500_bytes() -> None:
    # measured in a fresh process: the peak of forward and backward, divided by the nodes
    per_node = harness.chain_memory(workloads.OURS, 200_000)
    assert per_node is not None and 0 < per_node < 500


def test_run_names_an_unknown_workload() -> None:
    with pytest.raises(ValueError, match="unknown workload W9; choose from: W1, W2"):
        harness.run(["W9"], memory=False, keep_memory=False)


def test_count_takes_a_steps_instructions_as_the_difference_of_two_runs(monkeypatch) -> None:
    # (callgrind itself is not run here: a fake count of 1,000 + 70 per step)
    monkeypatch.setattr(count, "instructions", lambda workload, steps: 1000 + 70 * steps)
    assert count.per_step("W3", 100) == 70


def test_count_refuses_bad_arguments(capsys) -> None:
    for argv, message in ((["W9"], "invalid choice"), (["W3", "--steps", "0"], "positive")):
        with pytest.raises(SystemExit) as exit_:
            count.main(argv)
        assert exit_.value.code == 2 and message in capsys.readouterr().err
