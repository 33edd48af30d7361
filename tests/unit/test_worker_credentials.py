"""The worker speaks the Kafka security the settings ask for (the local broker has no TLS/SASL listener,
so this checks what is handed to Faust)."""

from __future__ import annotations

import faust

from hub.config import load_settings
from hub.streams.credentials import broker_credentials


def test_plaintext_has_no_credentials() -> None:
    assert broker_credentials(load_settings({})) is None


def test_sasl_settings_reach_faust() -> None:
    settings = load_settings({"HUB_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "HUB_SASL_MECHANISM": "SCRAM-SHA-512",
                              "HUB_SASL_USERNAME": "worker", "HUB_SASL_PASSWORD": "s3cret"})
    creds = broker_credentials(settings)
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.username == "worker" and creds.password == "s3cret"
    assert str(creds.mechanism.value if hasattr(creds.mechanism, "value") else creds.mechanism) == "SCRAM-SHA-512"
    assert creds.ssl_context is None


def test_sasl_ssl_carries_a_tls_context() -> None:
    settings = load_settings({"HUB_SECURITY_PROTOCOL": "SASL_SSL", "HUB_SASL_MECHANISM": "PLAIN",
                              "HUB_SASL_USERNAME": "w", "HUB_SASL_PASSWORD": "p"})
    creds = broker_credentials(settings)
    assert isinstance(creds, faust.SASLCredentials) and creds.ssl_context is not None


def test_ssl_only() -> None:
    creds = broker_credentials(load_settings({"HUB_SECURITY_PROTOCOL": "SSL"}))
    assert isinstance(creds, faust.SSLCredentials)
