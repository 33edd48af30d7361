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
import json
import re
import secrets
import ssl
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from aiohttp import web

from hub import logs, metrics
from hub.connectors.base import Mode, SourceRecord
from hub.connectors.checkpoints import write_atomic
from hub.connectors.config import HttpConfig
from hub.connectors.mapping import FieldMapping, RowError
from hub.connectors.service import Runtime
from hub.policy.yamlsource import ConfigError, load_located

if TYPE_CHECKING:
    from hub.connectors.service import Service

log = logs.get(__name__)


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
        doc = load_located(self.path)
        items = doc.data.get("tokens") if isinstance(doc.data, dict) else None
        if not isinstance(items, list):
            raise doc.error("tokens", "must be a list of {name: ..., sha256: ...}")
        hashes = []
        for i, item in enumerate(items):
            key = f"tokens[{i}]"
            if not isinstance(item, dict) or set(item) - {"name", "sha256"}:
                raise doc.error(key, "must be {name: <who holds it>, sha256: <hash of the token>}; never the "
                                     "token itself")
            digest = str(item.get("sha256", "")).lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise doc.error(f"{key}.sha256", "must be 64 hex digits (hub connector token prints one)")
            hashes.append((str(item.get("name", key)), bytes.fromhex(digest)))
        self._hashes, self._mtime = hashes, mtime

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


def json_cell(value: Any) -> str | None:
    """A JSON value as the text a mapping parses; None if it is not a scalar."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def json_record(obj: Any, mapping: FieldMapping, position: str) -> SourceRecord:
    """One posted object as a ``SourceRecord``: refused if it is not an object of scalars keyed by mapped
    columns; otherwise the mapping applied (a column left out counts as empty)."""
    if not isinstance(obj, dict):  # nothing of it is a mapped column: the dead letter holds none of it
        return SourceRecord(position, b"", error=RowError("record is not a JSON object", None, "not_an_object"))
    original = json.dumps({k: v for k, v in obj.items() if k in mapping.columns}, sort_keys=True,
                          default=str).encode("utf-8")  # mapped columns only: the rest was never agreed
    id_value = obj.get(mapping.record_id_column())
    rec = SourceRecord(position, original, record_id=str(id_value).strip() or None if id_value is not None else None)
    known = set(mapping.columns)
    unknown = [k for k in obj if k not in known]
    if unknown:
        # The key itself is not echoed: a sender's key can be a value (an object keyed by a name), and this
        # message travels in dead-letter headers, even from a health body's connector to the hub.
        rec.error = RowError(f"{len(unknown)} key(s) that are not columns of the mapping {mapping.path}",
                             None, "unknown_column")
        return rec
    cells: dict[str, str] = {}
    for key, value in obj.items():
        text = json_cell(value)
        if text is None:
            rec.error = RowError(f"{key}: must be text, a number, true/false or null", key, "wrong_type")
            return rec
        cells[key] = text
    try:
        rec.record = mapping.parse(cells)
    except RowError as exc:
        rec.error = exc
    return rec


class HttpPush(Mode, mode="http"):
    pull = False

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        cfg = runtime.config.http
        assert isinstance(cfg, HttpConfig)
        self.cfg = cfg
        self.tokens = Tokens(cfg.tokens_file)
        self._own_work: ThreadPoolExecutor | None = None  # publishing thread when run without a Service

    def app(self, service: Service | None = None) -> web.Application:
        app = web.Application(client_max_size=self.cfg.max_body_bytes)
        app["service"] = service
        app.router.add_post(self.cfg.path, self.handle)
        return app

    async def serve(self, service: Service) -> None:
        runner = web.AppRunner(self.app(service), access_log=None)
        await runner.setup()
        context = None
        if self.cfg.tls_certfile and self.cfg.tls_keyfile:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.cfg.tls_certfile, self.cfg.tls_keyfile)
        await web.TCPSite(runner, self.cfg.host, self.cfg.port, ssl_context=context).start()
        self.runtime.health.ready = True
        log.info("accepting records", extra={"source": self.runtime.config.source, "port": self.cfg.port,
                                             "path": self.cfg.path})
        try:
            await service.stopping.wait()
        finally:
            await runner.cleanup()  # stops accepting, lets in-flight requests finish

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
        if request.content_length is not None and request.content_length > self.cfg.max_body_bytes:
            return self._answer(413, {"error": f"body over {self.cfg.max_body_bytes} bytes"})
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._answer(413, {"error": f"body over {self.cfg.max_body_bytes} bytes"})
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            return self._answer(400, {"error": "body is not JSON"})
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
                entry["reason"] = str(rec.error) if rec.error else "could not be encoded for the hub"
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

    def _executor(self, service: Service | None) -> ThreadPoolExecutor:
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
