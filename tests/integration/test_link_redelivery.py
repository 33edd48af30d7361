"""The link stage's redelivery race (#7), reproduced at a chosen point on the real broker.

A worker running the link stage links three token messages: e1 founds a person, e2 founds another (the
same common name, no date of birth), e3 bridges them (e2's person is merged into e1's). The worker is
SIGKILLed once all three are linked and committed; then the two things a crash leaves behind are made to
happen, not hoped for: the group's committed offset is set back to 1 (the kill came after e2's and e3's
linked events were published but before their offsets were committed), and e2's token message comes
again (the pseudonymiser redelivered its uncommitted batch). Before the fix the restarted worker
published e2 a second time under e1's person id (its current one, after the merge); now every mention
keeps the one id it was given, the events linked again are the ones linked before the kill (the rebuilt
index equals the pre-kill one), and everything equals a clean replay of the token topic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import pytest
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from hub import kafka_admin
from hub.config import Settings, load_settings
from hub.kafka_read import Message, read_topic
from hub.linkage import record_key
from hub.linkage.messages import LINK_TOKENS, LINKED_EVENT
from hub.linkage.model_file import DEFAULT_FILE
from hub.pseudonymisation import KeyRing, Tokeniser, load_keyring, save_key_file
from hub.schemas import RAW_SCHEMAS, default_repository
from hub.streams.link import LinkState, committed_offset
from hub.streams.process import WorkerProcess
from hub.topics import Topics
from tests.integration.faults import wait_until

pytestmark = pytest.mark.integration

SCHEMAS = default_repository()
PEOPLE = {  # event -> forename, surname, date of birth, postcode
    "ev-e1": ("John", "Smith", date(1990, 3, 4), None),
    "ev-e2": ("John", "Smith", None, "ZZ1 0FW"),
    "ev-e3": ("John", "Smith", date(1990, 3, 4), "ZZ1 0FW"),
}


@pytest.fixture
def link_settings(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Settings]:
    from tests.plugins.services import free_port, unique

    base = tmp_path_factory.mktemp("redelivery")
    prefix = unique("redeliver")
    settings = load_settings({}, data_dir=base, kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix,
                             app_id=f"{prefix}-worker", metrics_port=free_port())
    keys = base / "keys.json"
    save_key_file(KeyRing.generate(), keys)
    settings = settings.model_copy(update={"keys_file": keys})
    kafka_admin.ensure_topics(settings, RAW_SCHEMAS)
    yield settings


def _token_message(settings: Settings, event: str) -> bytes:
    ring = load_keyring(settings.keys_path)
    tok = Tokeniser(ring)
    forename, surname, dob, postcode = PEOPLE[event]
    tokens: dict[str, str] = {}
    tokens.update(tok.match_keys("forename", forename))
    tokens.update(tok.match_keys("surname", surname))
    tokens.update(tok.match_keys("dob", dob))
    tokens.update(tok.match_keys("postcode", postcode))
    tokens.update(tok.name_pair(forename, surname))
    message = {"event_id": event, "source": "police_incident", "key_id": ring.active, "occurred_date": None,
               "persons": [{"role": "victim", "sex": "M", "tokens": tokens}]}
    return SCHEMAS.encode(LINK_TOKENS, message)


def _publish(settings: Settings, events: list[str]) -> None:
    producer = KafkaProducer(**settings.kafka_python_kwargs(), acks="all")
    try:
        for event in events:
            producer.send(Topics(settings.topic_prefix).link_tokens, key=event.encode(),
                          value=_token_message(settings, event), partition=0)
        producer.flush(30)
    finally:
        producer.close()


def _linked(settings: Settings) -> list[Message]:
    return read_topic(settings, Topics(settings.topic_prefix).linked, timeout_s=30)


def _group_empty(settings: Settings) -> Callable[[], bool]:
    def empty() -> bool:
        admin = KafkaAdminClient(**settings.kafka_python_kwargs(), client_id="svh-test")
        try:
            info = admin.describe_groups([settings.app_id]).get(settings.app_id, {})
            return info.get("group_state") in ("Empty", "Dead")
        finally:
            admin.close()
    return empty


def _set_back(settings: Settings, offset: int) -> None:
    """The group's committed offset on the token topic, as if the kill had come before the last commits."""
    admin = KafkaAdminClient(**settings.kafka_python_kwargs(), client_id="svh-test")
    try:
        tp = TopicPartition(Topics(settings.topic_prefix).link_tokens, 0)
        errors = admin.alter_group_offsets(settings.app_id, {tp: OffsetAndMetadata(offset, "", -1)})
        assert all(e.__name__ == "NoError" for e in errors.values()), errors
    finally:
        admin.close()


def test_a_redelivered_mention_keeps_its_id_after_a_kill_at_a_chosen_point(link_settings: Settings) -> None:
    settings = link_settings
    tokens_topic = Topics(settings.topic_prefix).link_tokens
    _publish(settings, ["ev-e1", "ev-e2", "ev-e3"])
    worker = WorkerProcess(settings, settings.data_dir / "worker.log", stages="link").start()
    try:
        worker.wait_started(120)
        wait_until(lambda: len(_linked(settings)) == 3
                   and committed_offset(settings, tokens_topic, settings.app_id) == 3,
                   120, "the three mentions are linked and committed", poll_s=0.3)
        worker.kill()
        before = _linked(settings)
        decoded = [SCHEMAS.decode(m.value or b"", expect=LINKED_EVENT)[1] for m in before]
        assert decoded[2]["merges"], "e3 should merge e2's person into e1's (the race needs a merge)"
        wait_until(_group_empty(settings), 120, "the killed member has left the group (its session expired)",
                   poll_s=0.3)
        _set_back(settings, 1)  # e2 and e3 linked and published, their offsets never committed
        _publish(settings, ["ev-e2"])  # the pseudonymiser's redelivery: e2's token message once more
        worker = WorkerProcess(settings, settings.data_dir / "worker-2.log", stages="link").start()
        worker.wait_started(120)
        wait_until(lambda: len(_linked(settings)) == 6
                   and committed_offset(settings, tokens_topic, settings.app_id) == 4,
                   120, "the restarted worker has linked e2, e3 and the redelivered e2", poll_s=0.3)
    finally:
        worker.stop()
    after = _linked(settings)
    # The rebuilt index (replay to offset 1) linked e2 and e3 exactly as the pre-kill index did.
    assert [m.value for m in after[3:5]] == [m.value for m in before[1:3]]
    ids: dict[str, set[str]] = {}
    for m in after:
        event = SCHEMAS.decode(m.value or b"", expect=LINKED_EVENT)[1]
        for mention in event["mentions"]:
            ids.setdefault(record_key(event["event_id"], mention["role"]), set()).add(mention["person_id"])
    assert all(len(found) == 1 for found in ids.values()), f"a mention was published with two ids: {ids}"
    assert not SCHEMAS.decode(after[5].value or b"", expect=LINKED_EVENT)[1]["merges"]  # a merge goes out once
    state = LinkState(DEFAULT_FILE, SCHEMAS)
    clean = {}
    for m in read_topic(settings, tokens_topic):
        message = state.decode(m.value or b"")
        for role, assignment in state.link(message).items():
            clean.setdefault(record_key(str(message["event_id"]), role), assignment.person_id)
    assert {k: next(iter(v)) for k, v in ids.items()} == clean
    assert len(set(clean.values())) == 2  # e1 and e3 one person, e2 founded its own before the merge
