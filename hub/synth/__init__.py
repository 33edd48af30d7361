"""Seeded synthetic data for the demo and the integration tests: a fictional county's police extract.

Everything here is fictional (codes E0199xxxx, postcodes in the unused "ZZ" area, made-up people), and
every extract comes with truth files, so the pipeline can be checked against known answers.
"""

from hub.synth.people import PlantedPerson
from hub.synth.police import SynthManifest, generate_police_extract
from hub.synth.truth import expected_counts

__all__ = ["PlantedPerson", "SynthManifest", "expected_counts", "generate_police_extract"]
