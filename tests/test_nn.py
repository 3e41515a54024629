"""tinygrad_xor.nn: layers, MLP in scalar and tensor form, state_dict, save/load."""

from __future__ import annotations

import errno
import os
import pickle
import stat
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_xor import Value, losses, nn
from tinygrad_xor.xor import X, Y


def test_linear_shapes_and_formula():
    layer = nn.Linear(3, 2, rng=0)
    assert layer.weight.shape == (3, 2) and layer.bias.shape == (2,)
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(layer(x).data, x @ layer.weight.data + layer.bias.data)
    assert [p.shape for p in layer.parameters()] == [(3, 2), (2,)]
    assert nn.Linear(3, 2, bias=False, rng=0).parameters()[0].shape == (3, 2)
    assert len(nn.Linear(3, 2, bias=False, rng=0).parameters()) == 1


def test_seeding_is_bit_for_bit():
    a = nn.MLP([2, 3, 1], rng=42).state_dict()
    b = nn.MLP([2, 3, 1], rng=np.random.default_rng(42)).state_dict()
    c = nn.MLP([2, 3, 1], rng=43).state_dict()
    for key in a:
        assert np.array_equal(a[key], b[key])
    assert not np.array_equal(a["layers.0.weight"], c["layers.0.weight"])
    with pytest.raises(TypeError, match="rng"):
        nn.Linear(2, 2, rng="seed")  # type: ignore[arg-type]


def test_parameters_order_and_state_dict_keys():
    model = nn.MLP([2, 3, 1], rng=0)
    params = model.parameters()
    assert [p.shape for p in params] == [(2, 3), (3,), (3, 1), (1,)]
    state = model.state_dict()
    assert list(state) == ["layers.0.weight", "layers.0.bias", "layers.1.weight",
                           "layers.1.bias"]
    state["layers.0.weight"][:] = 99.0          # a copy: the model is untouched
    assert not np.any(model.layers[0].weight.data == 99.0)


def test_sequential_keys_count_every_layer():
    model = nn.Sequential(nn.Linear(2, 2, rng=0), nn.ReLU(), nn.Linear(2, 1, rng=0))
    assert list(model.state_dict()) == ["layers.0.weight", "layers.0.bias", "layers.2.weight",
                                        "layers.2.bias"]
    assert len(model.layers) == 3


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu", "identity", None])
def test_scalar_and_tensor_mlp_agree(act):
    tensor = nn.MLP([2, 3, 2, 1], activation=act, output_activation="sigmoid", rng=1)
    scalar = nn.MLP([2, 3, 2, 1], activation=act, output_activation="sigmoid", scalar=True,
                    rng=7)
    scalar.load_state_dict(tensor.state_dict())
    for key, value in tensor.state_dict().items():
        np.testing.assert_array_equal(scalar.state_dict()[key], value)

    out_t = tensor(X)
    out_s = scalar(X)
    assert isinstance(out_s, list) and len(out_s) == 4
    assert all(isinstance(v, Value) and v.shape == () for v in out_s)
    np.testing.assert_allclose([v.data for v in out_s], out_t.data.ravel(), rtol=0, atol=1e-12)

    losses.mse(out_t, Y).backward()
    losses.mse(out_s, Y).backward()
    for p_t, (key, _) in zip(tensor.parameters(), tensor.state_dict().items(), strict=True):
        layer = scalar.layers[int(key.split(".")[1])]
        held = layer.weight if key.endswith("weight") else layer.bias
        grads = np.array([v.grad for v in held.flat]).reshape(held.shape)
        np.testing.assert_allclose(grads, p_t.grad, rtol=0, atol=1e-12)


def test_scalar_mlp_on_one_sample():
    model = nn.MLP([2, 2, 1], scalar=True, rng=0)
    out = model([1.0, 0.0])
    assert isinstance(out, Value) and out.shape == ()
    wide = nn.MLP([2, 2, 3], scalar=True, rng=0)
    outs = wide(np.array([1.0, 0.0]))
    assert isinstance(outs, list) and len(outs) == 3
    tensor = nn.MLP([2, 2, 3], rng=0)
    tensor.load_state_dict(wide.state_dict())
    np.testing.assert_allclose([o.data for o in outs], tensor(np.array([1.0, 0.0])).data,
                               atol=1e-12)
    # a neuron-level graph: every weight is its own leaf
    assert len(model.parameters()) == 2 * 2 + 2 + 2 + 1


