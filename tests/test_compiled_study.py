"""tinygrad_xor.xor.compiled: each recipe's training step as a function of arrays equals the
recipe's own network and optimizer, and compiled by jit (every backend built) equals it run
eagerly; what `tinygrad-xor compile` prints is that step's code."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tinygrad_xor import Value, jit
from tinygrad_xor.compiler import BACKENDS
from tinygrad_xor.xor import X, Y
from tinygrad_xor.xor.compiled import (
    argument_names,
    compile_step,
    initial_arguments,
    network_loss,
    stacked_arguments,
    training_step,
)
from tinygrad_xor.xor.recipes import RECIPES

TRAINED = [name for name, r in RECIPES.items() if r.init != "goodfellow"]


def _data(x):
    return x.data if isinstance(x, Value) else x


def eager_steps(step, args, n):
    """``n`` calls of ``step`` run eagerly (building graphs), each on the last results."""
    for _ in range(n):
        args = tuple(_data(x) for x in step(*args))
    return args


def recipe_steps(name, n):
    """The recipe's own network and optimizer after ``n`` full-batch steps: its parameters."""
    recipe = RECIPES[name]
    model = recipe.build(recipe.default_seed)
    opt = recipe.make_optimizer(model.parameters())
    loss_fn = recipe.loss_fn()
    for _ in range(n):
        opt.zero_grad()
        loss_fn(model(X), Y).backward()
        opt.step()
    return [p.data for p in model.parameters()]


def assert_close(got, want, rtol=1e-12):
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert type(a) is type(b) or (isinstance(a, np.ndarray) and isinstance(b, np.ndarray))
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-300)


@pytest.mark.parametrize("name", TRAINED)
def test_the_step_run_eagerly_is_the_recipes_own_optimizer_step(name):
    args = initial_arguments(name)
    n_params = len(recipe_steps(name, 0))
    for n in (1, 5):
        got = eager_steps(training_step(name), args, n)
        assert_close(list(got[:n_params]), recipe_steps(name, n))


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "vector"])
@pytest.mark.parametrize("name", TRAINED)
def test_the_compiled_step_equals_the_eager_step(name, backend):
    step = training_step(name)
    args = initial_arguments(name)
    compiled = jit(step, backend=backend)
    assert_close(compiled(*args), eager_steps(step, args, 1))
    assert_close(compiled.loop(20, *args), eager_steps(step, args, 20))
    assert compiled.traces == 1


@pytest.mark.skipif("vector" not in BACKENDS, reason="jit's vector backend is not built")
@pytest.mark.parametrize("name", TRAINED)
def test_the_compiled_step_of_a_batch_equals_the_eager_step_of_each_network(name):
    step = training_step(name)
    seeds = [0, 1, 2]
    batch = stacked_arguments(name, seeds)
    compiled = jit(step, backend="vector")
    for n, got in ((1, compiled(*batch)), (20, compiled.loop(20, *batch))):
        for j, seed in enumerate(seeds):
            want = eager_steps(step, initial_arguments(name, seed), n)
            assert_close([np.asarray(g[j]) for g in got], [np.asarray(w) for w in want])
    assert compiled.traces == 1


@pytest.mark.parametrize("name", TRAINED)
def test_the_compiled_training_equals_the_recipes_own(name):
    """Up to 300 steps of the recipe: the relu masks of keras change as it trains. Adam's
    rounding differences (a rule's two forms, see test_jit) grow over the steps, hence 1e-11."""
    n = min(RECIPES[name].epochs, 300)
    compiled = jit(training_step(name))
    got = compiled.loop(n, *initial_arguments(name))
    want = recipe_steps(name, n)
    assert_close(list(got[:len(want)]), want, rtol=1e-11)
    assert compiled.traces == 1


