"""The landscape study: classification of hand-made points, the batched Hessian against the
per-network one and PyTorch's, and the `tinygrad-xor landscape` command."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_xor import Value, grad, hessian
from tinygrad_xor.cli import main
from tinygrad_xor.xor import landscape, sweep
from tinygrad_xor.xor.landscape import (
    CLASSES,
    FLAT,
    MOVING,
    SADDLE,
    STRICT,
    Thresholds,
    batched_hessian,
    classify,
    escape,
    flatten,
    losses_of,
    network_hessian,
    network_loss,
    run_landscape,
    unflatten,
)
from tinygrad_xor.xor.recipes import get_recipe

PLOT = "plotting needs matplotlib: the 'plot' extra"  # the reason where it is not installed


def classify_function(f, x):
    """The class of the point ``x`` of the function ``f`` of a (2,) array."""
    x = np.asarray(x, dtype=np.float64)
    y = f(x)
    loss = float(y.data if isinstance(y, Value) else y)
    g = np.asarray(grad(f)(x))
    eig = np.linalg.eigvalsh(np.asarray(hessian(f)(x)))
    return int(classify(loss, np.linalg.norm(g), eig[None])[0])


@pytest.mark.parametrize("f, x, expected", [
    (lambda v: 1.0 + v[0] * v[0] - v[1] * v[1], [0.0, 0.0], SADDLE),      # a saddle
    (lambda v: 1.0 + v[0] * v[0] + 3.0 * v[1] * v[1], [0.0, 0.0], STRICT),  # a strict minimum
    (lambda v: 1.0 + v[0] * v[0] + v[1] ** 4, [0.0, 0.0], FLAT),         # minimum, not strict
    (lambda v: 1.0 + v[0] * v[0] + 0.0 * v[1], [0.0, 0.0], FLAT),        # a valley floor
    (lambda v: 1.0 + v[0] * v[0] + v[1] * v[1], [1.0, 0.0], MOVING),     # not stationary
])
def test_classify_hand_made_points(f, x, expected):
    assert CLASSES[classify_function(f, x)] == CLASSES[expected]


def test_classify_thresholds_are_relative():
    eig = np.array([[-1e-6, 1.0, 2.0], [-1e-2, 1.0, 2.0], [1e-6, 1.0, 2.0], [1e-2, 1.0, 2.0]])
    loss = np.ones(4)
    codes = classify(loss, np.zeros(4), eig)
    assert list(codes) == [FLAT, SADDLE, FLAT, STRICT]
    # the same points scaled by 1e-8 are classified the same
    assert list(classify(loss * 1e-8, np.zeros(4), eig * 1e-8)) == list(codes)
    # a gradient is small relative to the loss
    assert classify(1.0, 2e-3, eig[:1])[0] == MOVING
    assert classify(1.0, 2e-3, eig[:1], Thresholds(grad_rtol=1e-2))[0] == FLAT


def test_the_origin_of_the_blog_network_is_a_degenerate_saddle():
    # all weights zero: every output is 1/2, the mean of the targets, so the gradient is zero.
    # The Hessian there has rank one (only the output layer curves the loss), so second order
    # cannot tell: the point is classified flat. It is a saddle (Sprinkhuizen-Kuyper and Boers)
    # of higher order: points near it have a lower loss.
    recipe = get_recipe("blog")
    loss, g, h = batched_hessian(recipe, np.zeros((1, 9)))
    assert np.allclose(g, 0.0)
    eig = np.linalg.eigvalsh(h)
    assert np.sum(np.abs(eig) > 1e-12) == 1
    assert classify(loss, np.linalg.norm(g, axis=1), eig)[0] == FLAT
    near = 0.3 * np.random.default_rng(0).normal(size=(2000, 9))
    assert losses_of(recipe, near).min() < loss[0]


def test_flatten_round_trip():
    recipe = get_recipe("blog")
    theta = np.random.default_rng(0).normal(size=(3, 9))
    stacked = unflatten(recipe, theta)
    assert stacked["layers.0.weight"].shape == (3, 2, 2)
    assert stacked["layers.0.bias"].shape == (3, 1, 2)
    assert np.array_equal(flatten(recipe, stacked), theta)


@pytest.mark.parametrize("name", ["blog", "sigmoid-momentum", "keras", "wide-tanh-adam"])
def test_batched_hessian_equals_per_network_hessian(name):
    recipe = get_recipe(name)
    p = flatten(recipe, {k: v[None] for k, v in recipe.init_state(0).items()}).shape[1]
    theta = 2.0 * np.random.default_rng(1).normal(size=(4, p))
    loss, g, h = batched_hessian(recipe, theta)
    f = network_loss(recipe)
    for j in range(4):
        args = [w[0, 0] if key.endswith("bias") else w[0]
                for key, w in unflatten(recipe, theta[j:j + 1]).items()]
        assert loss[j] == pytest.approx(float(f(*args).data), rel=1e-12)
        np.testing.assert_allclose(h[j], network_hessian(recipe, theta[j]), rtol=1e-9,
                                   atol=1e-12 * np.abs(h[j]).max())
        np.testing.assert_allclose(h[j], h[j].T, atol=1e-15 * np.abs(h[j]).max())


def _torch_loss(recipe, torch):
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([[0.0], [1.0], [1.0], [0.0]], dtype=torch.float64)
    act = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh}[recipe.activation]

    def f(t):
        h = act(x @ t[0:4].reshape(2, 2) + t[4:6])
        out = h @ t[6:8].reshape(2, 1) + t[8:9]
        if recipe.output_activation == "sigmoid":
            out = torch.sigmoid(out)
        if recipe.loss == "bce":
            return torch.nn.functional.binary_cross_entropy(out, y)
        mse = ((out - y) ** 2).mean()
        return 0.5 * mse if recipe.loss == "half_mse" else mse

    return f


@pytest.mark.parametrize("name", ["blog", "sigmoid-momentum", "keras"])
def test_batched_hessian_equals_torch(name):
    torch = pytest.importorskip("torch")
    recipe = get_recipe(name)
    theta = 1.5 * np.random.default_rng(2).normal(size=(5, 9))
    _, g, h = batched_hessian(recipe, theta)
    f = _torch_loss(recipe, torch)
    for j in range(5):
        t = torch.tensor(theta[j], requires_grad=True)
        expected = torch.autograd.functional.hessian(f, t).numpy()
        (tg,) = torch.autograd.grad(f(t), t)
        np.testing.assert_allclose(g[j], tg.numpy(), rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(h[j], expected, rtol=1e-8, atol=1e-12 * np.abs(expected).max())


def test_escape_step_never_goes_uphill():
    recipe = get_recipe("blog")
    theta = np.vstack([np.zeros(9), 2.0 * np.random.default_rng(3).normal(size=(5, 9))])
    _, _, h = batched_hessian(recipe, theta)
    _, vec = np.linalg.eigh(h)
    stepped, trained = escape(recipe, theta, vec[:, :, 0], steps=0)
    before, after = losses_of(recipe, theta), losses_of(recipe, stepped)
    assert np.all(after <= before) and np.sum(after < before) >= 3
    assert np.array_equal(trained, stepped)


def test_run_landscape_small():
    result = run_landscape("sigmoid-momentum", 12, 300, escape_steps=50)
    n = len(result.stalled)
    assert n == int((~result.solved).sum()) and n > 0
    assert result.eigvals.shape == (n, 9) and result.eigvecs.shape == (n, 9, 9)
    assert sum(result.fractions().values()) == pytest.approx(1.0)
    assert result.escaped is not None and result.escaped.shape == (n,)


@pytest.mark.slow
def test_cli_smoke(capsys, tmp_path):
    pytest.importorskip("matplotlib", reason=PLOT)
    plot = tmp_path / "landscape.png"
    status = main(["landscape", "--recipe", "sigmoid-momentum", "--seeds", "10", "--steps",
                   "200", "--plot", str(plot)])
    out = capsys.readouterr().out
    assert status == 0
    for name in CLASSES:
        assert name in out
    assert "way out" in out
    assert plot.exists() and plot.stat().st_size > 0


def test_cli_every_run_solved(capsys):
    assert main(["landscape", "--recipe", "goodfellow", "--seeds", "3"]) == 0
    assert "nothing to classify" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["landscape"], "--recipe"),
    (["landscape", "--recipe", "nope"], "unknown recipe 'nope'"),
    (["landscape", "--recipe", "blog", "--seeds", "0"], "must be an integer from 1 to"),
    (["landscape", "--recipe", "blog", "--steps", "-5"], "must be an integer from 1 to"),
    (["landscape", "--recipe", "blog", "--seeds", "many"], "must be an integer"),
    (["landscape", "--recipe", "blog", "--plot", "x.nope"], "--plot"),
    (["landscape", "--recipe", "blog", "--bogus"], "unrecognized arguments"),
])
def test_cli_bad_options_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_plot_in_a_missing_folder_exits_2_before_training(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["landscape", "--recipe", "blog", "--seeds", "2", "--plot",
              str(tmp_path / "missing" / "x.png")])
    assert exit_info.value.code == 2
    assert "--plot" in capsys.readouterr().err


def test_run_landscape_in_chunks_equals_one_chunk():
    whole = run_landscape("sigmoid-momentum", 11, 60, escape_steps=20)
    chunked = run_landscape("sigmoid-momentum", 11, 60, escape_steps=20, chunk=4)
    assert len(chunked.stalled) > 4  # the stalled runs span several chunks
    assert np.array_equal(chunked.stalled, whole.stalled)
    np.testing.assert_allclose(chunked.theta, whole.theta, rtol=1e-12)
    np.testing.assert_allclose(chunked.eigvals, whole.eigvals, rtol=1e-9, atol=1e-12)
    assert np.array_equal(chunked.classes, whole.classes)
    for name in ("escaped", "control", "newton"):
        assert np.array_equal(getattr(chunked, name), getattr(whole, name)), name


@pytest.mark.slow
def test_cli_more_seeds_than_one_chunk_runs_to_the_report(capsys):
    # over 10,000 seeds the sweep kept no end points: a traceback after the whole training
    status = main(["landscape", "--recipe", "blog", "--seeds", "10001", "--steps", "1"])
    out = capsys.readouterr().out
    assert status == 0
    assert "seeds 0..10000" in out and "10001 do not" in out and "way out" in out


def test_cli_every_run_solved_says_that_no_plot_was_written(capsys, tmp_path):
    pytest.importorskip("matplotlib", reason=PLOT)
    plot = tmp_path / "landscape.png"
    assert main(["landscape", "--recipe", "goodfellow", "--seeds", "3", "--plot", str(plot)]) == 0
    assert f"plot: none written to {plot}, there is nothing to plot" in capsys.readouterr().out
    assert not plot.exists()


def test_run_landscape_reports_progress_of_the_training_then_of_the_way_out(record_bars,
                                                                          monkeypatch):
    bars = record_bars(sweep, landscape)
    result = run_landscape("sigmoid-momentum", 12, 300, escape_steps=50, chunk=5)
    training, way_out = bars
    assert training.desc.startswith("landscape: training") and training.unit == "step"
    assert training.total == 3 * 300 and training.counts[-1] == training.total
    assert way_out.desc == "landscape: way out" and way_out.unit == "step"
    chunks = -(-len(result.stalled) // 5)
    assert way_out.total == 3 * 50 * chunks and way_out.counts[-1] == way_out.total
    for bar in bars:  # told as the work goes, about a hundred times a run, and closed
        assert bar.closed and len(bar.counts) >= 100 and bar.counts[0] < bar.total // 50
    monkeypatch.setattr(sweep, "_progress", lambda *a, **k: pytest.fail("a bar"))
    monkeypatch.setattr(landscape, "_progress", lambda *a, **k: pytest.fail("a bar"))
    run_landscape("sigmoid-momentum", 4, 20, escape_steps=5, progress=False)


def test_cli_header_says_the_steps_that_will_run_before_running(capsys, monkeypatch):
    # it said "100 epochs" for a run of 50,000 steps, then nothing for minutes
    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(landscape, "run_landscape", stop)
    assert main(["landscape", "--recipe", "blog"]) == 130
    out = capsys.readouterr().out
    assert "50000 steps, full batch" in out and "epoch" not in out
    assert "seeds 0..999, 50000 steps each; then" in out and "50000 more steps" in out
    assert main(["landscape", "--recipe", "keras", "--seeds", "1", "--steps", "1"]) == 130
    out = capsys.readouterr().out
    assert "1 step, full batch" in out and "seed 0, 1 step each" in out


def test_cli_goodfellow_says_that_steps_are_not_used(capsys):
    assert main(["landscape", "--recipe", "goodfellow", "--seeds", "2", "--steps", "50"]) == 0
    out = capsys.readouterr().out
    assert "(--steps ignored: the Goodfellow weights are not trained)" in out
    assert "nothing to classify" in out


def test_the_landscape_figure_is_readable_at_a_column_width():
    """A documentation column is about 700 pixels wide: the figure is at most 8 inches wide
    and its text at least 10 points, so the text is at least 12 pixels high there."""
    matplotlib = pytest.importorskip("matplotlib", reason=PLOT)
    from tinygrad_xor.xor.landscape import landscape_figure

    figure = landscape_figure(run_landscape("sigmoid-momentum", 12, 300, escape_steps=0))
    assert isinstance(figure, matplotlib.figure.Figure) and figure.canvas.manager is None
    assert figure.get_size_inches()[0] <= 8
    figure.canvas.draw()  # the tick labels exist once drawn
    texts = [t for t in figure.findobj(matplotlib.text.Text) if t.get_text().strip()
             and t.get_visible()]
    assert len(texts) > 20
    assert min(t.get_fontsize() for t in texts) >= 10
    assert figure._repr_png_().startswith(b"\x89PNG")
