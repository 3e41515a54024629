"""tinygrad_xor.train.fit: training, History, progress output, bad input."""

from __future__ import annotations

import builtins
import sys
import types

import numpy as np
import pytest

from tinygrad_xor import nn, optim, train
from tinygrad_xor.train import History, fit
from tinygrad_xor.xor import X, Y


def small_fit(**kwargs):
    model = nn.MLP([2, 4, 1], activation="tanh", rng=0)
    opt = optim.Adam(model.parameters(), lr=0.05)
    args = dict(loss="bce", optimizer=opt, epochs=200, progress=False)
    args.update(kwargs)
    return model, fit(model, X, Y, **args)


def test_fit_solves_xor_and_records_history(capsys):
    model, history = small_fit()
    assert isinstance(history, History)
    assert len(history.loss) == len(history.accuracy) == 200
    assert history.loss[-1] < 0.1 < history.loss[0]
    assert history.accuracy[-1] == 1.0
    np.testing.assert_array_equal(model(X).data.ravel() > 0.5, [False, True, True, False])
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""          # progress=False prints nothing


def test_fit_is_reproducible_and_y_1d_equals_2d():
    _, h1 = small_fit()
    model = nn.MLP([2, 4, 1], activation="tanh", rng=0)
    h2 = fit(model, X, Y.ravel(), loss="bce", optimizer=optim.Adam(model.parameters(), lr=0.05),
             epochs=200, progress=False)
    assert h1.loss == h2.loss


def test_minibatches_and_callable_loss():
    model = nn.MLP([2, 3, 1], rng=1)
    calls = []

    def loss(pred, target):
        calls.append(len(target))
        return ((pred - target) ** 2).mean()

    h = fit(model, X, Y, loss=loss, optimizer=optim.SGD(model.parameters(), lr=0.5),
            epochs=3, batch_size=3, progress=False)
    assert calls == [3, 1] * 3
    assert len(h.loss) == 3


def test_scalar_mlp_trains_like_tensor_mlp():
    tensor = nn.MLP([2, 2, 1], rng=3)
    scalar = nn.MLP([2, 2, 1], scalar=True, rng=3)
    ht = fit(tensor, X, Y, loss="mse", optimizer=optim.SGD(tensor.parameters(), lr=0.5),
             epochs=20, progress=False)
    hs = fit(scalar, X, Y, loss="mse", optimizer=optim.SGD(scalar.parameters(), lr=0.5),
             epochs=20, progress=False)
    np.testing.assert_allclose(hs.loss, ht.loss, rtol=0, atol=1e-12)


def test_progress_bar_shows_loss(capsys, monkeypatch):
    pytest.importorskip("tqdm", reason="the bar needs tqdm: the 'progress' extra")
    monkeypatch.setattr(train, "_output_kind", lambda: "terminal")
    small_fit(epochs=5, progress=True)
    err = capsys.readouterr().err
    assert "5/5" in err and "loss=" in err


