"""HTTP push: an agency system POSTs JSON records; the connector answers once Kafka has them.

``POST /v1/records`` with ``Authorization: Bearer <token>`` and a body that is a JSON list of objects
keyed by the mapping's column names (or ``{"records": [...]}``). The answer, 200, lists one result per
record, ``{"index", "status": "accepted"|"rejected", "reason"}``, and is sent only after every accepted
record is acknowledged by Kafka, so a 200 means "safe to forget". Rejected records are dead-lettered
and counted. 401 for a missing or unknown token, 413 for a body over the limit, 400 for a body that
is not JSON records, 503 (retry later) if Kafka did not acknowledge; resending is harmless because
event ids are deterministic.

Tokens: the tokens file holds only SHA-256 hashes; a presented token is hashed and compared with each
in constant time. The file is re-read when it changes, so a token can be added or revoked live.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import ssl
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import yaml
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub import logs, metrics
from hub.connectors.base import SourceRecord
from hub.connectors.checkpoints import write_atomic
from hub.connectors.json_records import json_record
from hub.connectors.mode import Mode, ServiceHandle
from hub.connectors.runtime import Runtime
from hub.connectors.sections import ModeSettings, Port
from hub.yamlsource import ConfigError, load_model, matching

log = logs.get(__name__)


class HttpConfig(ModeSettings):
    host: str = Field("127.0.0.1", description="Address to listen on; loopback unless a reverse proxy or TLS.")
    port: Port = Field(8480, description="Port to listen on.")
    path: Annotated[str, matching(r"/[A-Za-z0-9/_.-]*", "must start with '/' and hold only letters, digits, '/', "
                                                        "'_', '.' or '-'")] = Field(
        "/v1/records", description="URL path records are POSTed to.")
    tokens_file: Path = Field(description="YAML list of SHA-256 hashes of the bearer tokens allowed to post.")
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Bigger requests get 413.")
    max_records: int = Field(5000, ge=1, description="More records in one request get 413.")
    tls_certfile: Path | None = Field(None, description="Serve HTTPS with this certificate (PEM).")
    tls_keyfile: Path | None = Field(None, description="Private key of tls_certfile (PEM).")
    plaintext_behind_proxy: bool = Field(False, description="Allow plain HTTP on a non-loopback address, for a "
                                                           "TLS-terminating reverse proxy on a private network.")
    header_timeout_s: float = Field(10.0, gt=0, le=300, description="A request's line and headers must arrive "
                                                                    "within this; else the connection is closed.")
    body_timeout_s: float = Field(60.0, gt=0, le=3600, description="Its body must arrive within this after the "
                                                                   "headers; else the connection is closed.")

    @model_validator(mode="after")
    def _tls_pair(self) -> HttpConfig:
        if bool(self.tls_certfile) != bool(self.tls_keyfile):
            raise ValueError("give both tls_certfile and tls_keyfile, or neither")
        if not self.tls_certfile and not self.plaintext_behind_proxy and not _loopback(self.host):
            raise ValueError(f"host {self.host} is not a loopback address: records would travel in clear and "
                             "bearer tokens with them; give tls_certfile and tls_keyfile (or, behind a "
                             "TLS-terminating proxy, plaintext_behind_proxy: true)")
        return self


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Deadlines(asyncio.Protocol):
    """Wraps aiohttp's protocol for one connection: a request's headers must arrive within ``header_s`` of
    its first byte (or of the connection), and its body within ``body_s`` after them, or the connection is
    closed. aiohttp has no header timeout, so a client trickling headers (slowloris) would hold a
    connection, and a worker slot, for as long as it likes."""

    MAX_HEAD = 64 * 1024

    def __init__(self, inner: Any, header_s: float, body_s: float) -> None:
        self.inner = inner
        self.header_s, self.body_s = header_s, body_s
        self._head = bytearray()
        self._body_left: int | None = None  # None: reading headers; -1: chunked until the last chunk
        self._timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.inner.connection_made(transport)
        self._arm(self.header_s)

    def _arm(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        metrics.HTTP_REQUESTS.labels("unknown", "timeout").inc()
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        self._track(data)
        self.inner.data_received(data)

    def _track(self, data: bytes) -> None:
        while data:
            if self._body_left is None:  # in the headers
                if not self._head and self._timer is None:
                    self._arm(self.header_s)  # the first byte of the next request on a kept-alive connection
                self._head += data
                end = self._head.find(b"\r\n\r\n")
                if end < 0:
                    if len(self._head) > self.MAX_HEAD:
                        self._head = self._head[-4:]  # aiohttp answers 431; keep only what finds the end
                    return
                head, data = bytes(self._head[:end]), bytes(self._head[end + 4:])
                self._head = bytearray()
                self._body_left = _body_length(head)
                self._arm(self.body_s)
            if self._body_left == -1:  # chunked: until the last chunk
                self._head += data
                if b"0\r\n\r\n" in self._head:
                    self._head = bytearray()
                    self._request_done()
                elif len(self._head) > 8:
                    self._head = self._head[-8:]
                return
            take = min(self._body_left, len(data))
            self._body_left -= take
            data = data[take:]
            if self._body_left == 0:
                self._request_done()

    def _request_done(self) -> None:
        self._body_left = None
        self._disarm()

    def eof_received(self) -> bool | None:
        return bool(self.inner.eof_received())

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


def _body_length(head: bytes) -> int:
    """Content-Length of a request head (0 if none), or -1 for a chunked body."""
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"transfer-encoding" and b"chunked" in value.lower():
            return -1
        if name == b"content-length" and value.strip().isdigit():
            length = int(value.strip())
    return length


def new_token() -> tuple[str, str]:
    """A fresh bearer token and the SHA-256 (hex) to put in the tokens file."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_token(path: Path, name: str, digest: str) -> None:
    """Append a token hash to a tokens file (created mode 600 if missing)."""
    if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", name):
        raise ValueError("a token name is letters, digits and _ . @ - only")
    data = (yaml.safe_load(path.read_text("utf-8")) if path.exists() else None) or {}
    tokens = list(data.get("tokens") or []) if isinstance(data, dict) else []
    tokens.append({"name": name, "sha256": digest})
    text = "# SHA-256 of each bearer token allowed to push records (never the tokens themselves).\n"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, (text + yaml.safe_dump({"tokens": tokens}, sort_keys=False)).encode("utf-8"))


