"""Threads and interruptions: grad mode per thread, concurrent backward passes over shared
Values, and backward passes stopped by an exception or a KeyboardInterrupt at any point."""

from __future__ import annotations

import dis
import sys
import threading

import numpy as np
import pytest

import tinygrad_xor.core.backward as passes
from tinygrad_xor import Value, enable_grad, is_grad_enabled, no_grad, primitive

# -- grad mode belongs to the thread ---------------------------------------------------------


def test_no_grad_in_one_thread_leaves_another_recording():
    inside, done = threading.Event(), threading.Event()

    def hold():
        with no_grad():
            inside.set()
            done.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    assert inside.wait(10)
    try:
        assert is_grad_enabled()
        x = Value(3.0)
        y = x * x
        assert y.requires_grad and y.op == "mul"
        y.backward()
        assert x.grad == 6.0
    finally:
        done.set()
        t.join()


def test_overlapping_no_grad_blocks_in_two_threads_restore_each_threads_mode():
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with no_grad():
            a_in.set()
            b_in.wait(10)
        a_out.set()
        seen["a"] = is_grad_enabled()

    def b():
        a_in.wait(10)
        with no_grad():
            b_in.set()
            a_out.wait(10)  # a leaves its block while b is still inside its own
            seen["b inside"] = is_grad_enabled()
        seen["b"] = is_grad_enabled()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": True, "b inside": False, "b": True}
    assert is_grad_enabled()


def test_enable_grad_records_inside_no_grad_and_a_new_thread_starts_enabled():
    with no_grad():
        assert (Value(2.0) * 3.0).op == ""
        with enable_grad():
            assert (Value(2.0) * 3.0).op == "mul"
        assert not is_grad_enabled()
        seen = []
        t = threading.Thread(target=lambda: seen.append(is_grad_enabled()))
        t.start()
        t.join()
        assert seen == [True]


# -- concurrent backward passes ----------------------------------------------------------------

N = 500_000  # big enough that NumPy releases the GIL inside each operation


def _run_together(fns):
    start = threading.Barrier(len(fns))
    errors = []

    def run(fn):
        try:
            start.wait(10)
            fn()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


@pytest.mark.parametrize("threads", [2, 4])
def test_concurrent_backward_on_a_shared_parameter_equals_the_serial_sum(threads):
    rng = np.random.default_rng(0)
    # small integers: every sum is exact in float64, so any order of the passes gives one answer
    w = Value(rng.integers(-3, 4, N).astype(np.float64))
    xs = [rng.integers(-3, 4, N).astype(np.float64) for _ in range(threads)]
    losses = [((w * x) * 2.0 + w).sum() for x in xs]
    expected = sum(2.0 * x + 1.0 for x in xs)
    for _ in range(3):
        w.zero_grad()
        _run_together([loss.backward for loss in losses])
        np.testing.assert_array_equal(w.grad, expected)


def test_concurrent_backward_through_a_shared_intermediate_node_equals_the_serial_sum():
    for _ in range(20):
        x = Value(np.ones(N))
        h = x * 3.0  # shared by every graph below
        roots = [(h * float(k + 1)).sum() for k in range(3)]
        _run_together([r.backward for r in roots])
        np.testing.assert_array_equal(x.grad, np.full(N, 3.0 * (1 + 2 + 3)))
        np.testing.assert_array_equal(h.grad, np.full(N, 1.0 + 2 + 3))


def test_concurrent_scalar_backward_passes_lose_no_update():
    x = Value(1.0)
    shared = x * 1.0
    roots = [shared * 1.0 + 0.0 for _ in range(8)]

    def many(root):
        return lambda: [root.backward() for _ in range(2000)]

    _run_together([many(r) for r in roots])
    assert x.grad == 8 * 2000
    assert shared.grad == 8 * 2000


# -- interrupted backward passes ---------------------------------------------------------------


def _interrupting_op():
    calls = {"left": 0}

    def vjp(grad, out, x):
        if calls["left"] > 0:
            calls["left"] -= 1
            raise KeyboardInterrupt
        return (grad * 2.0,)

    return primitive(lambda x: x * 2.0, vjp, name="double"), calls


def test_two_interrupts_in_a_row_then_a_right_backward():
    double, calls = _interrupting_op()
    x = Value(np.arange(3.0))
    h = x * x  # shared between the interrupted passes and the last one
    loss = (double(h) + h * 3.0).sum()
    for _ in range(2):
        calls["left"] = 1
        with pytest.raises(KeyboardInterrupt):
            loss.backward()
    x.zero_grad()
    h.zero_grad()
    loss.backward()
    np.testing.assert_array_equal(x.grad, 2 * np.arange(3.0) * 5.0)
    np.testing.assert_array_equal(h.grad, np.full(3, 5.0))


