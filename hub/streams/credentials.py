"""The worker's Kafka security, from the same settings the connectors use (TLS, SASL)."""

from __future__ import annotations

from typing import Any

from hub.config import Settings


def broker_credentials(settings: Settings) -> Any:
    """Faust credentials for ``settings.security_protocol``; ``None`` for PLAINTEXT."""
    import faust
    from aiokafka.helpers import create_ssl_context

    protocol = settings.security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        context = create_ssl_context(cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None,
                                     certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
                                     keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    return faust.SASLCredentials(username=settings.sasl_username, password=password,
                                 mechanism=settings.sasl_mechanism, ssl_context=context)
