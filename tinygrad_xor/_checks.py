"""Argument checks shared by the library modules (nn, losses, optim, train, gradcheck, ...).

Each check names the function and the argument, says what was given and what is expected, and
raises TypeError for a wrong kind of thing (a str, a bool where a number is expected) and
ValueError for a right kind with a wrong value (negative, NaN, out of range).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_INTS = (int, np.integer)
_NUMBERS = (int, float, np.integer, np.floating)


def integer(where: str, name: str, value: Any, *, minimum: int | None = None) -> int:
    """``value`` as an int: an int or NumPy integer (not a bool) >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, _INTS):
        raise TypeError(f"{where}: {name} must be an integer, got {_show(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{where}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def number(where: str, name: str, value: Any, *, low: float | None = None,
           high: float | None = None, low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float (not a bool) in the interval given by low and high."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, _NUMBERS):
        raise TypeError(f"{where}: {name} must be a number, got {_show(value)}")
    x = float(value)
    below = low is not None and (x <= low if low_open else x < low)
    above = high is not None and (x >= high if high_open else x > high)
    if not math.isfinite(x) or below or above:
        raise ValueError(f"{where}: {name} must be a finite number"
                         f"{_interval(low, high, low_open, high_open)}, got {x!r}")
    return x


def boolean(where: str, name: str, value: Any) -> bool:
    """``value`` as a bool: True or False (not 0, 1 or a string)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: {name} must be True or False, got {_show(value)}")
    return bool(value)


def numbers(where: str, name: str, data: Any) -> np.ndarray:
    """``data`` (numbers, nested lists or an array) as a float64 array; TypeError if it is not
    numbers (strings, objects, ragged lists)."""
    try:
        array = np.asarray(data)
    except ValueError as exc:  # a ragged list
        raise TypeError(f"{where}: {name} must be numbers, got a ragged {type(data).__name__}: "
                        f"{exc}") from None
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{where}: {name} must be numbers, got {type(data).__name__} of dtype "
                        f"{array.dtype}")
    return array.astype(np.float64)


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return ""


def _show(value: Any) -> str:
    """A short description of what was given: its type and, when short, its repr."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"
