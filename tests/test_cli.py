"""The command line's own behaviour: help, version, bad arguments (sub-commands have their own
tests beside the modules that own them)."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_xor.cli import COMMANDS, build_parser, main

PLOT = "--plot needs matplotlib: the 'plot' extra"  # the reason where it is not installed


def test_help_lists_every_sub_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_sub_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: tinygrad-xor {command}" in capsys.readouterr().out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_sub_command_is_implemented(command):
    import importlib

    module_name, function_name = COMMANDS[command]
    assert callable(getattr(importlib.import_module(module_name), function_name))


@pytest.mark.parametrize("argv, message", [
    ([], "required: COMMAND"),
    (["nope"], "invalid choice: 'nope'"),
    (["train"], "--recipe"),
    (["sweep", "--recipe", "blog", "--seeds", "0"], "from 1 to 1,000,000, got 0"),
    (["sweep", "--recipe", "blog", "--seeds", "1000000000"], "from 1 to 1,000,000"),
    (["sweep", "--recipe", "blog", "--steps", "0"], "from 1 to 100,000"),
    (["sweep", "--recipe", "blog", "--seeds", "ten"], "got 'ten'"),
    (["train", "--recipe", "blog", "--seed", "-1"], "from 0 to 4,294,967,295, got -1"),
    (["train", "--recipe", "blog", "--seed", "4294967296"], "from 0 to 4,294,967,295"),
    (["train", "--recipe", "blog", "--epochs", "0"], "from 1 to 1,000,000"),
    (["train", "--recipe", "blog", "--epochs", "2000000"], "from 1 to 1,000,000"),
    (["sweep", "--recipe", "blog", "--plot", "x.bmpq"], "must end in one of"),
    (["draw", "--format", "jpeg"], "invalid choice: 'jpeg'"),
    (["check", "--foo"], "usage: tinygrad-xor check"),
    (["check", "--foo", "x"], "unrecognized arguments: --foo x"),
])
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    if "--plot" in argv:
        pytest.importorskip("matplotlib", reason=PLOT)
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_version(capsys):
    from tinygrad_xor import __version__

    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"tinygrad-xor {__version__}"


def test_installed_entry_point_and_module_run():
    out = subprocess.run([sys.executable, "-m", "tinygrad_xor", "--help"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and "usage: tinygrad-xor" in out.stdout
    assert build_parser().prog == "tinygrad-xor"


def test_demo_trains_checks_and_draws(tmp_path, capsys):
    status = main(["demo", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "XOR solved" in out and "every reverse-mode gradient agrees" in out
    assert "W_grad of the post, transposed" in out
    written = sorted(p.suffix for p in tmp_path.iterdir())
    assert len(written) == 3 and set(written) <= {".svg", ".dot"}


@pytest.mark.parametrize("command", ["draw", "demo"])
def test_an_out_folder_that_cannot_be_made_is_refused_before_the_work(command, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--out", str(blocker / "drawings")])
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert "is not a folder" in err and out == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc takes no new files")
def test_a_folder_that_takes_no_files_is_refused_before_the_work(capsys):
    pytest.importorskip("matplotlib", reason=PLOT)
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--recipe", "blog", "--plot", "/proc/a.png"])
    assert exit_info.value.code == 2
    assert "cannot create a file in /proc" in capsys.readouterr().err


TOO_LONG = os.strerror(errno.ENAMETOOLONG)  # "File name too long"


def refusal(argv, capsys):
    """The stderr of ``main(argv)``, which must refuse it with a usage line and exit 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("usage: tinygrad-xor ") and "Traceback" not in err
    return err


@pytest.mark.parametrize("command", ["draw", "demo"])
def test_an_out_name_over_255_bytes_is_refused_in_the_systems_words(command, tmp_path, capsys):
    # it was a 49-line traceback (Path.exists raises for a name the system refuses)
    for out in ["a" * 300, str(tmp_path / ("a" * 300) / "drawings")]:
        assert f"(the system said: {TOO_LONG})" in refusal([command, "--out", out], capsys)


