"""tinygrad_xor.xor.blogcheck: the post's gradients against autograd, and `tinygrad-xor check`."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_xor.cli import main
from tinygrad_xor.xor import blog, blogcheck


def rows_by_name(rows):
    return {(r.layer, r.quantity): r for r in rows}


@pytest.mark.parametrize("seed", [0, 1, 123])
def test_what_agrees_and_what_does_not(seed):
    rows = rows_by_name(blogcheck.compare(seed))
    for layer in (1, 2):
        assert rows[layer, "delta = dL/dz (each sample)"].agrees
        assert rows[layer, "b_grad (summed)"].agrees
        assert rows[layer, "W_grad of the post, transposed"].agrees
        assert rows[layer, "W_grad with faithful=False"].agrees
        assert not rows[layer, "W_grad as the post computes it"].agrees
    # the output layer's W_grad has the wrong shape; the hidden layer's the wrong values
    out = rows[2, "W_grad as the post computes it"]
    assert out.max_diff is None and out.post_shape == (2, 1) and out.autograd_shape == (1, 2)
    hidden = rows[1, "W_grad as the post computes it"]
    assert hidden.max_diff is not None and hidden.max_diff > 1e-4
    assert all(r.ok for r in rows.values())


def test_deeper_network_and_autograd_values():
    rng = np.random.default_rng(0)
    W, b = blog.init_params([2, 3, 2, 1], rng)
    rows = blogcheck.compare(X=blog.X, y=blog.y, W=W, b=b)
    assert {r.layer for r in rows} == {1, 2, 3}
    assert all(r.ok for r in rows)
    # autograd's dL/dW of the last layer by hand: sum_i delta_i * a_i^T
    auto = blogcheck.autograd_gradients(blog.X, blog.y, W, b)
    post = blogcheck.post_gradients(blog.X, blog.y, W, b, faithful=False)
    np.testing.assert_allclose(auto["W_grad"][3], post["W_grad"][3], rtol=0, atol=1e-12)
    assert auto["W_grad"][3].shape == W[3].shape


def test_check_command_table(capsys):
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "max |difference|" in out and "verdict" in out
    assert "shapes differ" in out and "DISAGREES" not in out
    assert out.count("agrees") >= 8
    assert "(2, 2)" in out  # the explanation of W[2]'s new shape


def test_check_command_fails_when_a_gradient_is_wrong(capsys, monkeypatch):
    real = blog.back_prop

    def wrong(a, z, W, target):
        delta = real(a, z, W, target)
        delta[1] = delta[1] * 1.001
        return delta

    monkeypatch.setattr(blog, "back_prop", wrong)
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "DISAGREES" in out and "FAILED" in out and "layer 1" in out


def test_w2_explanation_numbers():
    text = blogcheck.w2_explanation(0)
    assert "(1, 2)" in text and "(2, 1)" in text and "(2, 2)" in text
    W, b = blog.init_params([2, 2, 1], 0)
    new_W, _, _, _ = blog.backprop_iter(blog.X, blog.y, W, b, 0.1)
    fixed_W, _, _, _ = blog.backprop_iter(blog.X, blog.y, W, b, 0.1, faithful=False)
    # the broadcast matrix holds the correct update on its diagonal
    np.testing.assert_allclose(np.diag(new_W[2]), fixed_W[2].ravel(), rtol=0, atol=1e-15)
