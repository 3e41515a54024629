"""codegen_elements.inline: a value used once written into the line that uses it, exactly."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_xor.codegen_elements import inline

#: Numbers that round (a regrouped sum or product gives other bits) and special ones: the same
#: operations on them must give the same bits, NaN and -0.0 included
NUMBERS = st.one_of(st.floats(-1e3, 1e3), st.sampled_from(
    [0.0, -0.0, 3.0e300, -1.0e-300, math.inf, -math.inf, math.nan]))
NAMESPACE = {"f": lambda a, b: a - 2.0 * b, "g": lambda a: -a}


@st.composite
def programs(draw):
    """Lines ``vK = expr`` over the arguments x0..x3 and earlier lines, as the backends write
    them: infix chains of one or two precedences, calls, conditionals, operands inside other
    expressions (no ``/`` by a value, which may raise: the backends write none); some values
    used twice, some never, the last few returned."""
    names = ["x0", "x1", "x2", "x3"]
    body = []
    for k in range(draw(st.integers(1, 25))):
        pick = st.sampled_from(names) | st.sampled_from(names[-3:])  # (recent: used once)
        kind = draw(st.sampled_from(["infix", "chain", "call", "cond", "neg", "mean", "keep"]))
        if kind == "infix":
            expr = f"{draw(pick)} {draw(st.sampled_from('+-*'))} {draw(pick)}"
        elif kind == "chain":  # a matmul's element: products summed from the left
            terms = [f"{draw(pick)} * {draw(pick)}" if draw(st.booleans()) else draw(pick)
                     for _ in range(draw(st.integers(2, 4)))]
            expr = " + ".join(terms)
        elif kind == "call":
            expr = f"f({draw(pick)}, {draw(pick)})"
        elif kind == "cond":
            x = draw(pick)
            expr = f"(0.0 if {x} <= 0.0 else {x})"
        elif kind == "mean":  # (a mean's line: operands inside an expression in parentheses)
            expr = f"({draw(pick)} - {draw(pick)}) / 3.0"
        elif kind == "keep":
            expr = f"({draw(pick)} * 2.0 if {draw(pick)} > 0.5 else 0.0)"
        else:
            expr = f"g({draw(pick)})"
        name = f"v{k}"
        body.append(f"    {name} = {expr}")
        names.append(name)
    results = draw(st.lists(st.sampled_from(names[4:]), min_size=1, max_size=3, unique=True))
    return body, results


def _run(body, results, args):
    text = "\n".join(["def step(x0, x1, x2, x3):", *body,
                      f"    return ({', '.join(results)},)"]) + "\n"
    namespace = dict(NAMESPACE)
    exec(compile(text, "<test>", "exec"), namespace)  # noqa: S102
    try:
        return namespace["step"](*args)
    except ZeroDivisionError:
        return "ZeroDivisionError"


def _bits(values):
    return values if isinstance(values, str) else [
        "nan" if v != v else (v, math.copysign(1.0, v)) for v in values]


@settings(max_examples=300, deadline=None)
@given(programs(), st.lists(NUMBERS, min_size=4, max_size=4))
def test_inlined_lines_compute_the_same_bits(program, args):
    body, results = program
    inlined = inline(body, results)
    assert len(inlined) <= len(body)
    assert _bits(_run(inlined, results, args)) == _bits(_run(body, results, args))


def test_values_used_once_are_inlined_with_parentheses_only_where_needed():
    body = ["    a = x0 * x1", "    b = x2 + a", "    c = x3 - b", "    d = c * x0",
            "    e = f(d, x1)", "    k = x0 - x1", "    m = k * k"]
    assert inline(body, ["e", "m"]) == [
        "    e = f((x3 - (x2 + x0 * x1)) * x0, x1)", "    k = x0 - x1", "    m = k * k"]
    assert inline(["    a = x0 - x1", "    b = (x2 - a) / 3.0"], ["b"]) == [
        "    b = (x2 - (x0 - x1)) / 3.0"]
    # a result keeps its name even where a later line uses it once
    assert inline(["    a = x0 + x1", "    b = a * x2"], ["a", "b"]) == [
        "    a = x0 + x1", "    b = a * x2"]


def test_a_long_chain_is_cut_into_lines_python_can_compile():
    body = ["    a0 = x0 + x1"] + [f"    a{k} = a{k - 1} + x{k % 4}" for k in range(1, 5000)]
    inlined = inline(body, ["a4999"])
    assert 1 < len(inlined) < 5000 // 20
    assert _run(inlined, ["a4999"], [1.0, 2.0, 3.0, 4.0]) == _run(body, ["a4999"],
                                                                  [1.0, 2.0, 3.0, 4.0])
