"""Recipes and the command line: `tinygrad-xor train`, `check`, `sweep` (small sizes)."""

from __future__ import annotations

import builtins
import pickle

import numpy as np
import pytest

from tinygrad_xor.cli import main
from tinygrad_xor.train import predict
from tinygrad_xor.xor import X, blog, solved, sweep
from tinygrad_xor.xor.recipes import RECIPES, get_recipe, train_recipe
from tinygrad_xor.xor.sweep import run_sweep

PLOT = "plotting needs matplotlib: the 'plot' extra"  # the reason where it is not installed


@pytest.mark.parametrize("name", list(RECIPES))
def test_train_command_prints_truth_table(name, capsys):
    assert main(["train", "--recipe", name, "--epochs", "5", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert f"recipe {name}" in out
    assert "x1  x2  target" in out and "final loss" in out and "solves XOR:" in out
    assert len([line for line in out.splitlines() if line.strip().startswith(("0 ", "1 "))]) == 4


@pytest.mark.parametrize("argv", [["train", "--recipe", "nope"],
                                  ["sweep", "--recipe", "nope", "--seeds", "2"]])
def test_unknown_recipe_exits_2_and_lists_names(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"usage: tinygrad-xor {argv[0]}" in err and "unknown recipe 'nope'" in err
    for name in RECIPES:
        assert name in err


def test_get_recipe_names_the_known_ones():
    with pytest.raises(ValueError, match="choose from"):
        get_recipe("nope")


def test_goodfellow_recipe_is_exact(capsys):
    assert main(["train", "--recipe", "goodfellow"]) == 0
    out = capsys.readouterr().out
    assert "final loss (MSE): 0 " in out and "solves XOR: yes" in out
    assert "1.0000" in out and "0.0000" in out


def test_blog_recipe_is_the_corrected_post_algorithm():
    """SGD at eta on ½·MSE is the post's update with the correct gradient (faithful=False)."""
    model, history = train_recipe("blog", seed=3)
    W, b = blog.init_params([2, 2, 1], 3)
    for _ in range(100):
        W, b, _, _ = blog.backprop_iter(blog.X, blog.y, W, b, 0.1, faithful=False)
    state = model.state_dict()
    np.testing.assert_allclose(state["layers.0.weight"], W[1].T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(state["layers.1.weight"], W[2].T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(state["layers.0.bias"], b[1].ravel(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(state["layers.1.bias"], b[2].ravel(), rtol=0, atol=1e-12)
    assert len(history.loss) == 100
    assert not solved(predict(model(X)))              # like the post, it does not solve XOR


def test_keras_recipe_settings():
    r = get_recipe("keras")
    assert (r.sizes, r.activation, r.output_activation, r.loss, r.optimizer, r.lr, r.epochs) == \
        ((2, 2, 1), "relu", None, "mse", "sgd", 0.01, 300)
    state = r.init_state(0)
    limit = np.sqrt(6 / 4)
    assert np.all(np.abs(state["layers.0.weight"]) <= limit)
    assert np.all(state["layers.0.bias"] == 0) and np.all(state["layers.1.bias"] == 0)
    model, _ = train_recipe(r, seed=0)
    assert not solved(predict(model(X)))


@pytest.mark.parametrize("seed", range(3))
def test_reliable_recipe_solves(seed):
    model, history = train_recipe("wide-tanh-adam", seed=seed)
    assert solved(predict(model(X))) and history.accuracy[-1] == 1.0


@pytest.mark.parametrize("name", ["blog", "keras", "sigmoid-momentum", "wide-tanh-adam"])
def test_sweep_equals_training_each_seed_alone(name):
    seeds = [0, 5, 11]
    result = run_sweep(name, seeds, steps=30)
    for j, seed in enumerate(seeds):
        model, history = train_recipe(name, seed=seed, epochs=30)
        for key, value in model.state_dict().items():
            np.testing.assert_allclose(result.state_dict(j)[key], value, rtol=0, atol=1e-10)
        np.testing.assert_allclose(result.outputs[j], predict(model(X)).ravel(), atol=1e-10)
        assert result.solved[j] == solved(predict(model(X)))
        assert result.curves[0, j] == pytest.approx(history.loss[0], rel=1e-6)


def test_sweep_goodfellow_and_shapes():
    result = run_sweep("goodfellow", 7)
    assert result.success_rate == 1.0 and np.all(result.final_loss == 0.0)
    result = run_sweep("blog", 50, steps=10, curve_points=4)
    assert result.final_loss.shape == (50,) and result.outputs.shape == (50, 4)
    assert result.curves.shape == (4, 50) and list(result.curve_steps) == [0, 3, 6, 9]
    assert result.success_rate == 0.0


def test_sweep_command(capsys, tmp_path):
    assert main(["sweep", "--recipe", "wide-tanh-adam", "--seeds", "20", "--steps", "300"]) == 0
    out = capsys.readouterr().out
    assert "solved XOR: 20 of 20 (100.00%)" in out and "final loss" in out


def test_sweep_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib", reason=PLOT)
    path = tmp_path / "sweep.png"
    assert main(["sweep", "--recipe", "keras", "--seeds", "30", "--steps", "20",
                 "--plot", str(path)]) == 0
    assert path.exists() and path.stat().st_size > 1000
    assert str(path) in capsys.readouterr().out


def test_sweep_plot_that_cannot_be_written_exits_1_with_a_message(capsys, tmp_path,
                                                                  monkeypatch):
    pytest.importorskip("matplotlib", reason=PLOT)
    from tinygrad_xor.xor import sweep

    def disk_full(result, path):
        raise OSError("No space left on device")

    monkeypatch.setattr(sweep, "plot_sweep", disk_full)
    path = tmp_path / "sweep.png"
    assert main(["sweep", "--recipe", "blog", "--seeds", "3", "--steps", "2",
                 "--plot", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"tinygrad-xor sweep: error: cannot write the plot {path}: No space left" in err


def test_sweep_plot_without_matplotlib(capsys, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_mpl(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mpl)
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--recipe", "blog", "--seeds", "3", "--steps", "2",
              "--plot", str(tmp_path / "x.png")])
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert "pip install 'tinygrad_xor[plot]'" in err
    assert out == ""  # said before the sweep ran, not after


@pytest.mark.parametrize("command, plot", [("sweep", "plot_sweep"),
                                           ("landscape", "plot_landscape")])
def test_the_plot_file_is_checked_once_by_the_parser(command, plot, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib", reason=PLOT)
    import importlib

    from matplotlib.backend_bases import FigureCanvasBase

    kinds, asked = FigureCanvasBase.get_supported_filetypes, []
    monkeypatch.setattr(FigureCanvasBase, "get_supported_filetypes",
                        staticmethod(lambda: asked.append(1) or kinds()))
    module = importlib.import_module(f"tinygrad_xor.xor.{command}")
    monkeypatch.setattr(module, plot, lambda result, path: path)  # no figure drawn
    assert main([command, "--recipe", "blog", "--seeds", "2", "--steps", "2",
                 "--plot", str(tmp_path / "x.png")]) == 0
    assert asked == [1]  # the command checked it again


def test_the_figures_class_is_the_study_modules_and_sweep_still_names_it():
    pytest.importorskip("matplotlib", reason=PLOT)
    from tinygrad_xor.xor import study

    assert sweep.InlineFigure is study.InlineFigure
    assert study.InlineFigure.__module__ == "tinygrad_xor.xor.study"
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        sweep.Nope  # noqa: B018


def test_check_command_exit_status(capsys):
    assert main(["check"]) == 0
    assert "agrees" in capsys.readouterr().out


@pytest.mark.parametrize("name, message", [("x.unknownext", "must end in one of"),
                                           ("x.bmpq", "must end in one of"),
                                           ("no_such_folder/x.png", "does not exist"),
                                           ("a_file/x.png", "does not exist"),
                                           ("d.png", "is a folder")])
def test_sweep_plot_path_is_checked_before_the_sweep(name, message, capsys, tmp_path):
    pytest.importorskip("matplotlib", reason=PLOT)
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "d.png").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--recipe", "blog", "--seeds", "3", "--steps", "2",
              "--plot", str(tmp_path / name)])
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert message in err and out == ""


def test_a_sweep_in_chunks_equals_one_batched_graph():
    """Chunks change the memory, not the result: every seed trains as if alone."""
    whole = run_sweep("sigmoid-momentum", 25, steps=40)
    chunked = run_sweep("sigmoid-momentum", 25, steps=40, chunk=7, keep_weights=True)
    np.testing.assert_allclose(chunked.final_loss, whole.final_loss, rtol=1e-12)
    np.testing.assert_allclose(chunked.outputs, whole.outputs, rtol=1e-12)
    assert np.array_equal(chunked.solved, whole.solved)
    for key, w in whole.weights.items():
        np.testing.assert_allclose(chunked.weights[key], w, rtol=1e-12)
    assert chunked.curves.shape == (whole.curves.shape[0], 7)  # the first chunk's curves
    np.testing.assert_allclose(chunked.curves, whole.curves[:, :7], rtol=1e-6)
    assert run_sweep("blog", 25, steps=2, chunk=7).weights == {}  # several chunks: not kept


def test_the_sweep_plot_leaves_pyplot_alone(tmp_path):
    matplotlib = pytest.importorskip("matplotlib", reason=PLOT)
    from tinygrad_xor.xor.sweep import plot_sweep, sweep_figure

    backend = matplotlib.get_backend()
    result = run_sweep("keras", 12, steps=5)
    figure = sweep_figure(result)
    assert isinstance(figure, matplotlib.figure.Figure)
    assert figure.canvas.manager is None  # not one of pyplot's figures
    plot_sweep(result, str(tmp_path / "s.svg"))
    assert matplotlib.get_backend() == backend and (tmp_path / "s.svg").stat().st_size > 1000


def test_train_header_says_what_runs(capsys):
    assert main(["train", "--recipe", "blog", "--epochs", "7"]) == 0
    assert "7 epochs" in capsys.readouterr().out
    assert main(["train", "--recipe", "sigmoid-momentum", "--epochs", "3"]) == 0
    assert "seed 2 (the recipe's default: a typical run)" in capsys.readouterr().out


def test_recipe_default_seeds_show_the_typical_outcome():
    for name, typical in [("blog", False), ("keras", False), ("sigmoid-momentum", True),
                          ("wide-tanh-adam", True)]:
        model, _ = train_recipe(name, seed=None)
        assert bool(solved(predict(model(X)))) == typical


def test_the_sweep_figure_draws_itself_as_png_without_pyplot():
    """What Jupyter calls to show a cell's last line: a PNG, with or without pyplot's inline
    backend (which, once imported, registers its own drawing for every Figure)."""
    pytest.importorskip("matplotlib", reason=PLOT)
    from tinygrad_xor.xor.sweep import sweep_figure

    figure = sweep_figure(run_sweep("keras", 6, steps=5))
    png = figure._repr_png_()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    again = pickle.loads(pickle.dumps(figure))  # the class is found by its module's name
    assert type(again) is type(figure) and again._repr_png_().startswith(b"\x89PNG")




@pytest.mark.parametrize("seeds, chunk", [(10, 10_000), (25, 10)])
def test_a_sweep_reports_progress_step_by_step(seeds, chunk, record_bars):
    # a sweep of 10,000 seeds or fewer showed no bar; more showed one over the chunks only
    bars = record_bars(sweep)
    run_sweep("blog", seeds, steps=250, chunk=chunk)
    (bar,) = bars
    chunks = -(-seeds // chunk)
    assert bar.unit == "step" and bar.total == 250 * chunks and bar.closed
    assert bar.counts[-1] == bar.total
    # about a hundred updates a chunk, the first after a few steps of the first chunk
    assert 100 * chunks <= len(bar.counts) <= 130 * chunks and bar.counts[0] <= 3
    assert bar.counts == sorted(bar.counts)


def test_a_sweep_without_progress_or_steps_has_no_bar(record_bars):
    bars = record_bars(sweep)
    run_sweep("blog", 3, steps=20, progress=False)
    run_sweep("goodfellow", 3)
    assert bars == []


def test_sweep_bar_on_a_terminal(capsys, monkeypatch):
    pytest.importorskip("tqdm", reason="the bar is tqdm's: the 'progress' extra")
    from tinygrad_xor import train

    monkeypatch.setattr(train, "_output_kind", lambda: "terminal")
    run_sweep("blog", 4, steps=200)
    err = capsys.readouterr().err
    assert "sweep" in err and "200/200" in err and "step/s" in err
    assert err.count("\r") > 50  # drawn at each of its updates, however fast the steps


def test_sweep_header_says_steps_before_the_work(capsys, monkeypatch):
    said = []
    real = sweep.run_sweep

    def run_sweep_after_the_header(*args, **kwargs):
        said.append(capsys.readouterr().out)
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep, "run_sweep", run_sweep_after_the_header)
    assert main(["sweep", "--recipe", "sigmoid-momentum", "--seeds", "1", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 step, full batch" in said[0] and "epoch" not in said[0]
    assert "seed 0, 1 step each, one batched graph" in out
    assert main(["sweep", "--recipe", "keras", "--seeds", "2"]) == 0
    assert "300 steps, full batch" in said[1] and "seeds 0..1, 300 steps each" in \
        capsys.readouterr().out


def test_sweep_goodfellow_says_that_steps_are_not_used(capsys):
    # `--steps 50` was ignored silently: the Goodfellow weights are not trained
    assert main(["sweep", "--recipe", "goodfellow", "--seeds", "3", "--steps", "50"]) == 0
    out = capsys.readouterr().out
    assert "(--steps ignored: the Goodfellow weights are not trained)" in out
    assert "seeds 0..2, 0 steps each" in out
    assert main(["sweep", "--recipe", "goodfellow", "--seeds", "3"]) == 0
    assert "ignored" not in capsys.readouterr().out


def test_describe_counts_in_steps_or_epochs_one_or_many():
    recipe = get_recipe("blog")
    assert "100 epochs, full batch" in recipe.describe()
    assert "1 epoch, full batch" in recipe.describe(1)
    assert "1 step, full batch" in recipe.describe(1, unit="step")
    assert "50000 steps, full batch" in recipe.describe(50_000, unit="step")