@pytest.mark.parametrize("command", ["sweep", "landscape"])
def test_a_plot_name_over_255_bytes_is_refused_in_the_systems_words(command, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason=PLOT)
    for plot in ["a" * 300 + ".png", str(tmp_path / ("a" * 300) / "x.png")]:
        err = refusal([command, "--recipe", "blog", "--seeds", "1", "--steps", "1",
                       "--plot", plot], capsys)
        assert f"argument --plot: {plot}: cannot be used (the system said: {TOO_LONG})" in err


def test_an_out_folder_that_leaves_no_room_for_the_file_names_is_refused(tmp_path, capsys):
    # each part is a legal name, the folder itself could be made, the files in it could not
    room = 4096 - len(str(tmp_path)) - 20
    parts = [("b" * 200)] * (room // 201) + ["c" * (room % 201 or 1)]
    out = str(tmp_path.joinpath(*parts))
    err = refusal(["draw", "--out", out, "--format", "dot"], capsys)
    assert "no room left in the path for the names of files inside it" in err
    assert not (tmp_path / parts[0]).exists()  # refused before anything was made


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32", reason="links")
def test_links_that_lead_nowhere_are_refused_before_the_work(tmp_path, capsys):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "nowhere").symlink_to(tmp_path / "missing" / "gone")
    (tmp_path / "nowhere.png").symlink_to(tmp_path / "missing" / "gone.png")
    err = refusal(["draw", "--out", str(tmp_path / "loop")], capsys)
    assert "cannot be used (the system said: " in err            # ELOOP, in the system's words
    err = refusal(["draw", "--out", str(tmp_path / "nowhere")], capsys)
    assert "is a link to" in err and "which does not exist" in err  # was exit 1 after the work
    pytest.importorskip("matplotlib", reason=PLOT)
    err = refusal(["sweep", "--recipe", "blog", "--plot", str(tmp_path / "nowhere.png")], capsys)
    missing = os.path.realpath(tmp_path / "missing")
    assert f"the folder {missing} does not exist" in err  # was exit 1 after the work


def test_an_empty_plot_name_is_refused_as_such(capsys):
    assert "--plot: must name a file, got an empty string" in refusal(
        ["sweep", "--recipe", "blog", "--plot", ""], capsys)


def test_a_pgf_plot_without_tex_is_refused_before_the_work(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib", reason=PLOT)
    # it was exit 1 after the whole sweep: matplotlib measures the plot's text with TeX
    monkeypatch.setattr("shutil.which", lambda name, *args, **kwargs: None)
    err = refusal(["sweep", "--recipe", "blog", "--seeds", "1", "--steps", "1", "--plot",
                   str(tmp_path / "x.pgf")], capsys)
    assert "a .pgf plot needs TeX" in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="names in bytes")
def test_a_folder_name_that_is_not_utf8_is_printed_back_not_a_traceback(tmp_path):
    # where the locale makes stdout strict (en_US.UTF-8), printing the paths raised
    # UnicodeEncodeError after the drawings were written
    out = os.fsencode(tmp_path) + b"/drawings\xff"
    run = subprocess.run([sys.executable, "-m", "tinygrad_xor", "draw", "--out", out,
                          "--format", "dot"], capture_output=True,
                         env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"})
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    assert out + b"/xor_network.dot" in run.stdout and b"Traceback" not in run.stderr


def this_checkout_env():
    """The environment of a command that imports this checkout's tinygrad_xor."""
    root = Path(__file__).resolve().parent.parent
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}


def run_in_a_terminal(argv):
    """Run ``python -m tinygrad_xor ARGV`` with a pseudo-terminal of 100 columns as its stdout
    and stderr, as someone at a terminal would; returns (exit status, everything it wrote, in
    the order it was written)."""
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    with subprocess.Popen([sys.executable, "-m", "tinygrad_xor", *argv], stdin=subprocess.DEVNULL,
                          stdout=slave, stderr=slave, env=this_checkout_env()) as proc:
        os.close(slave)
        written = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal is closed: the command has ended
                break
            if not chunk:
                break
            written += chunk
        os.close(master)
    return proc.returncode, written.decode(errors="replace")


