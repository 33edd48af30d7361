"""File drop: the agency's system writes CSV extracts into an inbox folder; the connector publishes each.

A file is picked up only when its writing has finished (not a temporary name, not modified for
``settle_seconds``). It is read completely and checked before anything is published; a bad file
moves to ``rejected/`` with a ``.reason`` file. A good file is published, acknowledged by Kafka,
recorded in the checkpoint (name and SHA-256) and moved atomically to ``archive/``. Within a file,
progress is checkpointed every ``checkpoint_every`` acknowledged records, so a restart resumes
near where it stopped; anything re-published is harmless because event ids are deterministic.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field

from hub import logs
from hub.connectors.base import RunReport, SourceRecord
from hub.connectors.checkpoints import fsync_dir, write_atomic
from hub.connectors.csv_file import DEFAULT_MAX_FAULTY_PERCENT, CsvFileConnector, inspect_csv
from hub.connectors.mode import Mode
from hub.connectors.runtime import Runtime
from hub.connectors.sections import ModeSettings

log = logs.get(__name__)
CHECKPOINT = "file_drop"


class FileDropConfig(ModeSettings):
    inbox: Path = Field(description="Folder the agency's system writes extracts into.")
    archive: Path | None = Field(None, description="Where published files go; default <inbox>/archive.")
    rejected: Path | None = Field(None, description="Where refused files go with a .reason file; default "
                                                    "<inbox>/rejected.")
    pattern: str = Field("*.csv", description="Which file names in the inbox are extracts.")
    ignore_suffixes: list[str] = Field([".tmp", ".part", ".partial", ".filepart", ".crdownload", "~"],
                                       description="Names still being written, never picked up.")
    settle_seconds: float = Field(10.0, ge=0, description="A file modified more recently than this is still "
                                                          "being written and waits.")
    poll_seconds: float = Field(5.0, gt=0, description="How often the inbox is looked at when idle.")
    keep_days: int | None = Field(None, ge=1, description=(
        "Days a file stays in archive/ and rejected/ (they are raw extracts): default the agreement's "
        "retention_days for the source; files older are deleted."))
    max_faulty_percent: float = Field(DEFAULT_MAX_FAULTY_PERCENT, ge=0, le=100, description=(
        "Refuse a whole file when more than this share of its rows cannot be read as CSV (bad bytes, a NUL, an "
        "unbalanced quote, an oversized field), like Kafka Connect's errors.tolerance; below it, each such row "
        "is dead-lettered and the rest is published."))

    @property
    def archive_dir(self) -> Path:
        return self.archive or self.inbox / "archive"

    @property
    def rejected_dir(self) -> Path:
        return self.rejected or self.inbox / "rejected"


class FileChanged(RuntimeError):
    """The file's bytes changed between the check and the publishing; it is left for the next poll."""


