"""``hub keys init|rotate|show``: the pseudonymisation key file (never printing key material)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import fail, group, settings

app = group("keys", "pseudonymisation keys")

FileOpt = Annotated[Path | None, typer.Option("--file", help="the key file (default: HUB_KEYS_FILE, else "
                                                              "data_dir/keys.json)")]


def _path(file: Path | None) -> Path:
    return file if file else settings().keys_path


@app.command(help="create a key file (mode 600)")
def init(file: FileOpt = None,
         agency: Annotated[str | None, typer.Option(
             help="party id: a key for that agency's at-source connector, never the hub's")] = None,
         force: Annotated[bool, typer.Option("--force", hidden=True)] = False) -> None:
    from hub.pseudonymisation import KeyRing, save_key_file
    path = _path(file)
    if path.exists() and not force:
        fail(f"{path} exists; keys are never overwritten (use 'hub keys rotate')")
    ring = KeyRing.generate(holder=f"agency:{agency}" if agency else "hub")
    save_key_file(ring, path)
    print(f"wrote key file {path} (mode 600) with active key id {ring.active}, held by {ring.holder}")


@app.command(help="add a new active key; old keys stay for re-tokenising")
def rotate(file: FileOpt = None,
           overlap_days: Annotated[float, typer.Option(
               help="days the previous key also makes tokens, so linkage survives (default 90; 0: none)")] = 90
           ) -> None:
    from hub.pseudonymisation.keys import load_key_file, save_key_file
    path = _path(file)
    ring = load_key_file(path)
    old = ring.active
    new = ring.rotate(overlap_days=overlap_days)
    save_key_file(ring, path)
    print(f"rotated {path}: active key {old} -> {new}; event ids stay on key {ring.event_key}")
    for kid, until in ring.overlap.items():
        print(f"overlap: tokens are also made with {kid} until {until.isoformat(timespec='seconds')}; "
              "restart every worker and at-source connector with this key file")


@app.command(help="key ids, the active and event keys, overlaps (never key material)")
def show(file: FileOpt = None) -> None:
    from hub.pseudonymisation.keys import load_key_file
    path = _path(file)
    ring = load_key_file(path)
    print(f"key file {path}: active {ring.active}; event ids on {ring.event_key}")
    for kid in ring.keys:
        until = ring.overlap.get(kid)
        state = "active" if kid == ring.active else (f"overlap until {until.isoformat(timespec='seconds')}"
                                                     if until else "kept for re-tokenising")
        print(f"  {kid}  created {ring.created.get(kid) or '?'}  {state}")


def register(root: typer.Typer) -> None:
    root.add_typer(app)