def progress_before(text, desc, end):
    """The counts ``n/total`` that the bar labelled ``desc`` drew before ``end`` (a regular
    expression of the first line printed after the work) was printed."""
    stop = re.search(end, text)
    assert stop, text
    counts = []
    for line in re.split(r"[\r\n]+", text[:stop.start()]):
        found = re.search(r"(\d[\d,]*)/(\d[\d,]*)", line) if desc in line else None
        if found:
            counts.append(tuple(int(n.replace(",", "")) for n in found.groups()))
    return counts


@pytest.mark.parametrize("argv, bars, end", [
    (["sweep", "--recipe", "blog", "--seeds", "10", "--steps", "300"], ["sweep"],
     r"solved XOR: "),
    (["landscape", "--recipe", "sigmoid-momentum", "--seeds", "10", "--steps", "200"],
     ["landscape: training", "landscape: way out"], r"\d+ solve XOR, \d+ do not"),
])
def test_long_commands_show_progress_on_a_terminal_while_they_work(argv, bars, end):
    """`landscape` printed nothing for minutes, and `sweep` up to 10,000 seeds showed no bar:
    on a terminal each shows a bar over its steps, drawn while it works, before its report."""
    pytest.importorskip("tqdm", reason="the bar is tqdm's: the 'progress' extra")
    status, text = run_in_a_terminal(argv)
    assert status == 0, text
    header = text.index("recipe ")
    for desc in bars:
        counts = progress_before(text, desc, end)
        assert text.index(desc) > header  # the header says what will run, first
        total = counts[-1][1]
        assert counts[-1] == (total, total) and total >= 200
        assert len({n for n, _ in counts if 0 < n < total}) >= 50, counts  # in between, too


def test_long_commands_are_silent_when_piped():
    run = subprocess.run([sys.executable, "-m", "tinygrad_xor", "sweep", "--recipe", "blog",
                          "--seeds", "3", "--steps", "300"], capture_output=True, text=True,
                         env=this_checkout_env())
    assert run.returncode == 0 and run.stderr == ""
    assert "/300" not in run.stdout and "solved XOR" in run.stdout


# -- compile --------------------------------------------------------------------------------


@pytest.mark.parametrize("recipe", ["blog", "keras", "sigmoid-momentum", "wide-tanh-adam"])
def test_compile_prints_the_header_and_the_generated_step(recipe, capsys):
    from tinygrad_xor.xor.compiled import compile_step

    assert main(["compile", "--recipe", recipe, "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    step = compile_step(recipe, backend="numpy")
    assert out == f"{step.header()}\n\n{step.source}"
    assert out.startswith(f"recipe {recipe}: ") and "(backend numpy)" in out
    assert f"\ndef {recipe.replace('-', '_')}_step(x0, x1, x2, x3" in out


def test_compile_uses_auto_by_default(capsys):
    assert main(["compile", "--recipe", "blog"]) == 0
    out = capsys.readouterr().out
    assert "(backend auto, which chose python)" in out and "\ndef blog_step(" in out


@pytest.mark.parametrize("argv, message", [
    (["compile"], "the following arguments are required: --recipe"),
    (["compile", "--recipe", "goodfellow"],
     "'goodfellow' has fixed weights and no training step; choose from: blog, keras,"),
    (["compile", "--recipe", "nope"], "'nope' is not a recipe; choose from: blog"),
    (["compile", "--recipe", "blog", "--backend", "cuda"],
     "unknown backend 'cuda'; choose from: auto, numpy"),
    (["compile", "--recipe", "blog", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_compile_usage_errors_exit_2(argv, message, capsys):
    assert message in refusal(argv, capsys)


def test_compile_without_numba_says_how_to_install_it(capsys, monkeypatch):
    from tinygrad_xor import compiler

    monkeypatch.setattr(compiler, "BACKENDS", ("auto", "numpy", "python", "vector"))
    err = refusal(["compile", "--recipe", "blog", "--backend", "numba"], capsys)
    assert "the 'numba' backend needs numba: pip install 'tinygrad_xor[numba]'" in err
