"""The ``hub`` command: one entry point for connectors, the worker, the mart, keys, policy and the demo.

Built on typer. Each command group lives in its own module here (``hub/cli/<group>.py``) with a
``register(app)`` function; adding a group is that module plus one line in ``GROUPS``. Heavy imports
(Kafka, Faust, SQLAlchemy) happen inside the commands, so ``hub --help`` stays quick.

Exit codes (README, docs/agency-it.md "Errors and exit codes"): 0 success; 2 for bad input, bad
settings or files, usage errors and refusals (one ``error:`` line a problem on stderr, never a
traceback); 69 (EX_UNAVAILABLE) when Kafka does not answer; other codes only where a command documents
them (``hub connector check``: 1 if the sample file would be refused whole; ``hub demo``: 1 if a check
failed; 75 when ``hub worker`` stops without committing or ``hub connector load``'s reading process
dies or Kafka does not acknowledge a record it sent: run it again).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from hub import __version__
from hub.cli.common import SERVICE_UNAVAILABLE

# One line per command group, in the order ``hub --help`` lists them.
GROUPS = (
    "worker",
    "connector",
    "mart",
    "reference",
    "audit",
    "dlq",
    "keys",
    "policy",
    "synth",
    "demo",
    "bench",
    "linkage",
    "report",
    "reviews",
)

TRY_AGAIN = 75  # EX_TEMPFAIL: stopped part-way, nothing lost; run again (hub worker, hub connector load)
KAFKA_UNAVAILABLE = SERVICE_UNAVAILABLE  # 69, EX_UNAVAILABLE: a service the command needs is down; retry later

app = typer.Typer(name="hub", help="Serious Violence Data Hub", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)


def _version(value: bool) -> None:
    if value:
        print(f"hub {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="print the version and exit")] = False) -> None:
    """Serious Violence Data Hub"""


for _name in GROUPS:
    importlib.import_module(f"hub.cli.{_name}").register(app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``hub`` with ``argv`` (default: the process's arguments) and return the exit code."""
    from hub.config import SettingsError
    from hub.connectors.feed import ReadingFailed
    from hub.kafka_admin import KafkaUnavailable
    from hub.mart.store import MartNotInitialised
    from hub.policy import ConfigError, NoAgreementError, ReleaseRefused
    from hub.pseudonymisation import GeographyError, KeyRingError

    try:
        app(args=list(sys.argv[1:] if argv is None else argv), prog_name="hub")
    except SystemExit as exc:  # typer ends every run so: 0, a command's typer.Exit, or 2 for a usage error
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except ReleaseRefused as exc:
        print(f"error: release refused: {exc}", file=sys.stderr)
        return 2
    except NoAgreementError as exc:  # e.g. an unknown or misspelt source name
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KafkaUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return KAFKA_UNAVAILABLE
    except ReadingFailed as exc:  # hub connector load's reading process died, or a record went unacknowledged
        print(f"error: {exc}", file=sys.stderr)
        return TRY_AGAIN
    except (SettingsError, ConfigError, KeyRingError, GeographyError, MartNotInitialised) as exc:
        for line in str(exc).splitlines():  # a config file's problems come all at once, one per line
            print(f"error: {line}", file=sys.stderr)
        return 2
    return 0
