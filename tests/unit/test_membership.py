"""Static group membership and the timeouts that bound recovery (hub.streams.membership)."""

from __future__ import annotations

import pytest

from hub.config import SettingsError, load_settings
from hub.streams import membership


def test_static_membership_names_the_instance_within_the_app() -> None:
    opts = membership.faust_options(load_settings({}, app_id="svh-worker", worker_instance="host-1"))
    assert opts["consumer_group_instance_id"] == "svh-worker-host-1"
    assert opts["broker_session_timeout"] == 10.0
    assert opts["broker_heartbeat_interval"] * 3 <= opts["broker_session_timeout"] <= opts["broker_rebalance_timeout"]


def test_without_an_instance_membership_is_dynamic() -> None:
    assert membership.faust_options(load_settings({}))["consumer_group_instance_id"] is None


def test_the_instance_and_session_come_from_the_environment_and_are_checked() -> None:
    s = load_settings({"HUB_WORKER_INSTANCE": "worker-2", "HUB_CONSUMER_SESSION_TIMEOUT_S": "30"})
    assert membership.group_instance_id(s) == "svh-worker-worker-2" and s.consumer_session_timeout_s == 30
    with pytest.raises(SettingsError, match="HUB_WORKER_INSTANCE"):
        load_settings({"HUB_WORKER_INSTANCE": "two words"})
    with pytest.raises(SettingsError, match="HUB_CONSUMER_SESSION_TIMEOUT_S"):
        load_settings({"HUB_CONSUMER_SESSION_TIMEOUT_S": "0.5"})
