"""Training recipes for XOR, one command each: `tinygrad-xor train --recipe NAME`.

A recipe fixes the network (sizes, activations), its initialisation, the loss, the optimizer
and the number of epochs (full batch: the four XOR samples). Seeded the same way, a recipe
trained here and the same recipe in `tinygrad_xor.xor.sweep` (many seeds as one batched graph)
follow the same steps.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import losses, nn, no_grad, optim
from ..train import History, fit, predict
from . import GOODFELLOW, X, Y, goodfellow_model, solved

__all__ = ["Recipe", "RECIPES", "get_recipe", "UnknownRecipeError", "train_recipe",
           "truth_table", "train_command"]


class UnknownRecipeError(ValueError):
    """A recipe name that is not in RECIPES."""


def _half_mse(pred: Any, target: Any, *, reduction: str = "mean") -> Any:
    """½·mean((pred − target)²): the post's update W -= eta/n·Σ dL/dW is SGD on this."""
    return 0.5 * losses.mse(pred, target, reduction=reduction)


_LOSS_TEXT = {"half_mse": "MSE/2", "mse": "MSE", "bce": "binary cross-entropy"}


def _count(n: int, unit: str) -> str:
    """"1 step", "2 steps": ``n`` and ``unit``, plural unless n is 1."""
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


@dataclass(frozen=True)
class Recipe:
    """A network, its initialisation, loss, optimizer and epochs."""

    name: str
    summary: str
    sizes: tuple[int, ...] = (2, 2, 1)
    activation: str | None = "sigmoid"
    output_activation: str | None = "sigmoid"
    init: str = "uniform"        # "post", "glorot", "uniform" or "goodfellow"
    loss: str = "mse"            # "half_mse", "mse" or "bce"
    optimizer: str = "sgd"       # "sgd" or "adam"
    lr: float = 0.1
    momentum: float = 0.0
    epochs: int = 1000
    default_seed: int = 0        # a seed whose run shows the recipe's typical outcome

    def describe(self, epochs: int | None = None, *, unit: str = "epoch") -> str:
        """One line: the network and the training settings (``epochs`` overrides the recipe's
        number; ``unit="step"`` counts them as the sweeps do: one step an epoch, full batch)."""
        net = "-".join(str(s) for s in self.sizes)
        if self.init == "goodfellow":
            return f"{net}, relu hidden, identity output, Goodfellow et al.'s weights, no training"
        opt = "SGD" if self.optimizer == "sgd" else "Adam"
        mom = f" momentum {self.momentum:g}" if self.momentum else ""
        return (f"{net}, {self.activation} hidden, {self.output_activation or 'identity'} "
                f"output, {_LOSS_TEXT[self.loss]}, {opt} lr {self.lr:g}{mom}, "
                f"{_count(self.epochs if epochs is None else epochs, unit)}, full batch, "
                f"{self.init} init")

    @property
    def hidden(self) -> int:
        """The width of the hidden layer."""
        return self.sizes[1]

    def variant(self, *, hidden: int | None = None, lr: float | None = None) -> Recipe:
        """The same recipe with ``hidden`` units in its hidden layer and learning rate ``lr``
        (None keeps the recipe's own): a cell of `tinygrad_xor.xor.grid`."""
        if self.init == "goodfellow":
            raise ValueError(f"recipe {self.name}: fixed weights, no hidden size or learning "
                             "rate to vary")
        sizes, rate = self.sizes, self.lr
        if hidden is not None:
            if isinstance(hidden, bool) or int(hidden) != hidden or hidden < 1:
                raise ValueError(f"Recipe.variant: hidden must be an integer >= 1, got "
                                 f"{hidden!r}")
            sizes = (self.sizes[0], *[int(hidden)] * (len(self.sizes) - 2), self.sizes[-1])
        if lr is not None:
            rate = float(lr)
            if not (np.isfinite(rate) and rate > 0):
                raise ValueError(f"Recipe.variant: lr must be a finite number > 0, got {lr!r}")
        return replace(self, sizes=sizes, lr=rate)

    def init_state(self, rng: np.random.Generator | int | None) -> dict[str, np.ndarray]:
        """The initial weights as a state_dict ((in, out) weights, (out,) biases)."""
        gen = nn.make_rng(rng)
        state: dict[str, np.ndarray] = {}
        if self.init == "goodfellow":
            return {key: value.copy() for key, value in GOODFELLOW.items()}
        for i, (m, n) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=True)):
            if self.init == "post":        # the post: W[l] (n, m) then b[l] (n, 1), in [0, 1)
                w = gen.random((n, m)).T
                b = gen.random((n, 1)).ravel()
            elif self.init == "glorot":    # Keras: glorot_uniform kernel, zero bias
                limit = np.sqrt(6.0 / (m + n))
                w = gen.uniform(-limit, limit, (m, n))
                b = np.zeros(n)
            elif self.init == "uniform":   # nn.Linear's: ±1/sqrt(in) for both
                bound = 1.0 / np.sqrt(m)
                w = gen.uniform(-bound, bound, (m, n))
                b = gen.uniform(-bound, bound, (n,))
            else:
                raise ValueError(f"recipe {self.name}: unknown init {self.init!r}")
            state[f"layers.{i}.weight"] = np.ascontiguousarray(w)
            state[f"layers.{i}.bias"] = b
        return state

    def build(self, seed: int | np.random.Generator | None = 0, *, scalar: bool = False
              ) -> nn.Module:
        """The recipe's network with its initial weights from ``seed``."""
        if self.init == "goodfellow":
            return goodfellow_model()
        model = nn.MLP(list(self.sizes), activation=self.activation,
                       output_activation=self.output_activation, scalar=scalar, rng=0)
        model.load_state_dict(self.init_state(seed))
        return model

    def loss_fn(self) -> Any:
        """The loss function, ``(pred, target, *, reduction="mean") -> Value``."""
        return _half_mse if self.loss == "half_mse" else losses.get_loss(self.loss)

    def make_optimizer(self, params: list[Any]) -> optim.Optimizer:
        """The recipe's optimizer over ``params``."""
        if self.optimizer == "adam":
            return optim.Adam(params, lr=self.lr)
        return optim.SGD(params, lr=self.lr, momentum=self.momentum)


