"""Seeded synthetic data for the demo and the tests: a fictional county's extracts from every agency.

Everything here is fictional (codes E0199xxxx, postcodes in the unused "ZZ" area, made-up people), and
every extract comes with truth files, so the pipeline can be checked against known answers. Probation,
youth justice and school extracts draw their people from the police extract's pool, so the same people
recur across agencies as they do in life.
"""

import importlib
import pkgutil
from pathlib import Path

from hub.synth.ambulance import generate_ambulance_extract
from hub.synth.ed import generate_ed_extract
from hub.synth.extract import ExtractManifest, Generator
from hub.synth.people import PlantedPerson
from hub.synth.police import SynthManifest, generate_police_extract
from hub.synth.probation import generate_probation_extract
from hub.synth.schools import generate_school_extract
from hub.synth.truth import expected_counts
from hub.synth.youth_justice import generate_youth_justice_extract


def _generators() -> dict[str, Generator]:
    """The ``GENERATOR`` of every module here that declares one (only those modules are imported)."""
    found: dict[str, Generator] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if "\nGENERATOR = " not in (Path(__path__[0]) / f"{info.name}.py").read_text("utf-8"):
            continue
        generator = getattr(importlib.import_module(f"{__name__}.{info.name}"), "GENERATOR", None)
        if isinstance(generator, Generator):
            found[generator.source] = generator
    return found


SOURCE_GENERATORS: dict[str, Generator] = _generators()
"""Source -> generator of its extract, found by the ``GENERATOR`` each generator module declares (``out_dir``,
``rows`` and keyword options; each returns an ``ExtractManifest``). The police extract has its own richer
generator and manifest (``generate_police_extract``)."""

__all__ = [
    "SOURCE_GENERATORS",
    "ExtractManifest",
    "Generator",
    "PlantedPerson",
    "SynthManifest",
    "expected_counts",
    "generate_ambulance_extract",
    "generate_ed_extract",
    "generate_police_extract",
    "generate_probation_extract",
    "generate_school_extract",
    "generate_youth_justice_extract",
]