class TokenEntry(BaseModel):
    """One allowed token: who holds it, and the SHA-256 of the token (never the token itself)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str | None = Field(None, description="Who holds the token (an agency system), for the logs.")
    sha256: str = Field(description="SHA-256 of the token, 64 hex digits (hub connector token prints one).")

    @model_validator(mode="before")
    @classmethod
    def _hash_only(cls, value: Any) -> Any:
        if not isinstance(value, dict) or set(value) - {"name", "sha256"}:
            raise ValueError("must be {name: <who holds it>, sha256: <hash of the token>}; never the token itself")
        return value

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        digest = value.lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("must be 64 hex digits (hub connector token prints one)")
        return digest


class TokensFile(BaseModel):
    """The tokens file: ``tokens: [{name: ..., sha256: <64 hex>}, ...]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tokens: list[TokenEntry]


class Tokens:
    """The allowed token hashes, from a YAML file: ``tokens: [{name: ..., sha256: <64 hex>}, ...]``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime: float | None = None
        self._hashes: list[tuple[str, bytes]] = []
        self.reload()

    def reload(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot read the tokens file ({exc.strerror})") from None
        if mtime == self._mtime:
            return
        parsed, _ = load_model(self.path, TokensFile, whole="the tokens file")
        self._hashes = [(t.name or f"tokens[{i}]", bytes.fromhex(t.sha256)) for i, t in enumerate(parsed.tokens)]
        self._mtime = mtime

    def __len__(self) -> int:
        return len(self._hashes)

    def holder(self, token: str) -> str | None:
        """Who holds ``token``, or None. Compares with every hash in constant time (no early exit)."""
        presented = hashlib.sha256(token.encode("utf-8")).digest()
        found = None
        for name, digest in self._hashes:
            if hmac.compare_digest(presented, digest):
                found = name
        return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class HttpPush(Mode, mode="http", settings=HttpConfig):
    pull = False

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.cfg = cfg = runtime.config.section(HttpConfig)
        self.tokens = Tokens(cfg.tokens_file)
        self._own_work: ThreadPoolExecutor | None = None  # publishing thread when run without a Service

    @classmethod
    def describe(cls, runtime: Runtime) -> list[str]:
        http = runtime.config.section(HttpConfig)
        tokens = Tokens(http.tokens_file)
        return [f"http: POST {http.path} on {http.host}:{http.port}; {len(tokens)} token(s) in "
                f"{http.tokens_file}; at most {http.max_body_bytes} bytes and {http.max_records} records a request"]

    def app(self, service: ServiceHandle | None = None) -> web.Application:
        app = web.Application(client_max_size=self.cfg.max_body_bytes)
        app["service"] = service
        app.router.add_post(self.cfg.path, self.handle)
        return app

    async def serve(self, service: ServiceHandle) -> None:
        runner = web.AppRunner(self.app(service), access_log=None)
        await runner.setup()
        context = None
        if self.cfg.tls_certfile and self.cfg.tls_keyfile:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.cfg.tls_certfile, self.cfg.tls_keyfile)
        cfg = self.cfg
        server = await asyncio.get_running_loop().create_server(
            lambda: _Deadlines(runner.server(), cfg.header_timeout_s, cfg.body_timeout_s),  # type: ignore[misc]
            cfg.host, cfg.port, ssl=context, reuse_address=True)
        self.runtime.health.ready = True
        log.info("accepting records", extra={"source": self.runtime.config.source, "port": self.cfg.port,
                                             "path": self.cfg.path})
        try:
            await service.stopping.wait()
        finally:
            server.close()  # stop accepting
            await runner.cleanup()  # lets in-flight requests finish

    def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
        metrics.HTTP_REQUESTS.labels(self.runtime.config.source, str(status)).inc()
        return web.json_response(body, status=status, headers=headers)

    async def handle(self, request: web.Request) -> web.Response:
        rt = self.runtime
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        try:
            self.tokens.reload()  # a stat(); re-reads the file only if it changed
        except ConfigError as exc:
            log.error("tokens file unusable; refusing every request", extra={"error": type(exc).__name__})
            return self._answer(503, {"error": "the connector's tokens file is unusable"})
        holder = self.tokens.holder(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if holder is None:
            return self._answer(401, {"error": "missing or unknown bearer token"},
                                {"WWW-Authenticate": 'Bearer realm="svh"'})
        if rt.health.kafka_reachable is False:  # the probe says Kafka is down: say so now, not after a timeout
            return self._answer(503, {"error": "Kafka is unreachable; send the records again later"},
                                {"Retry-After": "30"})
        if request.content_length is not None and request.content_length > self.cfg.max_body_bytes:
            return self._answer(413, {"error": f"body over {self.cfg.max_body_bytes} bytes"})
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._answer(413, {"error": f"body over {self.cfg.max_body_bytes} bytes"})
        try:
            data = json.loads(body, parse_constant=_no_constant)
        except RecursionError:
            return self._answer(400, {"error": "body is nested too deeply to be JSON records"})
        except (UnicodeDecodeError, ValueError):  # includes numbers past Python's digit limit, NaN, Infinity
            return self._answer(400, {"error": "body is not JSON records (malformed, or a number that is too "
                                               "long, NaN or Infinity)"})
        items = data.get("records") if isinstance(data, dict) else data
        if not isinstance(items, list):
            return self._answer(400, {"error": "body must be a JSON list of records, or {\"records\": [...]}"})
        if len(items) > self.cfg.max_records:
            return self._answer(413, {"error": f"more than {self.cfg.max_records} records in one request"})
        request_id = uuid.uuid4().hex[:12]
        records = [json_record(obj, rt.mapping, f"request {request_id} record {i}") for i, obj in enumerate(items)]
        executor = self._executor(request.app["service"])
        try:
            outcomes = await asyncio.get_running_loop().run_in_executor(executor, self._publish, records,
                                                                        request_id)
        except Exception as exc:  # noqa: BLE001 - Kafka did not acknowledge: the client must retry
            rt.health.failed(exc)
            log.error("request not acknowledged by Kafka", extra={"source": rt.config.source,
                                                                  "error": type(exc).__name__})
            return self._answer(503, {"error": "records were not acknowledged by Kafka; send them again "
                                               "(resending is harmless)"}, {"Retry-After": "30"})
        results = []
        for i, (rec, accepted) in enumerate(zip(records, outcomes, strict=True)):
            entry: dict[str, Any] = {"index": i, "status": "accepted" if accepted else "rejected"}
            if not accepted:
                entry["reason"] = (str(rec.error).replace(str(rt.mapping.path), "the mapping") if rec.error
                                   else "could not be encoded for the hub")  # never a server path
                if rec.error and rec.error.kind == "unknown_column" and isinstance(items[i], dict):
                    # The sender may see its own keys; the dead letter does not carry them.
                    known = set(rt.mapping.columns)
                    entry["reason"] += ": " + ", ".join(sorted(str(k) for k in items[i] if k not in known))
                entry["kind"] = rec.error.kind if rec.error else "schema_mismatch"
            results.append(entry)
        accepted_n = sum(outcomes)
        log.info("request handled", extra={"source": rt.config.source, "row": f"request {request_id}",
                                           "published": accepted_n, "dead_lettered": len(records) - accepted_n,
                                           "group": holder})
        return self._answer(200, {"request": request_id, "accepted": accepted_n,
                                  "rejected": len(records) - accepted_n, "results": results})

    def _executor(self, service: ServiceHandle | None) -> ThreadPoolExecutor:
        """One thread publishes, whatever the number of concurrent requests (the publisher is not
        thread-safe, and kafka-python blocks)."""
        if service is not None:
            return service.work
        if self._own_work is None:
            self._own_work = ThreadPoolExecutor(1, thread_name_prefix="svh-http-publish")
        return self._own_work

    def close(self) -> None:
        if self._own_work is not None:
            self._own_work.shutdown(wait=True)

    def _publish(self, records: list[SourceRecord], request_id: str) -> list[bool]:
        """On the connector's work thread: publish, wait for Kafka, report per-record outcomes."""
        outcomes: list[bool] = []
        result = self.runtime.publish_unit(records, f"request {request_id}",
                                           on_record=lambda rec, published: outcomes.append(published))
        self.runtime.health.unit("published", result.report)
        return outcomes

    def sample(self, limit: int) -> list[SourceRecord]:
        return []