@pytest.mark.parametrize("name", TRAINED)
def test_the_arguments_are_the_weights_then_the_optimizers_state(name):
    recipe = RECIPES[name]
    names, args = argument_names(name), initial_arguments(name)
    state = recipe.init_state(recipe.default_seed)
    assert names[:len(state)] == list(state) and len(names) == len(args)
    for key, arg in zip(state, args, strict=False):
        np.testing.assert_array_equal(arg, state[key])
    rest = args[len(state):]
    if recipe.optimizer == "adam":
        assert names[-1] == "t" and rest[-1] == 0.0 and len(rest) == 2 * len(state) + 1
    elif recipe.momentum:
        assert names[len(state)].startswith("velocity.") and len(rest) == len(state)
    else:
        assert not rest
    assert all(not np.any(r) for r in rest)  # the state starts at zeros


def test_the_loss_is_the_recipes_loss_of_its_network():
    recipe = RECIPES["blog"]
    model = recipe.build(recipe.default_seed)
    loss = network_loss("blog")(*model.parameters())
    assert loss.data == recipe.loss_fn()(model(X), Y).data


def test_the_goodfellow_recipe_has_no_step():
    for make in (training_step, initial_arguments, argument_names, compile_step):
        with pytest.raises(ValueError, match="goodfellow: fixed weights, no training step"):
            make("goodfellow")


@pytest.mark.parametrize("backend", BACKENDS)
def test_compile_step_traces_once_and_counts_the_code(backend):
    step = compile_step("keras", backend=backend)
    assert step.compiled.traces == 1 and step.seed == 0
    assert_close(step.results, eager_steps(training_step("keras"), step.arguments, 1))
    head = step.header().splitlines()
    assert head[0].startswith("recipe keras: 2-2-1, relu hidden")
    assert f"backend {backend}" in head[1] and "seed 0's" in head[1]
    batch = "1, " if backend == "vector" else ""
    assert re.fullmatch(rf"  x0 +layers\.0\.weight +shape \({batch}2, 2\)", head[3])
    code = step.source.split("\n\n")[0].splitlines()
    assert code[0].startswith("def keras_step(") and code[-1].startswith("    return (")
    ops = [x for x in code[1:-1] if not x.lstrip().startswith("del ")]
    assert step.operations() == len(ops) > 20
    what = "assignments, each value used once" if step.compiled.backend_used in (
        "python", "vector") else "operations, one a line"
    assert head[-1].startswith(f"{len(code)} lines: {len(ops)} {what}")
    if backend == "auto":
        assert "backend auto, which chose python" in head[1]


def test_a_saturated_prediction_gives_the_eager_step():
    step = training_step("sigmoid-momentum")
    compiled = jit(step)
    args = initial_arguments("sigmoid-momentum")
    compiled(*args)  # traced where no prediction saturates
    saturated = list(args)
    saturated[3] = np.array([50.0])  # the output bias: every prediction is exactly 1.0
    with np.errstate(all="ignore"):
        assert_close(compiled(*saturated), eager_steps(step, tuple(saturated), 1))


@pytest.mark.parametrize("name", ["blog", "keras", "sigmoid-momentum", "wide-tanh-adam"])
def test_sweep_with_jit_solves_the_same_seeds(name):
    from tinygrad_xor.xor.sweep import run_sweep

    eager = run_sweep(name, 300, 150, progress=False)
    compiled = run_sweep(name, 300, 150, progress=False, jit=True)
    assert np.array_equal(compiled.solved, eager.solved)
    # the same operations in the same order; Adam divides as a * b ** -1 on Values
    np.testing.assert_allclose(compiled.final_loss, eager.final_loss, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(compiled.curves, eager.curves, rtol=1e-6)


def test_the_study_commands_take_jit(capsys, tmp_path):
    from tinygrad_xor.cli import main

    assert main(["sweep", "--recipe", "keras", "--seeds", "50", "--steps", "30", "--jit"]) == 0
    assert "solved XOR" in capsys.readouterr().out
    assert main(["landscape", "--recipe", "blog", "--seeds", "5", "--steps", "30",
                 "--jit"]) == 0
    pytest.importorskip("dask.distributed", reason="the grid needs the 'distributed' extra")
    from tinygrad_xor.xor.grid import make_cells, run_grid

    cells = make_cells(["keras"], hidden=[2], lr=[0.5], seeds=40, steps=20)
    a = run_grid(cells, jit=True)
    b = run_grid(cells)
    assert [r.solved for r in a] == [r.solved for r in b]