class FileDrop(Mode, mode="file_drop", settings=FileDropConfig):
    sample_hint = " or drop a file into the inbox"

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.cfg = cfg = runtime.config.section(FileDropConfig)
        for folder in (cfg.inbox, cfg.archive_dir, cfg.rejected_dir):
            folder.mkdir(parents=True, exist_ok=True)
        for folder in (cfg.archive_dir, cfg.rejected_dir):
            os.chmod(folder, 0o700)  # raw extracts: owner only, whatever the umask (also an existing folder)
        policy = runtime.agreement.sources.get(runtime.config.source)
        self.keep_days = cfg.keep_days or (policy.retention_days if policy else None)
        self._purged_at = 0.0

    @classmethod
    def describe(cls, runtime: Runtime) -> list[str]:
        fd = runtime.config.section(FileDropConfig)
        return [f"file drop: inbox {fd.inbox} ({'exists' if fd.inbox.is_dir() else 'will be created'}), "
                f"archive {fd.archive_dir}, rejected {fd.rejected_dir}; files matching {fd.pattern} settled for "
                f"{fd.settle_seconds:g} s"]

    @property
    def idle_seconds(self) -> float:
        return self.cfg.poll_seconds

    # --- which files -----------------------------------------------------------------------------------

    def ready_files(self, now: float | None = None) -> list[Path]:
        """Inbox files whose writing has finished, oldest first."""
        now = time.time() if now is None else now
        out: list[tuple[float, str, Path]] = []
        with os.scandir(self.cfg.inbox) as it:
            for entry in it:
                name = entry.name
                if (name.startswith(".") or not entry.is_file(follow_symlinks=False)
                        or not fnmatch.fnmatch(name, self.cfg.pattern)
                        or any(name.endswith(s) for s in self.cfg.ignore_suffixes)):
                    continue
                mtime = entry.stat().st_mtime
                if now - mtime < self.cfg.settle_seconds:
                    continue
                out.append((mtime, name, Path(entry.path)))
        return [p for _, _, p in sorted(out)]

    def purge_old(self, now: float | None = None) -> int:
        """Delete archived and rejected files (and .reason files) older than ``keep_days``; returns how many.
        Runs at most hourly from ``poll``: every copy of a raw extract is kept only as long as agreed."""
        if not self.keep_days:
            return 0
        now = time.time() if now is None else now
        cutoff = now - self.keep_days * 86400
        removed = 0
        for folder in (self.cfg.archive_dir, self.cfg.rejected_dir):
            with os.scandir(folder) as it:
                for entry in it:
                    if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
        self._purged_at = now
        if removed:
            log.info("deleted extracts past their retention", extra={"source": self.runtime.config.source,
                                                                   "count": removed})
        return removed

    def poll(self) -> bool:
        if time.time() - self._purged_at > 3600:
            self.purge_old()
        files = self.ready_files()
        if not files:
            return False
        self.process(files[0])
        return True

    # --- one file --------------------------------------------------------------------------------------

    def process(self, path: Path) -> None:
        rt = self.runtime
        state = rt.state.read(CHECKPOINT)
        done: dict[str, Any] = state.get("done", {})
        inspection = inspect_csv(path, rt.mapping, self.cfg.max_faulty_percent)
        sha = inspection.sha256
        if sha in done:
            log.info("file already published (same SHA-256); archiving without publishing",
                     extra={"source": rt.config.source, "file": path.name})
            self._move(path, self.cfg.archive_dir)
            rt.health.unit("skipped")
            return
        if inspection.problem:
            self._reject(path, inspection.problem)
            return
        progress = state.get("in_progress") or {}
        resume = int(progress.get("records", 0)) if progress.get("sha256") == sha else 0
        earlier = _report(rt.config.source, progress.get("report")) if resume else RunReport(rt.config.source)
        if resume:
            log.info("resuming a file after its last checkpoint", extra={"source": rt.config.source,
                                                                        "file": path.name, "count": resume})

        def checkpoint(so_far: RunReport) -> None:
            total = earlier.copy()
            total.add(so_far)
            state["in_progress"] = {"sha256": sha, "name": path.name, "records": resume + so_far.read,
                                    "report": total.as_dict()}
            rt.state.write(CHECKPOINT, state)

        digest = hashlib.sha256()
        connector = CsvFileConnector(path, rt.mapping, digest)
        # raw events: rows the compiled row plan encodes go as they are (same messages, same dead letters)
        records = connector.encoded(rt.schemas, resume) if rt.takes_encoded() else _skip(connector.records(), resume)
        result = rt.publish_unit(records, path.name, on_checkpoint=checkpoint)
        if not result.complete:
            return  # stopped at a checkpoint; the file stays in the inbox and resumes next time
        if digest.hexdigest() != sha:
            state.pop("in_progress", None)
            rt.state.write(CHECKPOINT, state)
            raise FileChanged(f"{path.name} changed while it was published; it will be published again")
        total = earlier.copy()
        total.add(result.report)
        done[sha] = {"name": path.name, "at": _now(), "report": total.as_dict()}
        state["done"] = done
        state.pop("in_progress", None)
        rt.state.write(CHECKPOINT, state)  # before the move: a crash in between re-finds it and skips it
        self._move(path, self.cfg.archive_dir)
        rt.health.unit("published", result.report)
        log.info("file published and archived", extra={"source": rt.config.source, "file": path.name,
                                                       **total.as_dict()})

    def _reject(self, path: Path, problem: str) -> None:
        rt = self.runtime
        target = self._move(path, self.cfg.rejected_dir)
        reason = (f"{_now()} {rt.config.name}: {path.name} was refused and nothing from it was published.\n"
                  f"reason: {problem}\n"
                  f"mapping: {rt.mapping.path}\n"
                  "fix the extract (or the mapping) and drop it into the inbox again.\n")
        write_atomic(target.with_name(target.name + ".reason"), reason.encode("utf-8"), mode=0o600)
        rt.health.unit("rejected")
        log.warning("file rejected", extra={"source": rt.config.source, "file": path.name, "error": problem})

    def _move(self, path: Path, folder: Path) -> Path:
        """Rename into ``folder`` (atomic on one file system; copy, fsync and rename across two), never
        overwriting an earlier file of the same name."""
        target = folder / path.name
        if target.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            target = folder / f"{path.stem}.{stamp}{path.suffix}"
        try:
            os.replace(path, target)
        except OSError as exc:
            if exc.errno != 18:  # EXDEV: another file system
                raise
            tmp = folder / f".{target.name}.moving"
            shutil.copyfile(path, tmp)
            with tmp.open("rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
            path.unlink()
        os.chmod(target, 0o600)  # a raw extract: owner only, whatever mode the agency's export gave it
        fsync_dir(folder)
        return target

    def sample(self, limit: int) -> list[SourceRecord]:
        files = self.ready_files(now=float("inf"))
        if not files:
            return []
        return list(itertools.islice(CsvFileConnector(files[0], self.runtime.mapping).records(), limit))


def _skip(records: Any, n: int) -> Any:
    return itertools.islice(records, n, None) if n else records


def _report(source: str, data: dict[str, Any] | None) -> RunReport:
    data = data or {}
    return RunReport(source, int(data.get("read", 0)), int(data.get("published", 0)),
                     int(data.get("dead_lettered", 0)), dict(data.get("errors", {})))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