def test_load_state_dict_errors_change_nothing():
    model = nn.MLP([2, 2, 1], rng=0)
    before = model.state_dict()
    bad = dict(before)
    bad["layers.0.bias"] = np.zeros(2)
    bad["layers.1.weight"] = np.zeros((1, 2))
    with pytest.raises(ValueError, match=r"layers\.1\.weight.*\(1, 2\).*\(2, 1\)"):
        model.load_state_dict(bad)
    missing = dict(before)
    del missing["layers.1.bias"]
    with pytest.raises(ValueError, match=r"missing parameter 'layers\.1\.bias'"):
        model.load_state_dict(missing)
    with pytest.raises(ValueError, match="unexpected"):
        model.load_state_dict({**before, "layers.9.weight": np.zeros(1)})
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_save_and_load_npz(tmp_path):
    model = nn.MLP([2, 3, 1], rng=0)
    path = tmp_path / "w.npz"
    model.save(path)
    other = nn.MLP([2, 3, 1], scalar=True, rng=5)
    other.load(path)
    np.testing.assert_allclose(predict(other(X)), model(X).data.ravel(), atol=1e-12)
    # pickled object arrays are refused
    np.savez(tmp_path / "evil.npz", **{"layers.0.weight": np.array([object()] * 6,
                                                                    dtype=object)})
    with pytest.raises(ValueError):
        other.load(tmp_path / "evil.npz")


def predict(out):
    return np.array([v.data for v in out])


def test_activation_names():
    assert isinstance(nn.activation(None), nn.Identity)
    with pytest.raises(ValueError, match="unknown activation 'softmax'"):
        nn.MLP([2, 1], activation="softmax")
    assert nn.Identity()(3.0) == 3.0


def test_zero_grad():
    model = nn.MLP([2, 2, 1], rng=0)
    losses.mse(model(X), Y).backward()
    assert np.any(model.parameters()[0].grad != 0)
    model.zero_grad()
    assert all(np.all(p.grad == 0) for p in model.parameters())


def test_scalar_mlp_keeps_a_tensor_inputs_graph():
    from tinygrad_xor import Value as V

    tensor = nn.MLP([2, 3, 1], rng=0)
    scalar = nn.MLP([2, 3, 1], scalar=True, rng=0)
    xs_t = V(np.array(X))
    xs_s = V(np.array(X))
    losses.mse(tensor(xs_t), Y).backward()
    losses.mse(scalar(xs_s), Y).backward()
    np.testing.assert_allclose(xs_s.grad, xs_t.grad, rtol=0, atol=1e-12)
    one = V(np.array([1.0, 0.0]))
    scalar(one).backward()
    assert np.any(one.grad != 0)


def test_scalar_and_tensor_agree_on_random_networks():
    hypothesis = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")

    @hypothesis.settings(max_examples=25, deadline=None)
    @hypothesis.given(sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4),
                      act=st.sampled_from(["sigmoid", "tanh", "relu", "identity"]),
                      out_act=st.sampled_from(["sigmoid", "tanh", "identity"]),
                      seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4))
    def check(sizes, act, out_act, seed, n):
        tensor = nn.MLP(sizes, activation=act, output_activation=out_act, rng=seed)
        scalar = nn.MLP(sizes, activation=act, output_activation=out_act, scalar=True,
                        rng=seed)
        data = np.random.default_rng(seed).normal(size=(n, sizes[0]))
        target = np.zeros((n, sizes[-1]))
        out_t, out_s = tensor(data), scalar(data)
        rows = [[row] if isinstance(row, Value) else row for row in out_s]
        np.testing.assert_allclose(np.array([[v.data for v in row]
                                             for row in rows]).reshape(n, -1),
                                   out_t.data, rtol=0, atol=1e-12)
        losses.mse(out_t, target).backward()
        losses.mse(out_s, target).backward()
        grads_s = [p.grad for p in scalar.parameters()]
        grads_t = np.concatenate([p.grad.ravel() for p in tensor.parameters()])
        np.testing.assert_allclose(grads_s, grads_t, rtol=0, atol=1e-12)

    check()


# -- weights files: exactly the path, atomic replace, clear errors on load --------------------


