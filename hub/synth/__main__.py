"""``python -m hub.synth OUT_DIR [--source S] [--seed N] [--rows N] [--malformed N]``: ``hub synth extract``.

The default source is police_incident (3,000 incidents); any other source with a generator writes its
agency's extract with ground truth (probation, youth justice and schools share the police people).
"""

from __future__ import annotations

import sys

from hub.cli import main

if __name__ == "__main__":
    sys.exit(main(["synth", "extract", *sys.argv[1:]]))