def test_an_interrupted_pass_adds_nothing_and_leaves_nothing_behind():
    double, calls = _interrupting_op()
    x = Value(2.0)
    loss = double(x * x) + x
    calls["left"] = 1
    with pytest.raises(KeyboardInterrupt):
        loss.backward()
    assert x.grad == 0.0  # the pass stopped before it finished: nothing was added
    loss.backward()
    assert x.grad == 2 * 2 * 2.0 + 1.0


class _LineInterrupter:
    """A trace function (sys.settrace) that counts the lines run by a backward pass in every
    function it calls (its counting, its sending, the rules, the adding into ``.grad``) and
    raises KeyboardInterrupt as line number ``at`` starts: a Ctrl-C that lands by construction
    (events, not time). Backprop's own frame is left to the exact test of its bookkeeping below:
    there a line can start where CPython never raises one (before a `with` block's exit)."""

    def __init__(self, at=0):
        self.at, self.lines, self.landed_in = at, 0, None

    def trace(self, frame, event, arg):
        return None if frame.f_code is passes._Pass.run.__code__ else self.line

    def line(self, frame, event, arg):
        if event == "line":
            self.lines += 1
            if self.lines == self.at:
                self.landed_in = frame.f_code.co_name
                raise KeyboardInterrupt
        return self.line

    def run(self, fn):
        old = sys.gettrace()
        sys.settrace(self.trace)
        try:
            fn()
        finally:
            sys.settrace(old)


def test_keyboard_interrupts_at_random_moments_never_leave_a_wrong_gradient():
    """Ctrl-C at random moments of long passes: counting, sending, adding."""
    n = 1_000
    x = Value(1.0)
    y = x
    for _ in range(n):
        y = y * 1.0 + 0.0
    y.backward()  # the first pass gives every node a .grad: the passes below all add into it
    x.zero_grad()
    counter = _LineInterrupter()
    counter.run(y.backward)
    assert x.grad == 1.0
    rng = np.random.default_rng(1)
    landed_in = set()
    for at in rng.choice(np.arange(1, counter.lines + 1), size=15, replace=False):
        x.zero_grad()
        interrupter = _LineInterrupter(int(at))
        with pytest.raises(KeyboardInterrupt):
            interrupter.run(y.backward)
        landed_in.add(interrupter.landed_in)
        assert passes._depth == [0] and is_grad_enabled()
        x.zero_grad()
        y.backward()  # the pass after an interrupt is right
        assert x.grad == 1.0
    assert {"count_users", "send_gradients", "_accumulate"} <= landed_in, landed_in


# -- an interrupt at any moment of a pass's own bookkeeping ----------------------------------

_BACKPROP = passes._Pass.run.__code__
_JUMPS_BACK = {ins.offset for ins in dis.get_instructions(_BACKPROP)
               if ins.opname in ("JUMP_BACKWARD", "JUMP_ABSOLUTE")}


class _Interrupter:
    """Counts the moments of `backprop`'s own frames at which CPython can raise a
    KeyboardInterrupt, and raises one at moment number ``at``: events, not time.

    CPython (3.10 and later) runs signal handlers only as a call returns, as a Python function
    starts, and at a loop's backward jump, never between two other instructions; so the
    moments are: each call of a function or method that backprop makes, as it returns (the
    interrupt is raised by the call, as CPython does), each Python function it calls, as it
    starts, and each backward jump. A profile function (sys.setprofile) sees the calls, a
    trace function (sys.settrace) the jumps.
    """

    def __init__(self, at=0):
        self.at, self.moments = at, 0

    def profile(self, frame, event, arg):
        if (event == "c_return" and frame.f_code is _BACKPROP
                or event in ("call", "return") and frame.f_back is not None
                and frame.f_back.f_code is _BACKPROP):
            self.moment()

    def trace(self, frame, event, arg):
        if frame.f_code is not _BACKPROP:
            return None
        frame.f_trace_opcodes, frame.f_trace_lines = True, False
        return self.opcode

    def opcode(self, frame, event, arg):
        if event == "opcode" and frame.f_lasti in _JUMPS_BACK:
            self.moment()
        return self.opcode

    def moment(self):
        self.moments += 1
        if self.moments == self.at:
            raise KeyboardInterrupt

    def run(self, fn):
        old_profile, old_trace = sys.getprofile(), sys.gettrace()
        sys.setprofile(self.profile)
        sys.settrace(self.trace)
        try:
            fn()
        finally:
            sys.settrace(old_trace)
            sys.setprofile(old_profile)