def files(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_save_writes_exactly_the_path_without_a_suffix(tmp_path):
    model = nn.MLP([2, 3, 1], rng=0)
    path = tmp_path / "weights"
    model.save(path)
    assert files(tmp_path) == ["weights"]
    other = nn.MLP([2, 3, 1], rng=9)
    other.load(str(path))
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[key], value)


def test_save_over_an_existing_file_replaces_it(tmp_path):
    path = tmp_path / "w.npz"
    nn.MLP([2, 3, 1], rng=0).save(path)
    model = nn.MLP([2, 3, 1], rng=1)
    model.save(path)
    other = nn.MLP([2, 3, 1], rng=2)
    other.load(path)
    np.testing.assert_array_equal(other.state_dict()["layers.0.weight"],
                                  model.state_dict()["layers.0.weight"])
    assert files(tmp_path) == ["w.npz"]


def weight(path) -> np.ndarray:
    model = nn.MLP([2, 3, 1], rng=99)
    model.load(path)
    return model.state_dict()["layers.0.weight"]


def new_weight() -> np.ndarray:
    return nn.MLP([2, 3, 1], rng=1).state_dict()["layers.0.weight"]


posix_modes = pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def symlink(target, link) -> None:
    try:
        os.symlink(target, link)
    except (OSError, NotImplementedError) as exc:   # Windows without the privilege
        pytest.skip(f"cannot make a symbolic link: {exc}")


@posix_modes
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604, 0o664, 0o666], ids=oct)
def test_save_over_a_file_keeps_its_permission_bits(tmp_path, monkeypatch, umask_022, mode):
    path = tmp_path / "w.npz"
    nn.MLP([2, 3, 1], rng=0).save(path)
    os.chmod(path, mode)
    seen = []
    real_savez = np.savez

    def savez(f, **arrays):       # the weights are never readable by more than the old file
        seen.append(stat.S_IMODE(os.fstat(f.fileno()).st_mode))
        real_savez(f, **arrays)

    monkeypatch.setattr(nn.np, "savez", savez)
    nn.MLP([2, 3, 1], rng=1).save(path)
    assert stat.S_IMODE(path.stat().st_mode) == mode and seen == [mode]
    np.testing.assert_array_equal(weight(path), new_weight())


@posix_modes
def test_save_of_a_new_file_gets_the_mode_open_would_give(tmp_path):
    old = os.umask(0o027)
    try:
        nn.MLP([2, 3, 1], rng=0).save(tmp_path / "w.npz")
        with open(tmp_path / "opened", "wb"):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "w.npz").stat().st_mode) == 0o640
    assert (tmp_path / "w.npz").stat().st_mode == (tmp_path / "opened").stat().st_mode


@posix_modes
def test_save_where_chmod_is_refused(tmp_path, monkeypatch, umask_022):
    path, private = tmp_path / "w.npz", tmp_path / "private.npz"
    nn.MLP([2, 3, 1], rng=0).save(path)      # the mode a new file gets
    nn.MLP([2, 3, 1], rng=0).save(private)
    os.chmod(private, 0o660)                  # the umask takes 0o020: only chmod can keep it
    before = private.read_bytes()

    def refused(*args, **kwargs):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(nn.os, "fchmod", refused)    # as on FAT, where all files share a mode
    monkeypatch.setattr(nn.os, "chmod", refused)
    nn.MLP([2, 3, 1], rng=1).save(path)               # no chmod needed: it works
    np.testing.assert_array_equal(weight(path), new_weight())
    with pytest.raises(PermissionError, match=r"save: .*0o660 of .*private\.npz"):
        nn.MLP([2, 3, 1], rng=1).save(private)
    assert private.read_bytes() == before
    assert files(tmp_path) == ["private.npz", "w.npz"]


