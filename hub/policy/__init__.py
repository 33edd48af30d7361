"""Information-sharing agreements: load, validate, and answer "may field F of source S flow, and how"."""

from importlib import resources
from pathlib import Path

from hub.policy.agreement import (
    Agreement,
    Disclosure,
    NoAgreementError,
    Output,
    ReleaseProfile,
    ReleaseRefused,
    SourcePolicy,
    load_agreement,
)
from hub.yamlsource import ConfigError


def example_agreement_path() -> Path:
    """The example county agreement shipped with the hub (used by the demo)."""
    return Path(str(resources.files("hub.policy").joinpath("agreements/example-county.yaml")))


__all__ = [
    "Agreement",
    "ConfigError",
    "Disclosure",
    "NoAgreementError",
    "Output",
    "ReleaseProfile",
    "ReleaseRefused",
    "SourcePolicy",
    "example_agreement_path",
    "load_agreement",
]
