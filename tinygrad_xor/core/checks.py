"""The checks of what users pass in, shared by the whole package.

`describe` shows a bad input in an error message; `as_data` and `like` check and convert the
numbers of a Value, a gradient or a seed; `integer`, `number`, `boolean` and `numbers` check
the arguments of the library's functions (nn, losses, optim, train, gradcheck, ...).

Each check names the function and the argument, says what was given and what is expected, and
raises TypeError for a wrong kind of thing (a str, a bool where a number is expected) and
ValueError for a right kind with a wrong value (negative, NaN, out of range).

Imports: NumPy only (the bottom of the core).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def describe(obj: object) -> str:
    """A short description of a bad input for error messages: its type and, when short, its
    repr."""
    text = repr(obj)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(obj).__name__} {text}"


def as_data(data: Any, what: str = "Value()") -> float | np.ndarray:
    """Validate user data: a float for scalars, a float ndarray for tensors."""
    kind = type(data)
    if kind is float:
        return data
    if kind is int or kind is bool:
        return int_as_float(data, what)
    if isinstance(data, (np.floating, np.integer, np.bool_)):
        return float(data)
    if isinstance(data, (list, tuple)):
        try:
            array = np.array(data)
        except ValueError as exc:  # ragged nesting
            raise TypeError(f"{what} needs numbers, got a ragged {kind.__name__}: {exc}") from None
        except TypeError:  # a Value that requires grad inside (see Value.__array__)
            raise TypeError(f"{what} needs numbers, got a {kind.__name__} holding Values that "
                            f"require grad; make one Value of them with stack(...)") from None
        if array.dtype == object and all([type(x) in (int, float, bool) for x in array.flat]):
            # ints beyond int64 (2**64): numpy keeps them as objects; convert as torch does
            # for a float64 tensor, with a clear error for what no float64 holds (10**400)
            array = np.array([int_as_float(x, what) for x in array.flat]).reshape(
                array.shape)
    elif isinstance(data, np.ndarray):
        if kind is not np.ndarray and isinstance(data, np.ma.MaskedArray):
            raise TypeError(f"{what} got a masked array, whose mask would be lost; fill it "
                            f"first, e.g. a.filled(np.nan), or pass a.data for the raw values")
        array = data
    else:
        raise TypeError(f"{what} needs a number, list or ndarray, got {describe(data)}")
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{what} needs numeric data, got an array of dtype {array.dtype}"
                        f" from {describe(data)}")
    if array.ndim == 0:
        return float(array)
    if array.dtype == np.float32:
        return array.copy() if array is data else array
    return np.array(array, dtype=np.float64)


def int_as_float(number: int, what: str) -> float:
    """A Python int as a float64 (2**64 too, as ``float()``); OverflowError naming ``what``
    for one that no float64 holds."""
    try:
        return float(number)
    except OverflowError:
        digits = len(str(abs(number)))
        raise OverflowError(f"{what} got an int of {digits} digits, too large for a float64 "
                            f"(at most about 1.8e308)") from None


def like(value: Any, data: Any, what: str) -> Any:
    """``value`` as numbers of the kind and shape of ``data``: a float for a scalar, else an
    array of its dtype (the same array when it already is one). TypeError for what is not
    real numbers (complex ones too: their imaginary part would be lost), ValueError for a
    wrong shape; ``what`` names it in the message."""
    if type(value) is float and type(data) is float:
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.number, list, tuple, np.ndarray)):
        raise TypeError(f"{what} must be a number or an array, got {describe(value)}")
    if (isinstance(value, np.ndarray) and type(value) is not np.ndarray
            and isinstance(value, np.ma.MaskedArray)):
        raise TypeError(f"{what} must not be a masked array (its mask would be lost); fill it "
                        f"first, e.g. a.filled(0.0)")
    if type(data) is float and np.ndim(value) != 0:
        raise ValueError(f"{what} of a scalar must be a number, got {describe(value)}")
    try:
        array = np.asarray(value)
    except ValueError:  # ragged nesting
        raise TypeError(f"{what} must hold numbers, got {describe(value)}") from None
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{what} must hold real numbers, got dtype {array.dtype} from "
                        f"{describe(value)}")
    if array.shape != np.shape(data):
        raise ValueError(f"{what} has shape {array.shape}, the Value has shape {np.shape(data)}")
    return float(array) if type(data) is float else array.astype(data.dtype, copy=False)


_INTS = (int, np.integer)
_NUMBERS = (int, float, np.integer, np.floating)


def integer(where: str, name: str, value: Any, *, minimum: int | None = None) -> int:
    """``value`` as an int: an int or NumPy integer (not a bool) >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, _INTS):
        raise TypeError(f"{where}: {name} must be an integer, got {describe(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{where}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def number(where: str, name: str, value: Any, *, low: float | None = None,
           high: float | None = None, low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float (not a bool) in the interval given by low and high."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, _NUMBERS):
        raise TypeError(f"{where}: {name} must be a number, got {describe(value)}")
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
        raise TypeError(f"{where}: {name} must be True or False, got {describe(value)}")
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