def test_save_onto_a_symlink_writes_its_target_and_keeps_the_link(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    nn.MLP([2, 3, 1], rng=0).save(runs / "run42.npz")
    if os.name != "nt":
        os.chmod(runs / "run42.npz", 0o600)
    symlink("runs/run42.npz", tmp_path / "latest.npz")         # relative, into another folder
    symlink("latest.npz", tmp_path / "newest.npz")              # a link to the link
    nn.MLP([2, 3, 1], rng=1).save(tmp_path / "newest.npz")
    assert os.readlink(tmp_path / "newest.npz") == "latest.npz"
    assert os.readlink(tmp_path / "latest.npz") == "runs/run42.npz"
    assert files(tmp_path) == ["latest.npz", "newest.npz", "runs"]
    assert files(runs) == ["run42.npz"]                          # no temporary file left
    for path in ("newest.npz", "latest.npz", "runs/run42.npz"):
        np.testing.assert_array_equal(weight(tmp_path / path), new_weight())
    if os.name != "nt":
        assert stat.S_IMODE((runs / "run42.npz").stat().st_mode) == 0o600


def test_a_failed_save_onto_a_symlink_leaves_link_and_target_whole(tmp_path, monkeypatch):
    nn.MLP([2, 3, 1], rng=0).save(tmp_path / "run42.npz")
    before = (tmp_path / "run42.npz").read_bytes()
    symlink("run42.npz", tmp_path / "latest.npz")

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(nn.os, "replace", broken)
    with pytest.raises(OSError):
        nn.MLP([2, 3, 1], rng=1).save(tmp_path / "latest.npz")
    assert (tmp_path / "run42.npz").read_bytes() == before
    assert os.readlink(tmp_path / "latest.npz") == "run42.npz"
    assert files(tmp_path) == ["latest.npz", "run42.npz"]


def test_save_onto_a_dangling_symlink_creates_its_target_as_open_would(tmp_path):
    symlink("run43.npz", tmp_path / "latest.npz")
    nn.MLP([2, 3, 1], rng=1).save(tmp_path / "latest.npz")
    assert os.readlink(tmp_path / "latest.npz") == "run43.npz"
    assert files(tmp_path) == ["latest.npz", "run43.npz"]
    np.testing.assert_array_equal(weight(tmp_path / "latest.npz"), new_weight())
    symlink("gone/run.npz", tmp_path / "nowhere.npz")            # the target's folder is missing
    with pytest.raises(FileNotFoundError, match=r"save: the folder .*gone.* of .*nowhere\.npz"):
        nn.MLP([2, 3, 1], rng=1).save(tmp_path / "nowhere.npz")
    symlink("loop_b", tmp_path / "loop_a")
    symlink("loop_a", tmp_path / "loop_b")
    with pytest.raises(OSError, match="save: .*loop_a.* loop of symbolic links") as info:
        nn.MLP([2, 3, 1], rng=1).save(tmp_path / "loop_a")
    assert info.value.errno == errno.ELOOP
    assert files(tmp_path) == ["latest.npz", "loop_a", "loop_b", "nowhere.npz", "run43.npz"]
    assert os.path.islink(tmp_path / "loop_a") and os.path.islink(tmp_path / "loop_b")


class DiskFull:
    """A file object's write that fails with ENOSPC after some bytes went through."""

    def __init__(self, real, budget: int) -> None:
        self.real, self.budget = real, budget

    def write(self, data) -> int:
        if len(data) > self.budget:
            self.real.write(bytes(memoryview(data)[:self.budget]))
            raise OSError(errno.ENOSPC, "No space left on device")
        self.budget -= len(data)
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.real.close()


@pytest.mark.parametrize("budget", [0, 100, 600])
def test_a_full_disk_during_save_leaves_the_previous_file_whole(tmp_path, monkeypatch, budget):
    path = tmp_path / "w.npz"
    nn.MLP([2, 3, 1], rng=0).save(path)
    before = path.read_bytes()
    real_fdopen = os.fdopen
    monkeypatch.setattr(nn.os, "fdopen", lambda *a, **k: DiskFull(real_fdopen(*a, **k), budget))
    with pytest.raises(OSError) as info:
        nn.MLP([2, 3, 1], rng=1).save(path)
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == before
    assert files(tmp_path) == ["w.npz"]      # no temporary file left behind


def test_a_failure_inside_savez_or_replace_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    nn.MLP([2, 3, 1], rng=0).save(path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    for target in ("savez", "replace", "fsync"):
        with monkeypatch.context() as m:
            m.setattr(nn.np if target == "savez" else nn.os, target, broken)
            with pytest.raises(OSError):
                nn.MLP([2, 3, 1], rng=1).save(path)
        assert path.read_bytes() == before
        assert files(tmp_path) == ["w.npz"]
    with monkeypatch.context() as m:       # an interrupt is cleaned up too
        m.setattr(nn.np, "savez", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
        with pytest.raises(KeyboardInterrupt):
            nn.MLP([2, 3, 1], rng=1).save(path)
    assert path.read_bytes() == before and files(tmp_path) == ["w.npz"]


KILLED_MID_SAVE = """
import os, sys
import numpy as np
from tinygrad_xor import nn
if sys.argv[2] == "write":          # the process dies halfway through writing the archive
    real_savez = np.savez
    def savez(f, **arrays):
        real_savez(f, **arrays)
        f.truncate(f.tell() // 2)
        f.flush()
        os._exit(3)
    np.savez = savez
else:                               # the process dies after writing, before the rename
    os.fsync = lambda fd: os._exit(3)
nn.MLP([2, 64, 1], rng=1).save(sys.argv[1])
"""


@pytest.mark.parametrize("when", ["write", "fsync"])
def test_a_process_killed_during_save_leaves_the_previous_file_whole(tmp_path, when):
    path = tmp_path / "w.npz"
    nn.MLP([2, 3, 1], rng=0).save(path)
    before = path.read_bytes()
    root = os.path.dirname(os.path.dirname(os.path.abspath(nn.__file__)))
    env = {**os.environ, "PYTHONPATH": root}
    done = subprocess.run([sys.executable, "-c", KILLED_MID_SAVE, str(path), when], env=env,
                          timeout=120)
    assert done.returncode == 3
    assert path.read_bytes() == before
    model = nn.MLP([2, 3, 1], rng=5)
    model.load(path)                          # still a whole, loadable file
    np.testing.assert_array_equal(model.state_dict()["layers.0.weight"],
                                  nn.MLP([2, 3, 1], rng=0).state_dict()["layers.0.weight"])


def _not_archives(tmp_path):
    good = tmp_path / "good.npz"
    nn.MLP([2, 3, 1], rng=0).save(good)
    data = good.read_bytes()
    made = {
        "empty": (b"", "empty"),
        "truncated": (data[:len(data) // 2], "truncated"),
        "text": (b"layers.0.weight = [[1, 2, 3], [4, 5, 6]]\n", "npz"),
        "npy": (None, ".npy"),
        "pickled": (pickle.dumps({"layers.0.weight": np.zeros((2, 3))}), "pickle"),
        "object_array": (None, "pickle"),
    }
    out = []
    for name, (content, word) in made.items():
        path = tmp_path / name
        if name == "npy":
            with open(path, "wb") as f:
                np.save(f, np.zeros((2, 3)))
        elif name == "object_array":
            with open(path, "wb") as f:
                np.savez(f, **{"layers.0.weight": np.array([object()] * 6, dtype=object)})
        else:
            path.write_bytes(content)
        out.append((path, word))
    return out


def test_load_of_a_file_that_is_not_a_weights_archive_is_a_value_error(tmp_path):
    for path, word in _not_archives(tmp_path):
        model = nn.MLP([2, 3, 1], rng=7)
        before = model.state_dict()
        with pytest.raises(ValueError) as info:
            model.load(path)
        message = str(info.value)
        assert str(path) in message and word in message, message
        assert "allow_pickle" not in message
        for key, value in model.state_dict().items():   # nothing changed
            np.testing.assert_array_equal(value, before[key])


def test_load_of_weights_that_do_not_fit_names_the_path_and_changes_nothing(tmp_path):
    path = tmp_path / "small"
    nn.MLP([2, 2, 1], rng=0).save(path)
    model = nn.MLP([2, 3, 1], rng=7)
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"small.*layers\.0\.weight.*\(2, 2\).*\(2, 3\)"):
        model.load(path)
    missing = tmp_path / "missing"
    with open(missing, "wb") as f:
        np.savez(f, **{"layers.0.weight": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="missing.*missing parameter 'layers.0.bias'"):
        model.load(missing)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    with pytest.raises(FileNotFoundError):
        model.load(tmp_path / "nowhere.npz")
    with pytest.raises(FileNotFoundError, match="folder"):
        model.save(tmp_path / "no" / "such" / "w.npz")


def test_save_onto_a_folder_is_a_clear_error(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        nn.MLP([2, 2, 1], rng=0).save(tmp_path)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind
