"""``hub linkage train|link``: fit the linkage model on the token store; link a user's own extracts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import fail, group, settings

app = group("linkage", "person linkage: train the model, link your own extracts")


@app.command(help="fit the model with Splink on the restricted token store (svh.link.tokens) and write the "
                  "versioned model file the link stage loads (default HUB_LINKAGE_MODEL or data_dir)")
def train(out: Annotated[Path | None, typer.Option(help="model file to write")] = None,
          threshold: Annotated[float | None, typer.Option(help="match probability to link at")] = None) -> None:
    from hub import linkage_ops
    try:
        written = linkage_ops.train(settings(), out, threshold)
    except (ValueError, ImportError) as exc:
        fail(str(exc))
    print(f"wrote linkage model {written.version} (trained on {written.trained_on:,} mentions, threshold "
          f"{written.threshold:g}); restart the worker to load it")


@app.command(help="link the persons of your own extracts through the same mapping, pseudonymisation and model "
                  "as the stream; writes file,record_id,role,person_id")
def link(mapping: Annotated[list[Path], typer.Option("--mapping", help="connector mapping of the next FILE")],
         files: Annotated[list[Path], typer.Argument(help="one extract (de-duplicate) or two (link)")],
         out: Annotated[Path, typer.Option(help="clusters CSV to write")] = Path("clusters.csv"),
         one_to_one: Annotated[bool, typer.Option("--one-to-one", help="two files: each record matches at most "
                                                                      "one of the other file")] = False,
         dedupe: Annotated[bool, typer.Option("--dedupe", help="two files: also link records within each")] = False,
         model: Annotated[Path | None, typer.Option(help="model file (default: the worker's, else fitted "
                                                         "on these files)")] = None) -> None:
    from hub import linkage_ops
    from hub.cli.progress import counting
    if len(mapping) != len(files) or not 1 <= len(files) <= 2:
        fail("give one or two files, each after its --mapping")
    for path in files:
        if not path.is_file():
            fail(f"{path}: no such file")
    inputs = [linkage_ops.Input(m, f) for m, f in zip(mapping, files, strict=True)]
    with counting("linking", "rows") as update:
        result = linkage_ops.link_files(settings(), inputs, out, one_to_one=one_to_one, dedupe=dedupe,
                                        model_path=model, progress=update)
    print(f"{result.rows:,} rows, {result.mentions:,} person mentions, {result.persons:,} persons "
          f"(model {result.model}) -> {out}")


def register(root: typer.Typer) -> None:
    root.add_typer(app)
