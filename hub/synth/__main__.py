"""`python -m hub.synth OUT_DIR [--seed N] [--incidents N] [--malformed N]`: write a synthetic extract."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.synth.police import generate_police_extract


def main(argv: list[str] | None = None) -> int:
    """Generate the files and report where they went."""
    parser = argparse.ArgumentParser(prog="python -m hub.synth", description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--incidents", type=int, default=3000)
    parser.add_argument("--malformed", type=int, default=12)
    args = parser.parse_args(argv)
    manifest = generate_police_extract(
        args.out_dir, seed=args.seed, incidents=args.incidents, malformed=args.malformed
    )
    sys.stdout.write(
        f"{manifest.extract_csv}: {manifest.rows_total} rows "
        f"({manifest.rows_valid} valid, {manifest.rows_malformed} malformed)\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
