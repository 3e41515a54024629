"""The check the post never made: its hand-derived gradients against autograd, layer by layer.

The same sigmoid network is built from Values in the post's layout (column vectors,
``W[l]`` of shape ``(n_l, n_{l-1})``), with L = ½·Σ(a − y)² over the four samples: the loss
whose derivative is the post's ``cost_grad = a − y``. One backward pass gives every
``z.grad`` (the post's deltas), ``W.grad`` and ``b.grad``; they are compared with
`tinygrad_xor.xor.blog`'s quantities summed over the samples.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import Value
from . import blog

__all__ = ["Row", "compare", "autograd_gradients", "format_table", "w2_explanation",
           "check_command", "TOLERANCE"]

#: Largest |difference| still counted as agreement.
TOLERANCE = 1e-12


@dataclass
class Row:
    """One line of the comparison."""

    layer: int
    quantity: str
    post_shape: tuple[int, ...]
    autograd_shape: tuple[int, ...]
    max_diff: float | None      # None when the shapes differ
    should_agree: bool
    note: str = ""

    @property
    def agrees(self) -> bool:
        """Same shape and every element within TOLERANCE."""
        return self.max_diff is not None and self.max_diff <= TOLERANCE

    @property
    def ok(self) -> bool:
        """False only for a gradient that should agree and does not."""
        return self.agrees or not self.should_agree

    @property
    def verdict(self) -> str:
        """Human-readable verdict."""
        if self.agrees:
            return "agrees" if self.should_agree else "agrees (unexpectedly)"
        if self.should_agree:
            return "DISAGREES"
        return "differs, as expected" + (f": {self.note}" if self.note else "")


def autograd_gradients(X: Any, y: Any, W: list[Any], b: list[Any]) -> dict[str, Any]:
    """dL/dz per sample, dL/dW and dL/db by autograd, for L = ½·Σ(a − y)² in the post's layout."""
    Wv = [None if w is None else Value(np.asarray(w, dtype=np.float64), label=f"W[{i}]")
          for i, w in enumerate(W)]
    bv = [None if v is None else Value(np.asarray(v, dtype=np.float64), label=f"b[{i}]")
          for i, v in enumerate(b)]
    X = np.asarray(X, dtype=np.float64)
    targets = np.asarray(y, dtype=np.float64).reshape(len(X))
    zs: list[list[Value]] = []
    loss: Any = 0.0
    for i in range(len(X)):
        a: Any = X[i].reshape(-1, 1)            # a[0]: the sample as a column
        z_i: list[Any] = [None]
        for l in range(1, len(W)):  # noqa: E741  (l is the layer, as in the post)
            z = Wv[l] @ a + bv[l]
            z.label = f"z[{l}] sample {i}"
            z_i.append(z)
            a = z.sigmoid()
        zs.append(z_i)
        loss = loss + 0.5 * ((a - targets[i]) ** 2).sum()
    loss.backward()
    return {
        "loss": float(loss.item()),
        "delta": [[None if z is None else np.array(z.grad) for z in z_i] for z_i in zs],
        "W_grad": [None if w is None else np.array(w.grad) for w in Wv],
        "b_grad": [None if v is None else np.array(v.grad) for v in bv],
    }


def post_gradients(X: Any, y: Any, W: list[Any], b: list[Any], *, faithful: bool
                   ) -> dict[str, Any]:
    """The post's deltas per sample and its W_grad, b_grad summed over the samples."""
    X = np.asarray(X, dtype=np.float64)
    targets = np.asarray(y)
    deltas, W_sum, b_sum = [], None, None
    for i in range(len(X)):
        a, z = blog.forward_prop(X[i:i + 1], W, b)
        delta = blog.back_prop(a, z, W, targets[i])
        W_grad, b_grad = blog.calc_gradient(W, b, a, delta, faithful=faithful)
        deltas.append(delta)
        if W_sum is None or b_sum is None:
            W_sum, b_sum = list(W_grad), list(b_grad)
        else:
            for l in range(1, len(W)):  # noqa: E741
                W_sum[l] = W_sum[l] + W_grad[l]
                b_sum[l] = b_sum[l] + b_grad[l]
    return {"delta": deltas, "W_grad": W_sum, "b_grad": b_sum}


def _diff(post: Any, auto: Any) -> float | None:
    post, auto = np.asarray(post), np.asarray(auto)
    if post.shape != auto.shape:
        return None
    return float(np.max(np.abs(post - auto))) if post.size else 0.0


