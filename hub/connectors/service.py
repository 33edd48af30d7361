"""``hub connector run``: one connector as a long-lived service.

The ``Service`` drives a mode (``hub.connectors.mode.Mode``) from an asyncio loop: pull modes poll
on one worker thread (kafka-python blocks), push modes serve (``Mode.serve``), and ``/metrics`` and
``/health`` are served beside them. SIGTERM stops after the current unit of work (a file's current
batch, a page, a request). What a mode shares (publishing, checkpoints, health) is the ``Runtime``
in ``hub.connectors.runtime``; which mode runs comes from ``hub.connectors.registry``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from hub import logs, metrics
from hub.connectors.base import RunReport
from hub.connectors.mode import Mode
from hub.connectors.registry import make_mode
from hub.connectors.runtime import Runtime
from hub.connectors.sections import ConnectorConfig

log = logs.get(__name__)


def run_once(runtime: Runtime, handle_signals: bool = False) -> RunReport:
    """Process everything there is now, then return (``hub connector run --once``, cron-style, and tests).
    With ``handle_signals``, SIGTERM/SIGINT stop it at the next checkpoint, as they stop the service."""
    if handle_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: runtime.stop.set())
    runtime.state.open()
    mode = make_mode(runtime)
    try:
        if not mode.pull:
            raise ValueError(f"mode {runtime.config.mode} serves requests; it cannot run --once")
        while not runtime.stop.is_set() and mode.poll():
            pass
    finally:
        mode.close()
        runtime.close()
    return runtime.health.totals


class Service:
    """Runs a ``Runtime``'s mode until SIGTERM/SIGINT, with ``/metrics`` and ``/health``."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.stopping = asyncio.Event()
        self.work = ThreadPoolExecutor(1, thread_name_prefix="svh-connector")

    def request_stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stop requested; finishing the current unit of work",
                     extra={"source": self.runtime.config.source})
        self.runtime.stop.set()
        self.stopping.set()

    async def run(self) -> int:
        rt = self.runtime
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        rt.state.open()
        health_runner = await self._serve_health()
        probe = asyncio.create_task(self._probe_loop())
        mode: Mode | None = None
        try:
            mode = await loop.run_in_executor(self.work, make_mode, rt)
            log.info("connector started", extra={"source": rt.config.source, "stage": rt.config.mode,
                                                 "path": str(rt.config.path)})
            if mode.pull:
                rt.health.ready = True
                await self._pull(mode)
            else:
                await mode.serve(self)
        finally:
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
            await loop.run_in_executor(self.work, self._close, mode)
            self.work.shutdown(wait=True)
            if health_runner is not None:
                await health_runner.cleanup()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        log.info("connector stopped", extra={"source": rt.config.source, **rt.health.totals.as_dict()})
        return 0

    def _close(self, mode: Mode | None) -> None:
        if mode is not None:
            mode.close()
        try:
            self.runtime.close()
        except Exception as exc:  # noqa: BLE001 - Kafka gone at shutdown: nothing unacknowledged was checkpointed
            log.error("could not flush on stop; unacknowledged records will be re-read",
                      extra={"source": self.runtime.config.source, "error": type(exc).__name__})

    async def _pull(self, mode: Mode) -> None:
        loop = asyncio.get_running_loop()
        poll_s = mode.idle_seconds
        backoff = 1.0
        while not self.stopping.is_set():
            try:
                busy = await loop.run_in_executor(self.work, mode.poll)
                backoff = 1.0
            except Exception as exc:  # noqa: BLE001 - keep serving; retry with back-off
                self.runtime.discard_sink()
                self.runtime.health.failed(exc)
                log.error("unit of work failed; will retry", extra={"source": self.runtime.config.source,
                                                                    "error": type(exc).__name__,
                                                                    "seconds": backoff})
                await self.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            if not busy:
                await self.sleep(poll_s)

    async def sleep(self, seconds: float) -> None:
        """Sleep, waking early on a stop request."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _probe_loop(self) -> None:
        loop = asyncio.get_running_loop()
        every = self.runtime.config.health.kafka_probe_seconds
        while True:
            await loop.run_in_executor(None, self.runtime.probe_kafka)
            await asyncio.sleep(every)

    async def _serve_health(self) -> web.AppRunner | None:
        cfg = self.runtime.config.health
        if not cfg.port:
            return None
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, cfg.host, cfg.port).start()
        log.info("serving /metrics and /health", extra={"port": cfg.port})
        return runner

    async def _health(self, request: web.Request) -> web.Response:
        h = self.runtime.health
        return web.json_response(h.as_dict(), status=200 if h.status == "ok" else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        body, content_type = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})


def run_service(config: ConnectorConfig) -> int:
    """Build the runtime and serve until stopped (the body of ``hub connector run``)."""
    runtime = Runtime(config)
    return asyncio.run(Service(runtime).run())
