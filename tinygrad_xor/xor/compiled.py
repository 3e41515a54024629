"""A recipe's training step as a function of arrays, compiled by `jit`: `tinygrad-xor compile`.

`training_step(recipe)` is one full-batch step of the recipe's network on the four XOR
samples, written functionally: ``step(*args) -> new args``, where ``args`` are the weights and
biases (layer by layer, as `Recipe.init_state` keys them) followed by the optimizer's state:

- SGD: nothing more; ``p - lr * g``;
- SGD with momentum: one velocity per parameter, starting at zeros (``v = mu * v + g``, whose
  first value is ``g``: PyTorch's first buffer, as `optim.SGD` does);
- Adam: the first and the second moments per parameter, starting at zeros, then the number
  of steps taken ``t`` (a float, 0 at first), so the bias corrections ``1 - beta ** t`` are
  computed in the step (as `optim.Adam` does).

The gradients come from `value_and_grad` of the recipe's loss, so `jit` traces the forward
pass, the backward pass and the update as one graph; the step's results have the structure
of its arguments, so ``compiled.loop(n, *args)`` trains ``n`` steps. Run eagerly, the step
equals the recipe's own network and optimizer step for step (tests/test_compiled_study.py).
The goodfellow recipe has fixed weights and no training step.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import Value, value_and_grad
from ..compiler import Compiled, jit
from ..nn import activation
from . import X, Y
from .recipes import Recipe, get_recipe

__all__ = ["network_loss", "training_step", "initial_arguments", "stacked_arguments",
           "argument_names", "CompiledStep", "compile_step", "compile_command"]

#: Adam's defaults, as `Recipe.make_optimizer` builds it (`optim.Adam`'s own).
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def _trained(recipe: Recipe | str) -> Recipe:
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    if recipe.init == "goodfellow":
        raise ValueError(f"recipe {recipe.name}: fixed weights, no training step to compile")
    return recipe


def network_loss(recipe: Recipe | str) -> Callable[..., Value]:
    """``loss(*params)``: the recipe's loss of its network on X and Y, ``params`` its weights
    and biases layer by layer (``(in, out)`` weights, ``(out,)`` biases)."""
    recipe = _trained(recipe)
    hidden, output = activation(recipe.activation), activation(recipe.output_activation)
    loss_fn = recipe.loss_fn()
    n_layers = len(recipe.sizes) - 1

    def loss(*params: Any) -> Value:
        h: Any = X
        for i in range(n_layers):
            h = h @ params[2 * i] + params[2 * i + 1]
            h = output(h) if i == n_layers - 1 else hidden(h)
        return loss_fn(h, Y)

    loss.__name__ = f"{_identifier(recipe.name)}_loss"
    return loss


def _identifier(name: str) -> str:
    """A recipe's name as a Python name (``wide-tanh-adam`` -> ``wide_tanh_adam``)."""
    return re.sub(r"\W", "_", name)


def training_step(recipe: Recipe | str) -> Callable[..., tuple[Any, ...]]:
    """``step(*params, *state) -> (*new_params, *new_state)``: one full-batch step of the
    recipe's optimizer (see the module docstring for the state)."""
    recipe = _trained(recipe)
    loss = network_loss(recipe)
    n = 2 * (len(recipe.sizes) - 1)
    argnums = tuple(range(n))
    lr = recipe.lr

    if recipe.optimizer == "adam":
        beta1, beta2 = ADAM_BETAS

        def step(*args: Any) -> tuple[Any, ...]:
            params, m0, v0, t0 = args[:n], args[n:2 * n], args[2 * n:3 * n], args[3 * n]
            _, grads = value_and_grad(loss, argnums=argnums)(*params)
            t = t0 + 1.0
            step_size = lr / (1.0 - beta1 ** t)
            correction2_sqrt = np.sqrt(1.0 - beta2 ** t)  # np.sqrt: t is a Value or a float
            m = [beta1 * mi + (1.0 - beta1) * g for mi, g in zip(m0, grads, strict=True)]
            v = [beta2 * vi + (1.0 - beta2) * (g * g) for vi, g in zip(v0, grads, strict=True)]
            new = [p - step_size * (mi / (np.sqrt(vi) / correction2_sqrt + ADAM_EPS))
                   for p, mi, vi in zip(params, m, v, strict=True)]
            return (*new, *m, *v, t)

    elif recipe.momentum:
        mu = recipe.momentum

        def step(*args: Any) -> tuple[Any, ...]:
            params, before = args[:n], args[n:]
            _, grads = value_and_grad(loss, argnums=argnums)(*params)
            velocity = [mu * v + g for v, g in zip(before, grads, strict=True)]
            new = [p - lr * v for p, v in zip(params, velocity, strict=True)]
            return (*new, *velocity)

    else:

        def step(*args: Any) -> tuple[Any, ...]:
            _, grads = value_and_grad(loss, argnums=argnums)(*args)
            return tuple(p - lr * g for p, g in zip(args, grads, strict=True))

    step.__name__ = f"{_identifier(recipe.name)}_step"
    return step


def argument_names(recipe: Recipe | str) -> list[str]:
    """The names of the step's arguments, in order: the parameters' state_dict keys, then the
    optimizer's state (``velocity.KEY``, ``adam_m.KEY``, ``adam_v.KEY``, ``t``)."""
    recipe = _trained(recipe)
    keys = list(recipe.init_state(0))
    if recipe.optimizer == "adam":
        return [*keys, *[f"adam_m.{k}" for k in keys], *[f"adam_v.{k}" for k in keys], "t"]
    if recipe.momentum:
        return [*keys, *[f"velocity.{k}" for k in keys]]
    return keys


