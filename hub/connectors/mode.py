"""The deployment-mode contract: how records reach a long-lived connector (a folder, a table, HTTP pushes).

A mode is one file in ``hub/connectors/modes/``: a ``Mode`` subclass declared with
``class FileDrop(Mode, mode="file_drop", settings=FileDropConfig)``. The declaration registers it;
the registry finds the file; the config accepts ``mode: file_drop`` with a ``file_drop:`` section
validated by ``FileDropConfig``; ``hub connector check`` shows what ``describe`` says and what
``sample`` reads; the service runs ``poll`` (pull modes) or ``serve`` (push modes). Publishing,
checkpoint timing, health and metrics come from the ``Runtime`` so every mode keeps the same guarantees.
"""

from __future__ import annotations

import asyncio
from abc import ABC
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Protocol

from hub.connectors.base import SourceRecord
from hub.connectors.runtime import Runtime
from hub.connectors.sections import ModeSettings

MODES: dict[str, type[Mode]] = {}
"""Mode name -> class; filled by ``Mode.__init_subclass__``, completed by ``hub.connectors.registry``."""


class ServiceHandle(Protocol):
    """What a push mode's ``serve`` gets from the service running it (``hub.connectors.service.Service``)."""

    stopping: asyncio.Event  # set on SIGTERM/SIGINT: stop accepting, finish in-flight work
    work: ThreadPoolExecutor  # the one thread that publishes (kafka-python blocks and is not thread-safe)


class Mode(ABC):
    """A deployment mode. Pull modes implement ``poll``: do at most one unit of work (a file, a page) and
    say whether there was any. Push modes set ``pull = False`` and implement ``serve``."""

    name: ClassVar[str]
    settings_model: ClassVar[type[ModeSettings]]
    pull: ClassVar[bool] = True
    sample_hint: ClassVar[str] = ""  # how else ``hub connector check`` could find a sample, e.g. " or drop ..."

    def __init_subclass__(cls, mode: str = "", settings: type[ModeSettings] | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if mode:
            if settings is None:
                raise TypeError(f"mode {mode} must declare its settings section: settings=<a ModeSettings class>")
            cls.name = mode
            cls.settings_model = settings
            MODES[mode] = cls

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @classmethod
    def describe(cls, runtime: Runtime) -> list[str]:
        """Lines for ``hub connector check``: what this mode would use (without publishing anything).
        May raise ``ConfigError`` when a setting cannot work (a missing column, an unreadable file)."""
        return [f"{cls.name}: {runtime.config.mode_settings.model_dump(mode='json')}"]

    @property
    def idle_seconds(self) -> float:
        """How long a pull mode waits after a poll found nothing."""
        return 5.0

    def poll(self) -> bool:
        """One unit of work if there is one (blocking); True if something was done."""
        raise NotImplementedError(f"mode {self.name} is not a pull mode")

    async def serve(self, service: ServiceHandle) -> None:
        """A push mode: accept records until ``service.stopping`` is set."""
        raise NotImplementedError(f"mode {self.name} is a pull mode")

    def sample(self, limit: int) -> list[SourceRecord]:
        """Up to ``limit`` records this mode would read next, without publishing or checkpointing."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook; most modes hold nothing to release
        """Release connections and files."""
