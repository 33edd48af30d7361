"""What every command group shares: the settings, and how a refusal is reported.

A refusal is one line on stderr starting ``error:`` and exit code 2 (``REFUSED``); a command that
succeeds returns normally (exit 0). Usage errors (an unknown option, a bad choice) are typer's and
also exit 2, as argparse's did.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from hub.config import Settings

REFUSED = 2  # bad input, a refused release, an unusable setting (README: exit codes)
SERVICE_UNAVAILABLE = 69  # EX_UNAVAILABLE: a service the command needs is down; retrying later may work


def settings() -> Settings:
    """The process's settings (``HUB_*`` variables, ``HUB_CONFIG`` YAML), loaded when a command needs them."""
    from hub.config import load_settings

    return load_settings()


def fail(message: str, code: int = REFUSED) -> NoReturn:
    """Stop the command with one ``error:`` line on stderr and a non-zero exit code."""
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def exit_with(code: int) -> None:
    """End a command with ``code`` (a no-op for 0), for commands whose logic returns an exit code."""
    if code:
        raise typer.Exit(code)


def group(name: str, help: str) -> typer.Typer:  # noqa: A002 - typer's own parameter name
    """A sub-command group (``hub NAME ...``) with the root's conventions."""
    return typer.Typer(name=name, help=help, no_args_is_help=True, add_completion=False)
