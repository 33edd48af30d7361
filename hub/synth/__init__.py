"""Seeded synthetic data for the demo and the tests: a fictional county's extracts from every agency.

Everything here is fictional (codes E0199xxxx, postcodes in the unused "ZZ" area, made-up people), and
every extract comes with truth files, so the pipeline can be checked against known answers. Probation,
youth justice and school extracts draw their people from the police extract's pool, so the same people
recur across agencies as they do in life.
"""

from collections.abc import Callable

from hub.synth.ambulance import generate_ambulance_extract
from hub.synth.ed import generate_ed_extract
from hub.synth.extract import ExtractManifest
from hub.synth.people import PlantedPerson
from hub.synth.police import SynthManifest, generate_police_extract
from hub.synth.probation import generate_probation_extract
from hub.synth.referrals import generate_intervention_extract, generate_referral_extract
from hub.synth.schools import generate_school_extract
from hub.synth.truth import expected_counts
from hub.synth.youth_justice import generate_youth_justice_extract

SOURCE_GENERATORS: dict[str, Callable[..., ExtractManifest]] = {
    "ed_attendance": generate_ed_extract,
    "ambulance_callout": generate_ambulance_extract,
    "probation_event": generate_probation_extract,
    "youth_justice_event": generate_youth_justice_extract,
    "school_exclusion": generate_school_extract,
    "referral": generate_referral_extract,
    "intervention_activity": generate_intervention_extract,
}
"""Source -> generator of its extract (``out_dir`` and keyword options; each returns an ``ExtractManifest``).
The police extract has its own richer generator and manifest (``generate_police_extract``)."""

__all__ = [
    "SOURCE_GENERATORS",
    "ExtractManifest",
    "PlantedPerson",
    "SynthManifest",
    "expected_counts",
    "generate_ambulance_extract",
    "generate_ed_extract",
    "generate_intervention_extract",
    "generate_police_extract",
    "generate_probation_extract",
    "generate_referral_extract",
    "generate_school_extract",
    "generate_youth_justice_extract",
]
