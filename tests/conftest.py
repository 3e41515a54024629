"""Hypothesis profiles: `ci` (thorough, set by .ci/run) and `dev` (quick, the default); the
`record_bars` fixture, which records what progress bars are told."""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


class RecordingBar:
    """Stands in for `train._progress`: keeps what each bar was told."""

    def __init__(self, bars, total, *, desc, unit, **options):
        self.total, self.desc, self.unit, self.counts, self.closed = total, desc, unit, [], False
        bars.append(self)

    def update(self, n=1, loss=None):
        self.counts.append((self.counts[-1] if self.counts else 0) + n)

    def close(self):
        self.closed = True


@pytest.fixture
def record_bars(monkeypatch):
    """``record_bars(*modules)``: their progress bars (``_progress``) replaced by
    `RecordingBar`s; returns the list the bars made go into."""
    def record(*modules):
        bars = []
        for module in modules:
            monkeypatch.setattr(module, "_progress",
                                lambda total, **kw: RecordingBar(bars, total, **kw))
        return bars

    return record


@pytest.fixture(autouse=True, scope="session")
def _cache_in_a_temporary_folder(tmp_path_factory):
    """jit's numba backend writes its modules under $XDG_CACHE_HOME: the tests' go to a folder
    of their own (subprocesses inherit it), not the user's ~/.cache."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old
