"""The benchmark harness: check every backend, time them interleaved, print the table.

Nine workloads (`workloads.py`), each run by every installed backend, interleaved
(A B A B ...), after a warm-up, several times; the table gives each backend's median time per
step and the ratio of tinygrad_xor's median to each reference's, eager and, where the workload
has a compiled row, compiled (`jit`). Every backend of a workload is first checked to follow
the hand-written NumPy (or plain-float) baseline's loss trajectory to 1e-9 in float64, so a
fast wrong engine cannot pass. Run it with ``python
benchmarks/run.py`` (``--quick`` for a short run) or ``make bench``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from workloads import (
    OURS,
    OURS_JIT,
    WORKLOADS,
    Workload,
    import_torch,
    jit_backend,
    optional,
    w3_tinygrad,
)

from tinygrad_xor import Value

__all__ = ["available", "check", "measure", "run", "table", "Result", "Extra", "rss_bytes",
           "xor_memory_growth", "chain_bytes_per_node", "chain_memory", "keep_freed_memory"]

HERE = Path(__file__).resolve().parent


def available(workload: Workload) -> tuple[list[str], list[str]]:
    """(backends that can run, one-line notes about the ones that cannot)."""
    names, notes = [], []
    for name in workload.backends:
        module = workload.modules.get(name, "")
        if module and optional(module) is None:
            notes.append(f"{workload.id}: {name} is not installed; skipped")
        else:
            names.append(name)
    return names, notes


def check(workload: Workload, steps: int = 5, params: dict[str, Any] | None = None,
          tol: float = 1e-9) -> dict[str, float]:
    """Run every installed backend for `steps` steps; each must follow the baseline to `tol`.

    Returns the largest relative difference from the baseline per backend; raises
    AssertionError if one is above `tol`.
    """
    kwargs = dict(workload.tiny if params is None else params)
    names, _ = available(workload)
    expected = np.array(workload.backends[workload.baseline](**kwargs)(steps))
    errors = {}
    for name in names:
        if name == workload.baseline:
            continue
        got = np.array(workload.backends[name](**kwargs)(steps))
        if got.shape != expected.shape:
            raise AssertionError(f"{workload.id} {name}: {got.shape} results, expected "
                                 f"{expected.shape}")
        err = float(np.max(np.abs(got - expected) / np.maximum(1.0, np.abs(expected))))
        errors[name] = err
        if not err <= tol:
            raise AssertionError(f"{workload.id} {name}: loss trajectory differs from "
                                 f"{workload.baseline} by {err:.3g} (> {tol:g})\n"
                                 f"  {name}: {got[:6]}\n  {workload.baseline}: {expected[:6]}")
    return errors


def rss_bytes() -> int:
    """This process's resident memory in bytes (Linux /proc; else peak RSS from resource)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)


def xor_memory_growth(steps: int = 100_000, warmup: int = 1_000) -> int:
    """Bytes of RSS the XOR network's training (W3) gains after its first `warmup` steps."""
    train = w3_tinygrad()
    train(warmup)
    gc.collect()
    before = rss_bytes()
    done = warmup
    while done < steps:  # in chunks, so the list of losses does not grow with the run
        chunk = min(1_000, steps - done)
        train(chunk)
        done += chunk
    gc.collect()
    return rss_bytes() - before


def chain_bytes_per_node(name: str, length: int) -> float:
    """Peak memory per graph node of a W2 chain of `length` steps, forward and backward.

    Run it in a fresh process (`chain_memory`): the peak RSS of this process less its RSS
    before the chain, divided by the 2 * length nodes.
    """
    gc.collect()
    before = rss_bytes()
    if name == OURS:
        x0 = x = Value(1.0)
        for _ in range(length):
            x = x * 0.999 + 0.001
    else:
        torch = import_torch()
        x0 = x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
        for _ in range(length):
            x = x * 0.999 + 0.001
    x.backward()
    peak = _peak_rss()
    del x, x0
    return max(0, peak - before) / (2 * length)


