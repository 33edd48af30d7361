"""The ``hub`` command's surface: the commands it lists, its exit codes, and how a group is added."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hub.cli import GROUPS, main

COMMANDS = {"worker", "connector", "mart", "reference", "audit", "dlq", "keys", "policy", "synth", "demo", "bench",
            "linkage", "report", "reviews"}
SUBCOMMANDS = {
    "connector": {"load", "run", "check", "token"},
    "mart": {"init", "counts", "export", "report", "dictionary", "purge", "match-incidents"},
    "audit": {"list"},
    "dlq": {"list", "show", "replay"},
    "keys": {"init", "rotate", "show"},
    "policy": {"check"},
    "synth": {"police", "extract"},
    "bench": {"core", "pipeline", "connector", "linkage", "hotspots"},
    "linkage": {"train", "link"},
    "report": {"sna", "assurance", "screenshot", "sample-mart"},
    "reviews": {"list", "status", "rules"},
    "reference": {"load"},
}


def listed(help_text: str) -> set[str]:
    """Command names in the Commands panel of a help screen."""
    panel = help_text.split("Commands", 1)[1]
    # a name stands in the panel's first column; a wrapped help line is indented past it
    return set(re.findall(r"^\W?\s?([a-z][a-z_-]*)\s{2,}", panel, flags=re.MULTILINE))


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert listed(capsys.readouterr().out) == COMMANDS == set(GROUPS)


@pytest.mark.parametrize("group", sorted(SUBCOMMANDS))
def test_group_help_lists_its_commands(group: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([group, "--help"]) == 0
    assert listed(capsys.readouterr().out) == SUBCOMMANDS[group]


@pytest.mark.parametrize("argv", [[], ["mart", "counts", "--geography", "street"], ["mart", "counts", "--bogus"],
                                  ["nonsense"], ["keys"], ["bench", "connector", "--incidents", "-5"],
                                  ["bench", "connector", "--repeats", "0"], ["bench", "core", "--incidents", "0"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("hub ")


def test_python_m_hub_is_the_same_command() -> None:
    done = subprocess.run([sys.executable, "-m", "hub", "connector", "--help"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and listed(done.stdout) == SUBCOMMANDS["connector"]


def test_python_m_hub_synth_is_hub_synth_extract(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "hub.synth", str(tmp_path), "--source", "ed_attendance", "--rows",
                           "10", "--malformed", "1"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip().endswith("11 rows (10 valid, 1 malformed)")
    refused = subprocess.run([sys.executable, "-m", "hub.synth", str(tmp_path), "--source", "gp_records"],
                             capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 2 and refused.stderr.startswith("error: no synthetic generator for source 'gp_")
