"""The long-lived connector commands of ``hub connector``: run, check and token.

Kept here, not in ``hub/cli.py``, so the command line only wires them in (``add_commands``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_run(args: argparse.Namespace) -> int:
    from hub import logs
    from hub.connectors.checkpoints import StateLocked
    from hub.connectors.config import load_config
    from hub.connectors.service import Runtime, run_once, run_service

    config = load_config(Path(args.config))
    logs.setup(config.log_level)
    if args.once and config.mode == "http":
        print(f"error: {config.path}: mode http serves requests until stopped; --once is for file_drop and "
              "database", file=sys.stderr)
        return 2
    try:
        if args.once:
            report = run_once(Runtime(config), handle_signals=True)
            print(json.dumps(report.as_dict()))
            return 0
        return run_service(config)
    except StateLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def cmd_check(args: argparse.Namespace) -> int:
    from hub.connectors.check import check

    code, lines = check(Path(args.config), Path(args.sample) if args.sample else None, args.rows)
    for line in lines:
        print(line)
    return code


def cmd_token(args: argparse.Namespace) -> int:
    from hub.connectors.http_push import add_token, new_token

    token, digest = new_token()
    entry = f"  - {{name: {args.name}, sha256: {digest}}}"
    if args.tokens_file:
        add_token(Path(args.tokens_file), args.name, digest)
        where = f"its SHA-256 was added to {args.tokens_file} (the connector picks it up without a restart)"
    else:
        where = f"add this line under 'tokens:' in the connector's tokens file:\n{entry}"
    print(f"token for {args.name} (give it to the agency system now; the hub keeps only its hash):\n"
          f"  {token}\n{where}")
    return 0


def add_commands(connector: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run``, ``check`` and ``token`` to the ``hub connector`` sub-commands."""
    run = connector.add_parser("run", help="run a connector from its config file as a service (file drop, "
                                           "database or HTTP push) with /metrics and /health")
    run.add_argument("config", help="the connector's YAML config")
    run.add_argument("--once", action="store_true",
                     help="process what is there now and exit (file drop, database), e.g. from cron")
    run.set_defaults(func=cmd_run)
    chk = connector.add_parser("check", help="validate a connector config and show what it would publish, "
                                             "without contacting Kafka")
    chk.add_argument("config", help="the connector's YAML config")
    chk.add_argument("sample", nargs="?", help="a sample extract (CSV) or .json list of records; default the "
                                               "first inbox file or the next rows of the table")
    chk.add_argument("--rows", type=int, default=5, help="rows to show (default 5)")
    chk.set_defaults(func=cmd_check)
    tok = connector.add_parser("token", help="make a bearer token for an HTTP push connector and print its hash")
    tok.add_argument("--name", default="agency-system", help="who will hold it (written beside the hash)")
    tok.add_argument("--tokens-file", help="append the hash to this tokens file (created mode 600 if missing)")
    tok.set_defaults(func=cmd_token)
