"""Finding 10: a trust never holds the hub's key, and the hub never runs on a trust's key.

With the hub's key a trust could reverse any token by dictionary (about 36,000 dates of birth). Key files
say who holds them; the at-source connector refuses the hub's, the worker refuses an agency's, and the
worker refuses at-source events made with a hub key (tests/hostile/test_forged_events.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import load_settings
from hub.connectors.at_source import AtSourceError, make_publisher
from hub.policy import Agreement
from hub.pseudonymisation import KeyRing, load_keyring, save_key_file
from hub.pseudonymisation.keys import KeyCustodyError
from hub.schemas import default_repository
from hub.streams.worker import build


class NoProducer:
    def send(self, *_: object, **__: object) -> None:  # pragma: no cover - never reached
        raise AssertionError("nothing may be sent")


def test_an_at_source_connector_refuses_the_hubs_key(agreement: Agreement, tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    save_key_file(KeyRing.generate(), keys)  # what docs/governance.md used to tell operators to hand over
    settings = load_settings({}, data_dir=tmp_path)
    with pytest.raises(AtSourceError, match="hub's"):
        make_publisher(settings, "ed_attendance", default_repository(), agreement, load_keyring(keys), None,
                       tmp_path / "q", producer=NoProducer())  # type: ignore[arg-type]


def test_an_agency_key_is_accepted_at_the_source(agreement: Agreement, tmp_path: Path) -> None:
    keys = tmp_path / "agency.json"
    save_key_file(KeyRing.generate(holder="agency:example-hospitals"), keys)
    ring = load_keyring(keys)
    assert ring.holder == "agency:example-hospitals"
    settings = load_settings({}, data_dir=tmp_path)
    pub = make_publisher(settings, "ed_attendance", default_repository(), agreement, ring, None, tmp_path / "q",
                         producer=NoProducer())  # type: ignore[arg-type]
    assert pub.source == "ed_attendance"


def test_the_worker_refuses_an_agency_key(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    save_key_file(KeyRing.generate(holder="agency:example-hospitals"), keys)
    settings = load_settings({}, data_dir=tmp_path, keys_file=keys)
    with pytest.raises(KeyCustodyError, match="agency:example-hospitals"):
        build(settings, ("pseudonymise",))


def test_the_governance_guide_never_tells_operators_to_hand_the_hub_key_to_a_trust() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "governance.md").read_text("utf-8")
    assert "every at-source\n   connector" not in guide and "with the same key file" not in guide
    assert "## Key custody" in guide
