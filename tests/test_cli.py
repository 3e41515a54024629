"""The command line's own behaviour: help, version, bad arguments (sub-commands have their own
tests beside the modules that own them)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tinygrad_xor.cli import COMMANDS, build_parser, main


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
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--recipe", "blog", "--plot", "/proc/a.png"])
    assert exit_info.value.code == 2
    assert "cannot create a file in /proc" in capsys.readouterr().err
