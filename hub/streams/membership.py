"""Consumer-group membership of the worker: static membership and the timeouts that bound recovery.

Why: with Faust's defaults (dynamic membership, 60 s session) a restarted worker waited 61-93 s before it
consumed again, because the group waited for the dead member's session to expire before it rebalanced.
With static membership (KIP-345, ``group.instance.id``) a restarted worker that presents the same instance
name replaces its dead predecessor at once and gets the same partitions, with no wait on the session.

The timeouts:

- session 10 s (``HUB_CONSUMER_SESSION_TIMEOUT_S``): how long Kafka waits for a member that does not come
  back (a crash without restart, a lost host, a scale-in; a static member does not leave the group on a clean
  stop either) before its partitions go to the others. Long enough to ride out a garbage-collection or a
  busy machine (heartbeats are sent every second), short enough that a lost worker stalls its partitions
  for seconds, not minutes. A dynamic member's replacement also waits at most this long.
- heartbeat 1 s: the other members notice a rebalance within a second.
- rebalance 20 s: how long the coordinator waits for every member to rejoin once a rebalance starts; a
  member still finishing a batch (a mart write) has that long before it is dropped from the generation.
  It rejoins afterwards: its uncommitted batch is redelivered, never lost.
"""

from __future__ import annotations

from typing import Any

from hub.config import Settings

HEARTBEAT_INTERVAL_S = 1.0
REBALANCE_TIMEOUT_S = 20.0


def group_instance_id(settings: Settings) -> str | None:
    """``<app id>-<worker instance>``: unique per worker slot, stable across restarts of that slot."""
    return f"{settings.app_id}-{settings.worker_instance}" if settings.worker_instance else None


def faust_options(settings: Settings) -> dict[str, Any]:
    """The ``faust.App`` settings for membership and its timeouts."""
    return {
        "consumer_group_instance_id": group_instance_id(settings),
        "broker_session_timeout": settings.consumer_session_timeout_s,
        "broker_heartbeat_interval": HEARTBEAT_INTERVAL_S,
        "broker_rebalance_timeout": REBALANCE_TIMEOUT_S,
    }