def _peak_rss() -> int:
    """Peak resident memory of this process in bytes.

    Linux's VmHWM belongs to this program; ru_maxrss (the fallback) may be the parent's peak,
    as Linux carries it across exec.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def chain_memory(name: str, length: int) -> float | None:
    """`chain_bytes_per_node` measured in a fresh Python process (None if that fails)."""
    import subprocess

    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); "
            f"from harness import chain_bytes_per_node as f; print(f({name!r}, {length}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    try:
        return float(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


# -- running and printing -----------------------------------------------------------------------


@dataclass
class Extra:
    """A measure of a workload beside its times per step: a row of the table of its own."""

    text: str           # the measure, as printed
    target: str = ""    # "<= 500", "<= 50 ms"
    met: str = ""       # "yes", "NO" or ""
    jit: bool = False   # a measure of the compiled row: its target goes in the jit columns


@dataclass
class Result:
    """Median seconds per step of each backend of one workload, and how they were measured."""

    workload: Workload
    medians: dict[str, float]
    samples: dict[str, list[float]]
    notes: list[str]
    extra: dict[str, Extra] = field(default_factory=dict)


def measure(workload: Workload, *, quick: bool = False, repeat: int = 5,
            log: Callable[[str], None] = print) -> Result:
    """Time every installed backend of `workload`, interleaved, after a warm-up."""
    names, notes = available(workload)
    kwargs = dict(workload.full)
    if quick:
        kwargs.update(workload.quick)
    block = workload.quick_block if quick else workload.block
    log(f"{workload.id}: checking against {workload.baseline} ...")
    check(workload)
    trainers = {name: workload.backends[name](**kwargs) for name in names}
    samples: dict[str, list[float]] = {name: [] for name in names}
    for name in names:             # warm-up: caches, lazy imports, first allocations
        trainers[name](1)
    compiled = getattr(trainers.get(OURS_JIT), "compiled", None)
    if compiled is not None:
        notes.append(f"{workload.id}: {OURS_JIT} runs on jit's {jit_backend(compiled)} backend "
                     f"(asked for {compiled.backend!r})")
    for r in range(repeat):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            gc.collect()
            start = time.perf_counter()
            trainers[name](block)
            samples[name].append((time.perf_counter() - start) / block)
        log(f"{workload.id}: round {r + 1}/{repeat}: " + ", ".join(
            f"{n} {_fmt(samples[n][-1])}" for n in names))
    medians = {name: statistics.median(s) for name, s in samples.items()}
    result = Result(workload, medians, samples, notes)
    if workload.id == "W2":
        length = kwargs.get("length", 10**6)
        for name in names:
            if name in (OURS, "torch"):
                log(f"W2: peak memory of {name}'s chain, in a fresh process ...")
                per_node = chain_memory(name, length)
                if per_node is not None:
                    ours = name == OURS
                    result.extra[f"{name} bytes/node"] = Extra(
                        f"{per_node:.0f}", "<= 500" if ours else "",
                        ("yes" if per_node <= 500 else "NO") if ours else "")
    for name, first_call in workload.first_calls.items():
        if name not in names:
            continue
        log(f"{workload.id}: first call of a freshly compiled {name}, {repeat} times ...")
        seconds = statistics.median(first_call() for _ in range(repeat))
        limit = workload.first_call_target if name == OURS_JIT else None
        result.extra[f"{name} first call"] = Extra(
            _fmt(seconds), "" if limit is None else f"<= {limit * 1e3:g} ms",
            "" if limit is None else "yes" if seconds <= limit else "NO", jit=True)
    return result


def _fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def machine() -> str:
    """One line naming the machine, Python, NumPy and the BLAS it uses."""
    bits = [platform.machine(), f"{os.cpu_count()} cores", f"Python {platform.python_version()}",
            f"NumPy {np.__version__}"]
    tp = optional("threadpoolctl")
    if tp is not None:
        for info in tp.threadpool_info():
            if info.get("user_api") == "blas":
                bits.append(f"{info.get('internal_api')} {info.get('version')} "
                            f"({info.get('architecture')}, {info.get('num_threads')} threads)")
                break
    for env in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(env):
            bits.append(f"{env}={os.environ[env]}")
    for mod in ("torch", "micrograd", "jax"):
        m = optional(mod)
        if m is not None:
            bits.append(f"{mod} {getattr(m, '__version__', '0.1.0')}")
    return ", ".join(bits)


def table(results: Sequence[Result]) -> str:
    """The results as one Markdown table.

    "ours / this" is tinygrad_xor's eager median over the row's, "jit / this" (columns shown
    when a workload has a compiled row) its compiled median over the row's; each with the
    workload's target for that pair and whether the run met it."""
    jit = any(OURS_JIT in r.medians or any(e.jit for e in r.extra.values()) for r in results)
    head = ["workload", "backend", "median per step", "ours / this", "target", "met"]
    if jit:
        head += ["jit / this", "target", "met"]
    lines = [_row(head), "|" + "---|" * len(head)]
    for res in results:
        w = res.workload
        ours, compiled = res.medians.get(OURS), res.medians.get(OURS_JIT)
        per = f"per {w.unit}" if w.unit != "step" else ""
        for name, med in res.medians.items():
            cells = [w.id, name, f"{_fmt(med)} {per}".rstrip()]
            cells += _ratio(None if name in (OURS, OURS_JIT) else ours, med, w.targets.get(name))
            if jit:
                cells += _ratio(None if name == OURS_JIT else compiled, med,
                                w.jit_targets.get(name))
            lines.append(_row(cells))
        for key, extra in res.extra.items():
            own = ["", extra.target, extra.met]
            cells = [w.id, key, extra.text] + (["", "", ""] if extra.jit else own)
            if jit:
                cells += own if extra.jit else ["", "", ""]
            lines.append(_row(cells))
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _ratio(ours: float | None, theirs: float, target: float | None) -> list[str]:
    """The cells ratio, target, met of ``ours / theirs`` (empty without ours)."""
    if ours is None:
        return ["", "", ""]
    ratio = ours / theirs
    if target is None:
        return [f"{ratio:.3f}", "", ""]
    return [f"{ratio:.3f}", f"<= {target:g}", "yes" if ratio <= target else "NO"]


