"""Kafka ACLs for a secured broker: each principal gets exactly what its job needs (docs/ops.md, "ACLs").

A connector writes its own source's topic (raw, or ``atsource`` for a source pseudonymised at the source)
and its dead-letter topic, and reads nothing. The worker reads the hub's topics, writes the topics after
the boundary, and owns its consumer group and Faust's internal topics. Operators use ``svh-admin``
(a super user) to create topics and these ACLs. Run by ``deploy/kafka-secure.sh acls``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
    ResourceType,
)

from hub.topics import Topics

Grant = tuple[str, ResourceType, str, ACLResourcePatternType, ACLOperation]


def connector_principal(source: str) -> str:
    return f"connector-{source}"


def grants(prefix: str, app_id: str, sources: Iterable[str], at_source: Iterable[str]) -> list[Grant]:
    """(principal, resource type, name, pattern type, operation) for every ACL the hub needs."""
    t = Topics(prefix)
    literal, prefixed = ACLResourcePatternType.LITERAL, ACLResourcePatternType.PREFIXED
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    health = set(at_source)
    out: list[Grant] = []
    for source in sources:
        own = t.at_source(source) if source in health else t.raw(source)
        for name in (own, t.dlq(source)):
            out.append((connector_principal(source), topic, name, literal, ACLOperation.WRITE))
    worker = "svh-worker"
    for op in (ACLOperation.READ, ACLOperation.WRITE, ACLOperation.CREATE, ACLOperation.DESCRIBE_CONFIGS):
        out.append((worker, topic, f"{prefix}.", prefixed, op))
        out.append((worker, topic, app_id, prefixed, op))  # Faust's own topics (leader, changelogs)
    out.append((worker, group, app_id, prefixed, ACLOperation.READ))
    return out


def bindings(items: Iterable[Grant]) -> list[ACL]:
    return [ACL(principal=f"User:{who}", host="*", operation=op, permission_type=ACLPermissionType.ALLOW,
                resource_pattern=ResourcePattern(rtype, name, pattern))
            for who, rtype, name, pattern, op in items]


def apply(admin: KafkaAdminClient, items: Iterable[Grant]) -> int:
    """Create the ACLs (creating an existing ACL is a no-op in Kafka); returns how many were sent."""
    acls = bindings(items)
    result = admin.create_acls(acls)
    failed = result.get("failed") or []
    if failed:
        raise RuntimeError(f"{len(failed)} ACL(s) were refused by the broker")
    return len(acls)


def main() -> int:
    from hub.policy import example_agreement_path, load_agreement

    env = os.environ
    agreement = load_agreement(env.get("HUB_AGREEMENT_PATH") or example_agreement_path())
    sources = env.get("SVH_ACL_SOURCES", "").split() or sorted(agreement.sources)
    at_source = [s for s in sources if s in agreement.sources and agreement.sources[s].pseudonymise_at == "source"]
    admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{env['SVH_ACL_PORT']}", security_protocol="SASL_PLAINTEXT",
                             sasl_mechanism="SCRAM-SHA-512", sasl_plain_username="svh-admin",
                             sasl_plain_password=env["SVH_ACL_ADMIN_PASSWORD"], client_id="svh-acls")
    try:
        n = apply(admin, grants(env.get("SVH_ACL_PREFIX", "svh"), env.get("SVH_ACL_APP_ID", "svh-worker"),
                                sources, at_source))
    finally:
        admin.close()
    sys.stdout.write(f"kafka-secure: {n} ACLs in place (docs/ops.md lists them)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