def test_plain_progress_without_tqdm(capsys, monkeypatch):
    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError("no tqdm here")
        return real_import(name, *args, **kwargs)

    for name in [m for m in sys.modules if m.startswith("tqdm")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    monkeypatch.setattr(train, "_output_kind", lambda: "terminal")
    _, history = small_fit(epochs=20, progress=True)
    err = capsys.readouterr().err
    assert "epoch 20/20" in err and "loss" in err
    assert len(history.loss) == 20
    lines = err.splitlines()
    assert len(lines) == 10 and all("left)" in line for line in lines)  # an ETA on each


def bad_fit(X_, y_, model=None, lr=0.1, **kwargs):
    model = model or nn.MLP([2, 2, 1], rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    opt.lr = lr
    before = model.state_dict()
    with pytest.raises(ValueError) as info:
        fit(model, X_, y_, loss="mse", optimizer=opt, epochs=5, progress=False, **kwargs)
    for key, value in model.state_dict().items():   # no training step was taken
        np.testing.assert_array_equal(value, before[key])
    return str(info.value)


def test_bad_input_is_rejected_before_training():
    assert "4 samples but y has 3" in bad_fit(X, Y[:3])
    assert "expects 3 input features, X has 2" in bad_fit(X, Y, model=nn.MLP([3, 2, 1], rng=0))
    nan_X = np.array(X)
    nan_X[1, 0] = np.nan
    assert "X contains NaN" in bad_fit(nan_X, Y)
    nan_y = np.array(Y)
    nan_y[2] = np.nan
    assert "y contains NaN" in bad_fit(X, nan_y)
    assert "learning rate" in bad_fit(X, Y, lr=0.0)
    assert "learning rate" in bad_fit(X, Y, lr=-1.0)
    assert "batch_size" in bad_fit(X, Y, batch_size=0)
    assert "2-D" in bad_fit(np.zeros(4), Y)
    assert "unknown loss" in str(pytest.raises(ValueError, fit, nn.MLP([2, 1], rng=0), X, Y,
                                               loss="nope", optimizer=optim.SGD(
                                                   nn.MLP([2, 1], rng=0).parameters()),
                                               epochs=1, progress=False).value)


def test_progress_prints_nothing_where_no_one_sees_it(capsys):
    """Not a terminal, not a notebook (a pipe, a file, this test run): no bar, no lines."""
    assert train._output_kind() is None
    small_fit(epochs=5, progress=True)
    assert capsys.readouterr().err == ""


def _kernel_session(monkeypatch, shell, *, ipykernel=True):
    """Make this process look like an IPython session whose shell is ``shell``."""
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    if ipykernel:
        monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    else:
        monkeypatch.delitem(sys.modules, "ipykernel", raising=False)


def test_progress_in_any_jupyter_kernel_whatever_its_shell_is_called(monkeypatch):
    """Colab's shell class is `Shell`, not Jupyter's `ZMQInteractiveShell`: what every kernel
    (Jupyter, Colab, Kaggle, VS Code) has is ipykernel, with the shell attached to it."""
    for name in ("Shell", "ZMQInteractiveShell", "KaggleShell"):
        _kernel_session(monkeypatch, type(name, (), {"kernel": object()})())
        assert train._output_kind() == "notebook", name


def test_no_notebook_progress_without_a_running_kernel(monkeypatch):
    # IPython in a terminal has no kernel; a shell whose kernel has gone, or no ipykernel
    _kernel_session(monkeypatch, type("TerminalInteractiveShell", (), {})())
    assert train._output_kind() is None  # stderr is not a terminal in this test run
    _kernel_session(monkeypatch, type("ZMQInteractiveShell", (), {"kernel": None})())
    assert train._output_kind() is None
    _kernel_session(monkeypatch, type("Shell", (), {"kernel": object()})(), ipykernel=False)
    assert train._output_kind() is None
    _kernel_session(monkeypatch, None)  # IPython imported, no session
    assert train._output_kind() is None


def test_a_progress_bar_of_any_unit_with_tqdm_options(capsys, monkeypatch):
    pytest.importorskip("tqdm", reason="the bar is tqdm's: the 'progress' extra")
    monkeypatch.setattr(train, "_output_kind", lambda: "terminal")
    bar = train._progress(40, desc="sweep", unit="step", mininterval=0)
    for _ in range(4):
        bar.update(10)
    bar.close()
    err = capsys.readouterr().err
    # mininterval=0: every update is drawn, whatever the time it took
    for n in (10, 20, 30, 40):
        assert f"{n}/40" in err
    assert "sweep" in err and "step/s" in err


@pytest.mark.parametrize("scalar", [False, True])
@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.5),
    lambda ps: optim.SGD(ps, lr=0.5, momentum=0.9),
    lambda ps: optim.Adam(ps, lr=0.05),
])
def test_fit_with_jit_trains_as_without(make, scalar):
    results = []
    for jit in (False, True):
        model = nn.MLP([2, 3, 1], activation="relu", rng=3, scalar=scalar)
        opt = make(model.parameters())
        history = fit(model, X, Y, loss="mse", optimizer=opt, epochs=120, batch_size=3,
                      progress=False, jit=jit)
        results.append((history, model.state_dict()))
    (h0, s0), (h1, s1) = results
    np.testing.assert_allclose(h1.loss, h0.loss, rtol=1e-10)
    assert h1.accuracy == h0.accuracy
    for key in s0:
        np.testing.assert_allclose(s1[key], s0[key], rtol=1e-10, atol=1e-12)


def test_fit_with_jit_needs_a_rule_it_can_compile():
    class Plain(optim.Optimizer):
        def step(self):
            for p in self.params:
                p.data = p.data - self.lr * p.grad

    model = nn.MLP([2, 2, 1], rng=0)
    with pytest.raises(TypeError, match="fit\\(jit=True\\): Plain"):
        fit(model, X, Y, loss="mse", optimizer=Plain(model.parameters(), lr=0.1), epochs=1,
            progress=False, jit=True)
    with pytest.raises(TypeError, match="jit"):
        fit(model, X, Y, loss="mse", optimizer=optim.SGD(model.parameters()), epochs=1,
            progress=False, jit="yes")