def initial_arguments(recipe: Recipe | str, seed: int | None = None) -> tuple[Any, ...]:
    """The step's first arguments: the recipe's initial weights from ``seed`` (None: the
    recipe's default seed) and the optimizer's initial state (zeros, and ``t = 0.0``), for
    one network (see `stacked_arguments` for a batch of them)."""
    recipe = _trained(recipe)
    state = recipe.init_state(recipe.default_seed if seed is None else seed)
    params = [np.array(w, dtype=np.float64) for w in state.values()]
    if recipe.optimizer == "adam":
        zeros = [np.zeros_like(p) for p in params]
        return (*params, *zeros, *[np.zeros_like(p) for p in params], 0.0)
    if recipe.momentum:
        return (*params, *[np.zeros_like(p) for p in params])
    return tuple(params)


def stacked_arguments(recipe: Recipe | str, seeds: Sequence[int]) -> tuple[np.ndarray, ...]:
    """`initial_arguments` of several seeds stacked along a leading axis, one network per
    entry (numbers become vectors): the arguments of jit's ``"vector"`` backend."""
    columns = zip(*[initial_arguments(recipe, int(s)) for s in seeds], strict=True)
    return tuple(np.stack([np.asarray(x, dtype=np.float64) for x in column])
                 for column in columns)


@dataclass
class CompiledStep:
    """A recipe's step compiled and called once: the function, its first arguments (from
    ``seed``) and their names, and what the first call returned."""

    recipe: Recipe
    seed: int
    compiled: Compiled
    arguments: tuple[Any, ...]
    names: list[str]
    results: tuple[Any, ...]

    @property
    def source(self) -> str:
        """The generated Python of the step."""
        return self.compiled.source

    def _step_lines(self) -> list[str]:
        """The lines of the step's function (the source may define more after it)."""
        lines = self.source.splitlines()
        end = next((i for i, line in enumerate(lines) if i and not line.startswith(" ")),
                   len(lines))
        return lines[:end]

    def operations(self) -> int:
        """The lines of the step's function that compute something (neither the ``def``, the
        ``del`` lines that free intermediates, nor the ``return``): one operation each on the
        numpy backend, an expression of several on the python and vector backends."""
        return sum(1 for line in self._step_lines()[1:]
                   if not line.lstrip().startswith(("del ", "return ")))

    def header(self) -> str:
        """What `tinygrad-xor compile` prints above the code: the recipe, the arguments and
        their shapes, and the size of the step's code."""
        r = self.recipe
        lines = [f"recipe {r.name}: {r.describe(1, unit='step')}",
                 f"the step as a function of arrays, traced by jit (backend "
                 f"{self._backend()}) on seed {self.seed}'s initial weights",
                 "arguments (it returns their new values, in this order):"]
        for i, (name, arg) in enumerate(zip(self.names, self.arguments, strict=True)):
            shape = "a number" if type(arg) is float else f"shape {np.shape(arg)}"
            lines.append(f"  x{i:<3} {name:26} {shape}")
        step = self._step_lines()
        if self.compiled.backend == "vector":
            lines.append("  (the vector backend: a leading batch axis, one network per entry; "
                         "here one)")
        if re.search(r"\bx0_0\b", step[0]):  # the python and vector backends: flat arguments
            lines.append("  (each element is an argument of its own: xI_K is element K of xI, "
                         "in C order)")
        dels = sum(1 for line in step if line.lstrip().startswith("del "))
        freed = f"; {dels} del lines free intermediates" if dels else ""
        rest = self.source.splitlines()[len(step):]
        after = next((line.split("(")[0][4:] for line in rest if line.startswith("def ")), None)
        if after is not None:  # the python and vector backends' loop form, for .loop(n)
            freed += f"; then {after}, the same lines in a loop (what .loop(n) runs)"
        if self.compiled.backend_used in ("python", "vector"):
            lines.append(f"{len(step)} lines: {self.operations()} assignments, each value used "
                         f"once written into the line that uses it{freed}")
        else:
            lines.append(f"{len(step)} lines: {self.operations()} operations, one a line{freed}")
        return "\n".join(lines)

    def _backend(self) -> str:
        """The backend asked for, and what ``"auto"`` chose."""
        asked, used = self.compiled.backend, self.compiled.backend_used
        return f"{asked}, which chose {used}" if asked != used else asked


def compile_step(recipe: Recipe | str, seed: int | None = None, *, backend: str = "auto"
                 ) -> CompiledStep:
    """The recipe's `training_step`, compiled with `jit` and called once on
    `initial_arguments` (which traces it)."""
    recipe = _trained(recipe)
    seed = recipe.default_seed if seed is None else int(seed)
    compiled = jit(training_step(recipe), backend=backend)
    arguments = (stacked_arguments(recipe, [seed]) if backend == "vector" else
                 initial_arguments(recipe, seed))
    results = compiled(*arguments)
    return CompiledStep(recipe, seed, compiled, arguments, argument_names(recipe), results)


def compile_command(args: argparse.Namespace) -> int:
    """`tinygrad-xor compile --recipe NAME [--backend B]`: print the generated training step."""
    step = compile_step(args.recipe, backend=getattr(args, "backend", "auto"))
    print(step.header())
    print()
    print(step.source, end="")
    return 0