def compare(seed: int = 0, X: Any = None, y: Any = None, W: list[Any] | None = None,
            b: list[Any] | None = None) -> list[Row]:
    """Rows comparing the post's quantities with autograd's, output layer first.

    Defaults: the post's XOR data and 2-2-1 network, initialised as the post does
    (uniform [0, 1)) from ``seed``.
    """
    X = blog.X if X is None else X
    y = blog.y if y is None else y
    if W is None or b is None:
        W, b = blog.init_params([np.asarray(X).shape[1], 2, 1], seed)
    auto = autograd_gradients(X, y, W, b)
    post = post_gradients(X, y, W, b, faithful=True)
    fixed = post_gradients(X, y, W, b, faithful=False)
    rows = []
    for l in reversed(range(1, len(W))):  # noqa: E741
        deltas = [(p[l], a[l]) for p, a in zip(post["delta"], auto["delta"], strict=True)]
        diffs = [_diff(p, a) for p, a in deltas]
        worst = None if any(d is None for d in diffs) else max(d for d in diffs if d is not None)
        shape_p, shape_a = np.shape(deltas[0][0]), np.shape(deltas[0][1])
        rows.append(Row(l, "delta = dL/dz (each sample)", shape_p, shape_a, worst, True))
        rows.append(Row(l, "b_grad (summed)", np.shape(post["b_grad"][l]),
                        np.shape(auto["b_grad"][l]),
                        _diff(post["b_grad"][l], auto["b_grad"][l]), True))
        pw, aw = post["W_grad"][l], auto["W_grad"][l]
        rows.append(Row(l, "W_grad as the post computes it", np.shape(pw), np.shape(aw),
                        _diff(pw, aw), False, "it is dL/dW transposed"))
        rows.append(Row(l, "W_grad of the post, transposed", np.shape(pw.T), np.shape(aw),
                        _diff(pw.T, aw), True))
        fw = fixed["W_grad"][l]
        rows.append(Row(l, "W_grad with faithful=False", np.shape(fw), np.shape(aw),
                        _diff(fw, aw), True))
    return rows


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def format_table(rows: list[Row]) -> str:
    """The rows as an aligned text table."""
    header = ("layer", "quantity", "post shape", "autograd shape", "max |difference|", "verdict")
    lines = [header]
    for r in rows:
        diff = "shapes differ" if r.max_diff is None else f"{r.max_diff:.1e}"
        lines.append((str(r.layer), r.quantity, _fmt_shape(r.post_shape),
                      _fmt_shape(r.autograd_shape), diff, r.verdict))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for k, line in enumerate(lines):
        cells = [line[0].rjust(widths[0])] + [c.ljust(w) for c, w in zip(line[1:-1], widths[1:-1],
                                                                         strict=True)]
        out.append("  ".join(cells + [line[-1]]).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def w2_explanation(seed: int = 0, eta: float = 0.1) -> str:
    """Why the post's W[2] becomes 2×2 after its first iteration, with this seed's numbers."""
    W, b = blog.init_params([2, 2, 1], seed)
    post = post_gradients(blog.X, blog.y, W, b, faithful=True)
    step = (eta / len(blog.X)) * post["W_grad"][2]
    new_W, _, _, _ = blog.backprop_iter(blog.X, blog.y, W, b, eta)
    with np.printoptions(precision=6, suppress=True):
        return "\n".join([
            "Why the post's W[2] changes shape after its first iteration:",
            f"  W[2]                  shape {W[2].shape}: {np.array2string(W[2])}",
            f"  eta/n * sum W_grad[2] shape {step.shape}: {np.array2string(step.ravel())} "
            "(a column: a[1] . delta[2]^T)",
            f"  W[2] - that           shape {new_W[2].shape}: NumPy broadcasts (1, 2) - (2, 1) "
            "to (2, 2)",
            "  " + np.array2string(new_W[2], prefix="  "),
            "  Row i is W[2] minus the i-th entry of the column; from now on the network has",
            "  two output neurons, b[2] becomes (2, 1) one iteration later, and the post's",
            "  np.max(a[-1]) picks the larger of the two outputs.",
        ])


def check_command(args: argparse.Namespace) -> int:
    """`tinygrad-xor check`: print the comparison; 1 if a gradient that should agree does not."""
    seed = int(getattr(args, "seed", 0) or 0)
    rows = compare(seed)
    print("The post's hand-derived gradients against autograd")
    print("network 2-2-1, sigmoid on every layer, L = 1/2 * sum over the 4 samples of (a - y)^2,")
    print(f"the post's initialisation (uniform [0, 1)) from seed {seed}; agreement means "
          f"max |difference| <= {TOLERANCE:g}")
    print()
    print(format_table(rows))
    print()
    print(w2_explanation(seed))
    print()
    bad = [r for r in rows if not r.ok]
    if bad:
        print(f"FAILED: {len(bad)} gradient(s) that should agree with autograd do not: "
              + "; ".join(f"layer {r.layer} {r.quantity}" for r in bad))
        return 1
    print("OK: every delta and b_grad of the post agrees with autograd; its W_grad is the "
          "transpose of dL/dW (faithful=False fixes it).")
    return 0
