"""Threads and interruptions: grad mode per thread, concurrent backward passes over shared
Values, and backward passes stopped by an exception or a KeyboardInterrupt at any point."""

from __future__ import annotations

import _thread
import threading
import time

import numpy as np
import pytest

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


def test_keyboard_interrupts_at_random_moments_never_leave_a_wrong_gradient():
    """Ctrl-C (interrupt_main) at random moments of long passes: counting, sending, adding."""
    n = 20_000
    x = Value(1.0)
    y = x
    for _ in range(n):
        y = y * 1.0 + 0.0
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    y.backward()
    full = time.perf_counter() - start
    assert x.grad == 1.0
    interrupted = 0
    for _ in range(15):
        delay = float(rng.uniform(0, full))
        timer = threading.Timer(delay, _thread.interrupt_main)
        timer.start()
        try:
            y.backward()
            time.sleep(delay)  # the interrupt may land after the pass: wait for it here
        except KeyboardInterrupt:
            interrupted += 1
        finally:
            timer.join()
        x.zero_grad()
        y.backward()  # the pass after an interrupt is right
        assert x.grad == 1.0
    assert interrupted >= 5


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