def _plain_backward():  # grad mode on: the pass switches it off while it runs
    x = Value(np.arange(3.0))
    loss = (x * x).sum()

    def check():
        x.zero_grad()
        loss.backward()
        np.testing.assert_array_equal(x.grad, 2 * np.arange(3.0))

    return loss.backward, check


def _create_graph_under_no_grad():  # grad mode off: the pass switches it on while it runs
    x = Value(3.0)
    y = x * x * x

    def run():
        with no_grad():
            try:
                (dx,) = passes.backprop((y,), (1.0,), create_graph=True, wanted=(x,)).values()
            finally:
                assert not is_grad_enabled(), "backprop left grad mode on inside no_grad()"
        assert dx.data == 27.0 and dx.requires_grad  # the pass recorded dx's graph

    return run, run


def _a_pass_inside_a_pass():  # the inner pass keeps a journal of the outer pass's slots
    x = Value(2.0)
    h = x * 3.0

    def vjp(grad, out, y):
        with enable_grad():
            (h * x).backward()
        return (grad * 2.0,)

    loss = primitive(lambda y: y * 2.0, vjp, name="double_nested")(h) + h * h

    def check():
        x.zero_grad()
        h.zero_grad()
        loss.backward()
        assert (x.grad, h.grad) == (54.0, 16.0)  # see the test of a pass inside a pass below

    return loss.backward, check


@pytest.mark.parametrize("make", [_plain_backward, _create_graph_under_no_grad,
                                  _a_pass_inside_a_pass])
def test_an_interrupt_at_any_moment_of_a_passs_bookkeeping_leaves_nothing_behind(make):
    """Ctrl-C at each moment of backprop itself, its clean-up included: the depth of passes,
    the thread's grad mode and the lock are as before, and the next pass is right."""
    run, check = make()
    counter = _Interrupter()
    counter.run(run)  # an uninterrupted pass, to count its moments
    assert counter.moments >= 5
    for at in range(1, counter.moments + 1):
        with pytest.raises(KeyboardInterrupt):
            _Interrupter(at).run(run)
        assert passes._depth == [0], f"an interrupt at moment {at} left the depth raised"
        assert is_grad_enabled(), f"an interrupt at moment {at} left grad mode off"
        assert not passes._pass_lock._is_owned(), f"moment {at} left the lock held"
        check()


# -- a pass inside a pass ----------------------------------------------------------------------


def test_a_pass_inside_a_pass_over_shared_nodes_leaves_both_right():
    from tinygrad_xor import autograd

    x = Value(2.0)
    h = x * 3.0  # in the outer graph and in both inner ones
    inner = {}

    def vjp(grad, out, y):
        with enable_grad():  # a first-order pass records nothing, as in PyTorch
            (inner["dx"],) = autograd.grad(h * h, x)  # 18 x = 36, no .grad changed
            (h * x).backward()  # adds 3x + h = 12 into x.grad and x = 2 into h.grad
        return (grad * 2.0,)

    double = primitive(lambda y: y * 2.0, vjp, name="double_nested")
    loss = double(h) + h * h
    loss.backward()
    assert inner["dx"].data == 36.0
    # outer: d/dh (2h + h^2) = 2 + 2h = 14, times 3 for x = 42; the inner backward adds 12 and 2
    assert x.grad == 42.0 + 12.0
    assert h.grad == 14.0 + 2.0
    x.zero_grad()
    h.zero_grad()
    loss.backward()  # and the slots the passes used are no one's now
    assert x.grad == 54.0


def test_a_backward_in_another_thread_waits_for_the_running_pass():
    x = Value(np.ones(4))
    started, release = threading.Event(), threading.Event()

    def vjp(grad, out, y):
        started.set()
        release.wait(10)
        return (grad,)

    slow = primitive(lambda y: y, vjp, name="slow")
    first = slow(x * 2.0).sum()
    second = (x * 3.0).sum()
    t = threading.Thread(target=first.backward)
    t.start()
    assert started.wait(10)
    other = threading.Thread(target=second.backward)
    other.start()
    other.join(0.2)
    assert other.is_alive()  # waits: passes are one at a time
    release.set()
    t.join()
    other.join()
    np.testing.assert_array_equal(x.grad, np.full(4, 5.0))
