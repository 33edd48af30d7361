"""The privacy boundary: keys, keyed tokens, generalisation, and applying an agreement to a record.

Pure code (no Kafka, Faust or database): the hub's worker and at-source connectors use the same
library, so a health body can pseudonymise inside its own network exactly as the hub would.
"""

from hub.pseudonymisation.geography import Area, GeographyError, PostcodeLookup
from hub.pseudonymisation.keys import KeyRing, KeyRingError, load_keyring, save_key_file
from hub.pseudonymisation.pseudonymiser import PseudonymisationError, PseudonymisedEvent, Pseudonymiser
from hub.pseudonymisation.tokens import Tokeniser, event_id

__all__ = [
    "Area",
    "GeographyError",
    "KeyRing",
    "KeyRingError",
    "PostcodeLookup",
    "PseudonymisationError",
    "PseudonymisedEvent",
    "Pseudonymiser",
    "Tokeniser",
    "event_id",
    "load_keyring",
    "save_key_file",
]