def set_threads(n: int) -> list[str]:
    """Use `n` threads in PyTorch and in NumPy's BLAS (threadpoolctl), and with n = 1 in JAX's
    XLA (its flags, set before JAX is imported); returns what was set.

    Where the system allows it (Linux), the process is also pinned to `n` of the CPUs it may
    run on: XLA's CPU client sizes its thread pool by the CPUs it sees and runs a matrix
    product on two threads despite its flags (seen with jax 0.10.2), so without the pin the
    "one thread each" of a table would hold for every backend but JAX."""
    done = []
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if n < len(allowed):
        tasks = Path("/proc/self/task")  # every thread (threads started later inherit it)
        for tid in [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [0]:
            with contextlib.suppress(OSError):  # (a thread that ended meanwhile)
                os.sched_setaffinity(tid, allowed[:n])
        done.append(f"CPUs {n} (affinity)")
    torch = optional("torch")
    if torch is not None:
        torch.set_num_threads(n)
        done.append(f"torch {n}")
    tp = optional("threadpoolctl")
    if tp is not None:
        tp.threadpool_limits(n)
        done.append(f"BLAS {n}")
    if n == 1 and "jax" not in sys.modules:  # XLA reads its flags when JAX starts its backend
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()
        done.append("XLA 1")
    return done


#: glibc's mallopt parameters, and the values `keep_freed_memory` sets: big blocks come from the
#: heap (up to glibc's 32 MiB limit) and freed memory stays in the process.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP = {_M_MMAP_THRESHOLD: 32 << 20, _M_TRIM_THRESHOLD: 1 << 30}


def keep_freed_memory() -> str:
    """Make glibc's malloc keep the memory a process frees, for every backend alike.

    By default glibc hands big freed blocks back to the operating system and decides when by
    the history of the process (its thresholds move as blocks are freed), so a workload that
    frees a few MB at every step may page all of it in again at the next one, or not, depending
    on what ran before. On a virtual machine those page faults can be half of W5's time.
    Fixing the thresholds makes every backend run under the same, stated allocator. Returns a
    note for the table; does nothing off glibc.
    """
    import ctypes
    import ctypes.util

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "malloc: not glibc, left as it is"
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    if not all(libc.mallopt(param, value) for param, value in _KEEP.items()):
        return "malloc: glibc refused mallopt, left as it is"
    return "malloc: glibc keeps freed memory (M_MMAP_THRESHOLD 32 MiB, M_TRIM_THRESHOLD 1 GiB)"


def run(workloads: Sequence[str] | None = None, *, quick: bool = False, repeat: int = 5,
        memory: bool = True, threads: int | None = None, keep_memory: bool = True,
        log: Callable[[str], None] = print) -> list[Result]:
    """Measure the named workloads (all by default) and print the table."""
    unknown = [w for w in workloads or () if w.upper() not in WORKLOADS]
    if unknown:
        raise ValueError(f"unknown workload {', '.join(unknown)}; choose from: "
                         f"{', '.join(WORKLOADS)}")
    if threads is not None:
        log("threads: " + (", ".join(set_threads(threads)) or "nothing to set"))
    allocator = keep_freed_memory() if keep_memory else "malloc: as the system set it"
    log(allocator)
    results = []
    notes: list[str] = []
    for wid in workloads or list(WORKLOADS):
        res = measure(WORKLOADS[wid.upper()], quick=quick, repeat=repeat, log=log)
        notes += res.notes
        results.append(res)
    print()
    print(f"machine: {machine()}" + (f"; torch threads {import_torch().get_num_threads()}"
                                      if optional("torch") is not None else "") + f"; {allocator}")
    print()
    print(table(results))
    for note in notes:
        print(f"note: {note}")
    if memory:
        steps = 10_000 if quick else 100_000
        grown = xor_memory_growth(steps)
        print(f"memory: XOR training, {steps:,} steps, grew RSS by {grown / 1e6:.3f} MB after "
              f"the first 1,000 steps (target < 1 MB: {'met' if grown < 1e6 else 'NOT met'})")
    return results
