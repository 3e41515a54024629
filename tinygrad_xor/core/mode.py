"""Grad mode and trace mode: the two switches of a thread that every operation reads.

Grad mode (`no_grad`, `enable_grad`, `is_grad_enabled`) says whether this thread's operations
record a graph. Trace mode says whether this thread is tracing a compiled function (`jit`), whose
trace refuses reads of a traced Value's numbers (`TraceError`). Both are kept by thread id in
module-level containers, so the common case (no thread in no_grad, none tracing) costs one
truth test per operation.

Imports: nothing of the package (the bottom of the core, beside ``checks`` and ``kernels``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from threading import get_ident
from typing import Any

__all__ = ["no_grad", "enable_grad", "is_grad_enabled", "TraceError"]

#: The threads whose grad mode is off, by thread id. Grad mode belongs to each thread; it is
#: kept here rather than in a threading.local because the common case, no thread inside
#: no_grad, is then one truth test per node (`_recording`). Adding to and discarding from a set
#: are single steps under the GIL, so threads need no lock to change their own entry.
_off: set[int] = set()


#: The traces of `jit` running now, by thread id (a trace belongs to the thread that runs it).
#: Empty outside a trace, so each check below costs one truth test.
_tracing: dict[int, Any] = {}


class TraceError(RuntimeError):
    """What a compiled function's trace cannot see: the numbers of a traced Value read in
    Python (`jit` compiles the graph, not the Python around it)."""


def _traced(v: Any, what: str) -> None:
    """Refuse to read the numbers of ``v`` if this thread traces a graph that ``v`` is in."""
    trace = _tracing.get(get_ident())
    if trace is not None:
        trace.read(v, what)


def _recording() -> bool:
    """True when this thread's operations record a graph."""
    return not _off or get_ident() not in _off


class _mode:
    """The block of `no_grad` / `enable_grad`: this thread's grad mode set on entry and put
    back on exit. Each switch is one call of a C function (``set.add`` / ``set.discard``), so
    a KeyboardInterrupt can land before or after it, never half-way: it cannot leave the
    mode changed once the block is left."""

    __slots__ = ("enabled", "ident", "restore")

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __enter__(self) -> None:
        ident = get_ident()  # the thread that entered: restored even if a generator moves
        self.ident = ident
        self.restore = _off.discard if ident not in _off else _off.add
        if self.enabled:
            _off.discard(ident)
        else:
            _off.add(ident)

    def __exit__(self, *exc: Any) -> None:
        self.restore(self.ident)

    def __call__(self, f: Callable[..., Any]) -> Callable[..., Any]:
        """As a decorator (``@no_grad()``): ``f`` runs inside the block."""
        enabled = self.enabled

        @functools.wraps(f)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with _mode(enabled):
                return f(*args, **kwargs)

        return inner


def no_grad() -> Any:
    """Inside this block, in this thread, operations record no graph: results are leaves."""
    return _mode(False)


def enable_grad() -> Any:
    """Inside this block, in this thread, operations record a graph again (even in no_grad)."""
    return _mode(True)


def is_grad_enabled() -> bool:
    """True unless this thread is inside `no_grad()`."""
    return _recording()
