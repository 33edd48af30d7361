"""`python -m hub.synth OUT_DIR [--source S] [--seed N] [--rows N] [--malformed N]`: write a synthetic extract.

The default source is police_incident (3,000 incidents); any other source of ``SOURCE_GENERATORS`` writes
its agency's extract with ground truth (probation, youth justice and schools share the police people).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.synth import SOURCE_GENERATORS
from hub.synth.police import generate_police_extract


def main(argv: list[str] | None = None) -> int:
    """Generate the files and report where they went."""
    parser = argparse.ArgumentParser(prog="python -m hub.synth", description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--source", default="police_incident", choices=["police_incident", *SOURCE_GENERATORS])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rows", "--incidents", dest="rows", type=int, default=None,
                        help="valid rows (default 3000 incidents, or the generator's own default)")
    parser.add_argument("--malformed", type=int, default=None)
    args = parser.parse_args(argv)
    extra = {k: v for k, v in (("malformed", args.malformed),) if v is not None}
    if args.source == "police_incident":
        manifest = generate_police_extract(args.out_dir, seed=args.seed, incidents=args.rows or 3000,
                                           malformed=args.malformed if args.malformed is not None else 12)
        path, total, valid = manifest.extract_csv, manifest.rows_total, manifest.rows_valid
        bad = manifest.rows_malformed
    else:
        out = SOURCE_GENERATORS[args.source](args.out_dir, seed=args.seed, rows=args.rows, **extra)
        path, total, valid, bad = out.extract_csv, out.rows_total, out.rows_valid, out.rows_malformed
    sys.stdout.write(f"{path}: {total} rows ({valid} valid, {bad} malformed)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
