"""``hub connector load|run|check|token``: publishing agency extracts, and the long-lived connector service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import exit_with, fail, group, settings
from hub.cli.progress import counting

app = group("connector", "agency connectors")


@app.command(help="publish one extract file to the hub (one shot)")
def load(source: Annotated[str, typer.Argument(help="source name, e.g. police_incident")],
         file: Annotated[Path, typer.Argument(help="the extract (CSV)")],
         mapping: Annotated[Path | None, typer.Option(
             help="field mapping YAML (default: the source's standard mapping)")] = None,
         lookup: Annotated[Path | None, typer.Option(help="postcode lookup CSV to validate postcodes against")]
         = None,
         metrics: Annotated[bool, typer.Option("--metrics", help="serve /metrics while loading")] = False,
         max_faulty_percent: Annotated[float, typer.Option(
             min=0, max=100, help="refuse the whole file if more than this share of its rows cannot be read as "
                                  "CSV (default 50); below it each such row is dead-lettered")] = 50.0) -> None:
    from hub import kafka_admin, logs
    from hub import metrics as hub_metrics
    from hub.connectors import default_mapping_path, load_mapping
    from hub.connectors.load import publish_file
    from hub.policy import load_agreement
    from hub.pseudonymisation import PostcodeLookup

    s = settings()
    logs.setup(s.log_level)
    policy = load_agreement(s.agreement_file()).source(source)
    if policy.pseudonymise_at == "source":
        # This command sends raw records to the hub: a health body's data must be pseudonymised inside it.
        fail(f"{source} is pseudonymised at the source; use 'hub connector run CONFIG' inside the agency, which "
             "pseudonymises before anything leaves")
    lookup_path = lookup or s.postcode_lookup
    postcodes = PostcodeLookup.from_csv(Path(lookup_path)) if lookup_path else None
    field_mapping = load_mapping(mapping or default_mapping_path(source), postcodes)
    if field_mapping.source != source:
        fail(f"mapping {field_mapping.path} is for source {field_mapping.source}, not {source}")
    from hub.connectors.load import check_file
    check_file(file, field_mapping, max_faulty_percent)  # before Kafka: a bad file is refused at once
    kafka_admin.ensure_topics(s, [source], timeout_s=15)  # one clear line if Kafka is down, not minutes
    if metrics:
        hub_metrics.serve(s.metrics_port, s.metrics_host)
    with counting(f"publishing {file.name}") as update:
        report = publish_file(s, field_mapping, file, on_progress=update, max_faulty_percent=max_faulty_percent)
        update(report.read)
    print(json.dumps(report.as_dict()))


@app.command(help="run a connector from its config file as a service (file drop, database or HTTP push) with "
                  "/metrics and /health")
def run(config: Annotated[Path, typer.Argument(help="the connector's YAML config")],
        once: Annotated[bool, typer.Option(
            "--once", help="process what is there now and exit (file drop, database), e.g. from cron")] = False
        ) -> None:
    from hub import logs
    from hub.connectors import registry
    from hub.connectors.checkpoints import StateLocked
    from hub.connectors.config import load_config
    from hub.connectors.runtime import Runtime
    from hub.connectors.service import run_once, run_service

    cfg = load_config(config)
    logs.setup(cfg.log_level)
    if once and not registry.mode_class(cfg.mode).pull:
        pull = [m for m in registry.mode_names() if registry.mode_class(m).pull]
        fail(f"{cfg.path}: mode {cfg.mode} serves requests until stopped; --once is for {' and '.join(pull)}")
    try:
        if once:
            report = run_once(Runtime(cfg), handle_signals=True)
            print(json.dumps(report.as_dict()))
            return
        exit_with(run_service(cfg))
    except StateLocked as exc:
        fail(str(exc))


@app.command(help="validate a connector config and show what it would publish, without contacting Kafka")
def check(config: Annotated[Path, typer.Argument(help="the connector's YAML config")],
          sample: Annotated[Path | None, typer.Argument(
              help="a sample extract (CSV) or .json list of records; default the first inbox file or the next "
                   "rows of the table")] = None,
          rows: Annotated[int, typer.Option(help="rows to show (default 5)")] = 5) -> None:
    from hub.cli.progress import reading
    from hub.connectors.check import check as check_config

    code, lines = check_config(config, sample, rows, progress=reading)
    for line in lines:
        print(line)
    exit_with(code)


@app.command(help="make a bearer token for an HTTP push connector and print its hash")
def token(name: Annotated[str, typer.Option(help="who will hold it (written beside the hash)")] = "agency-system",
          tokens_file: Annotated[Path | None, typer.Option(
              help="append the hash to this tokens file (created mode 600 if missing)")] = None) -> None:
    from hub.connectors.modes.http_push import add_token, new_token

    secret, digest = new_token()
    entry = f"  - {{name: {name}, sha256: {digest}}}"
    if tokens_file:
        add_token(tokens_file, name, digest)
        where = f"its SHA-256 was added to {tokens_file} (the connector picks it up without a restart)"
    else:
        where = f"add this line under 'tokens:' in the connector's tokens file:\n{entry}"
    print(f"token for {name} (give it to the agency system now; the hub keeps only its hash):\n"
          f"  {secret}\n{where}")


def register(root: typer.Typer) -> None:
    root.add_typer(app)