RECIPES: dict[str, Recipe] = {r.name: r for r in [
    Recipe("blog", "the post's network and settings (with the correct gradient); "
                   "like the post, it does not solve XOR",
           init="post", loss="half_mse", lr=0.1, epochs=100),
    Recipe("keras", "the post's Keras run: Keras' SGD default lr 0.01, 300 epochs, batch 4",
           activation="relu", output_activation=None, init="glorot", loss="mse", lr=0.01,
           epochs=300),
    Recipe("goodfellow", "the exact solution of Goodfellow et al., no training",
           activation="relu", output_activation=None, init="goodfellow", epochs=0),
    Recipe("sigmoid-momentum", "the post's 2-2-1 sigmoid network with cross-entropy and SGD "
                               "with momentum: solves XOR for 86% of seeds (not for seeds 0, "
                               "1 and 4)",
           init="uniform", loss="bce", lr=0.5, momentum=0.9, epochs=2000, default_seed=2),
    Recipe("wide-tanh-adam", "8 tanh hidden units, cross-entropy, Adam: solves XOR for "
                             "every one of 10,000 seeds tried",
           sizes=(2, 8, 1), activation="tanh", init="uniform", loss="bce", optimizer="adam",
           lr=0.05, epochs=300),
]}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; UnknownRecipeError lists the names."""
    try:
        return RECIPES[name]
    except KeyError:
        raise UnknownRecipeError(f"unknown recipe {name!r}; choose from: "
                                 + ", ".join(RECIPES)) from None


def train_recipe(recipe: Recipe | str, seed: int | None = 0, epochs: int | None = None, *,
                 progress: bool = False) -> tuple[nn.Module, History]:
    """Build the recipe's network from ``seed`` and train it; returns (model, history).

    ``seed=None`` is the recipe's `Recipe.default_seed`.
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    seed = recipe.default_seed if seed is None else seed
    model = recipe.build(seed)
    n = recipe.epochs if epochs is None else epochs
    if recipe.init == "goodfellow" or n == 0:
        return model, History()
    history = fit(model, X, Y, loss=recipe.loss_fn(),
                  optimizer=recipe.make_optimizer(model.parameters()), epochs=n,
                  progress=progress)
    return model, history


def truth_table(model: nn.Module) -> str:
    """The model's XOR truth table: inputs, target, output, output thresholded at 0.5."""
    with no_grad():
        out = predict(model(X)).reshape(-1)
    lines = [" x1  x2  target     output  thresholded"]
    for (x1, x2), t, o in zip(X, Y.ravel(), out, strict=True):
        lines.append(f"{x1:3.0f} {x2:3.0f} {t:7.0f} {o:10.4f} {int(o > 0.5):12d}")
    return "\n".join(lines)


def train_command(args: argparse.Namespace) -> int:
    """`tinygrad-xor train --recipe NAME`: train and print the truth table and final loss."""
    recipe = get_recipe(args.recipe)  # the parser has checked the name
    epochs = getattr(args, "epochs", None)
    given = getattr(args, "seed", None)
    seed = recipe.default_seed if given is None else int(given)
    print(f"recipe {recipe.name}: {recipe.summary}")
    trained = recipe.init != "goodfellow"
    why = " (the recipe's default: a typical run)" if given is None and trained else ""
    print(f"  {recipe.describe(epochs if trained else None)}, seed {seed}{why}")
    if not trained and epochs:
        print("  (--epochs ignored: the Goodfellow weights are not trained)")
    model, history = train_recipe(recipe, seed, epochs, progress=sys.stderr.isatty())
    with no_grad():
        out = model(X)
        loss = float(recipe.loss_fn()(out, Y).item())
        mse = float(losses.mse(out, Y).item())
    print()
    print(truth_table(model))
    print()
    print(f"final loss ({_LOSS_TEXT[recipe.loss]}): {loss:.6g}   MSE: {mse:.6g}   "
          f"epochs: {len(history.loss)}")
    print("solves XOR: " + ("yes" if solved(predict(out)) else "no"))
    return 0
