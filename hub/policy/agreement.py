"""Information-sharing agreements as code: load, validate against the schemas, and answer questions.

An agreement names the partnership, its parties and purposes, and for each source: the lawful
basis, where pseudonymisation happens, retention, and what happens to every field (keep, drop,
token for linkage, generalise). Anything the agreement does not grant is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hub.schemas import RAW_SCHEMAS, SchemaRepository, default_repository
from hub.yamlsource import ConfigError, LocatedYaml, load_located

Treatment = Literal["keep", "generalise", "token", "drop"]

TOP_TARGETS: dict[str, str] = {
    "occurred_date": "date", "occurred_week": "string", "occurred_month": "string", "occurred_hour": "int",
    "lsoa_code": "string", "msoa_code": "string", "lad_code": "string",
    "offence_code": "string", "offence_category": "string",
}
GENERALISE_METHODS: dict[str, str] = {
    # method -> what it produces
    "date": "date", "week": "string", "month": "string", "year": "string", "hour": "int",
    "age_band": "string", "lsoa": "string", "msoa": "string", "lad": "string",
    "offence_category": "string", "sex": "string",
}
TOKEN_KINDS = ("forename", "surname", "dob", "postcode", "nhs_number", "pnc_id", "reference")
PERSON_ATTRS = ("age_band", "sex")
PSEUDONYMISE_AT = ("hub", "source")
GEOGRAPHY_LEVELS = ("lsoa", "msoa", "lad")
_TARGET = re.compile(r"^(flags|attributes)\.[a-z][a-z0-9_]*$|^person\.[a-z][a-z0-9_]*\.(age_band|sex)$")
_ID = re.compile(r"^[a-z][a-z0-9_-]*$")


def target_kind(target: str) -> str:
    """What a shared-event target holds: attributes take anything (they are stored as text)."""
    if target in TOP_TARGETS:
        return TOP_TARGETS[target]
    head = target.split(".", 1)[0]
    return {"flags": "boolean", "attributes": "any", "person": "string"}[head]


def _avro_kind(avro_type: Any) -> str:
    """string, int, boolean, date, datetime (or the Avro name) of a field's type, unions with null unwrapped."""
    if isinstance(avro_type, list):
        rest = [t for t in avro_type if t != "null"]
        avro_type = rest[0] if len(rest) == 1 else "union"
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        if logical == "date":
            return "date"
        if logical in ("local-timestamp-millis", "timestamp-millis", "local-timestamp-micros", "timestamp-micros"):
            return "datetime"
        avro_type = avro_type.get("type", "record")
    return {"long": "int", "int": "int", "string": "string", "boolean": "boolean"}.get(str(avro_type), str(avro_type))


class NoAgreementError(LookupError):
    """The source has no agreement: its records are refused."""


class ReleaseRefused(PermissionError):
    """A release the agreement does not allow (undeclared purpose, unknown profile, no source for it)."""


@dataclass(frozen=True)
class Output:
    """One thing a field becomes downstream."""

    treatment: Treatment
    target: str | None = None  # keep/generalise: where the value goes
    method: str | None = None  # generalise: how
    kind: str | None = None  # token: which match keys
    person: str | None = None  # token: whose

    def describe(self) -> str:
        if self.treatment == "keep":
            return f"kept as {self.target}"
        if self.treatment == "generalise":
            return f"generalised to {self.method} as {self.target}"
        if self.treatment == "token":
            return f"keyed {self.kind} tokens for linking the {self.person}"
        return "dropped"


@dataclass(frozen=True)
class SourcePolicy:
    name: str
    provider: str
    lawful_basis: str
    pseudonymise_at: str
    purposes: tuple[str, ...]
    retention_days: int
    record_id: str
    event_time: str
    fields: dict[str, tuple[Output, ...]]

    def granted(self, field_name: str) -> bool:
        return any(o.treatment != "drop" for o in self.fields.get(field_name, ()))


@dataclass(frozen=True)
class Disclosure:
    threshold: int  # counts 1..threshold-1 are suppressed
    rounding: int  # 0: none, else round released counts to the nearest multiple
    secondary_suppression: bool
    finest_geography: str


@dataclass(frozen=True)
class ReleaseProfile:
    name: str
    audience: str
    standard: Disclosure
    sensitive: Disclosure  # domestic abuse and sexual offences

    def for_rows(self, sensitive: bool) -> Disclosure:
        return self.sensitive if sensitive else self.standard


@dataclass(frozen=True)
class SensitiveRules:
    """Which records are released under each profile's ``sensitive`` rules: by offence code, by category
    and by flag, so a domestic-abuse-flagged assault or a stalking offence is protected however it is
    categorised. Codes marked ``sensitive`` in the hub's offence_codes.csv are always included."""

    categories: tuple[str, ...] = ("sexual_offences", "stalking_and_harassment")
    offence_codes: tuple[str, ...] = ("8Q", "11A", "13", "14", "106")
    flags: tuple[str, ...] = ("domestic_abuse", "sexual_assault", "sexual_misconduct", "modern_slavery",
                              "child_cruelty", "stalking")


@dataclass(frozen=True)
class Party:
    id: str
    name: str
    role: str


@dataclass(frozen=True)
class Agreement:
    id: str
    version: str
    partnership: str
    parties: dict[str, Party]
    purposes: dict[str, str]
    sources: dict[str, SourcePolicy]
    release_profiles: dict[str, ReleaseProfile]
    sensitive: SensitiveRules = field(default_factory=SensitiveRules)
    path: str = ""
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def source(self, name: str) -> SourcePolicy:
        try:
            return self.sources[name]
        except KeyError:
            raise NoAgreementError(f"no information-sharing agreement covers source {name!r} "
                                   f"(agreement {self.id} v{self.version})") from None

    def release_profile(self, name: str) -> ReleaseProfile:
        try:
            return self.release_profiles[name]
        except KeyError:
            raise LookupError(f"agreement {self.id} has no release profile {name!r}; "
                              f"it has {', '.join(sorted(self.release_profiles))}") from None

    def sources_for(self, purpose: str) -> tuple[str, ...]:
        """The sources whose data the agreement lets be used for ``purpose``."""
        return tuple(sorted(n for n, s in self.sources.items() if purpose in s.purposes))

    def check_release(self, purpose: str | None, profile: str) -> ReleaseProfile:
        """The profile for a release under ``purpose``; refused unless the agreement declares both.

        Only the sources listed under :meth:`sources_for` may contribute to what is released.
        """
        declared = ", ".join(self.purposes)
        if not purpose:
            raise ReleaseRefused(f"a purpose is required: every release is recorded under one of the purposes "
                                 f"agreement {self.id} v{self.version} declares ({declared})")
        if purpose not in self.purposes:
            raise ReleaseRefused(f"purpose {purpose!r} is not declared by agreement {self.id} v{self.version}; "
                                 f"declared purposes: {declared}")
        if not self.sources_for(purpose):
            raise ReleaseRefused(f"no source of agreement {self.id} v{self.version} may be used for {purpose!r}")
        try:
            return self.release_profile(profile)
        except LookupError as exc:
            raise ReleaseRefused(str(exc)) from None


def load_agreement(path: Path | str, schemas: SchemaRepository | None = None,
                   text: str | None = None) -> Agreement:
    """Load and validate an agreement file; every error names the file, line and key."""
    doc = load_located(path, text)
    return _Parser(doc, schemas or default_repository()).agreement()


class _Parser:
    def __init__(self, doc: LocatedYaml, schemas: SchemaRepository) -> None:
        self.doc = doc
        self.schemas = schemas

    def fail(self, key: str, message: str) -> ConfigError:
        return self.doc.error(key, message)

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, "must be a mapping")
        return value

    def text(self, parent: dict[str, Any], name: str, key: str) -> str:
        value = parent.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise self.fail(f"{key}.{name}" if key else name, "is required")
        return str(value)

    def unknown(self, parent: dict[str, Any], allowed: set[str], key: str) -> None:
        for k in parent:
            if k not in allowed:
                raise self.fail(f"{key}.{k}" if key else k,
                                f"unknown key; expected one of {', '.join(sorted(allowed))}")

    def agreement(self) -> Agreement:
        root = self.mapping(self.doc.data, "")
        self.unknown(root, {"agreement", "parties", "purposes", "sources", "release_profiles", "sensitive"}, "")
        head = self.mapping(root.get("agreement"), "agreement")
        parties = self.parties(root.get("parties"))
        purposes = self.purposes(root.get("purposes"))
        sources_raw = self.mapping(root.get("sources") or {}, "sources")
        sources = {name: self.source(name, spec, parties, purposes) for name, spec in sources_raw.items()}
        profiles_raw = self.mapping(root.get("release_profiles"), "release_profiles")
        if not profiles_raw:
            raise self.fail("release_profiles", "at least one release profile is required")
        profiles = {n: self.profile(n, p) for n, p in profiles_raw.items()}
        return Agreement(
            id=self.text(head, "id", "agreement"), version=self.text(head, "version", "agreement"),
            partnership=self.text(head, "partnership", "agreement"), parties=parties, purposes=purposes,
            sources=sources, release_profiles=profiles, sensitive=self.sensitive(root.get("sensitive")),
            path=self.doc.path, lines=self.doc.lines)

    def sensitive(self, value: Any) -> SensitiveRules:
        if value is None:
            return SensitiveRules()
        spec = self.mapping(value, "sensitive")
        self.unknown(spec, {"categories", "offence_codes", "flags"}, "sensitive")
        out: dict[str, tuple[str, ...]] = {}
        for name in ("categories", "offence_codes", "flags"):
            items = spec.get(name, [])
            if not isinstance(items, list) or not all(isinstance(i, str | int | float) for i in items):
                raise self.fail(f"sensitive.{name}", "must be a list of names or codes")
            out[name] = tuple(str(i) for i in items)
        return SensitiveRules(**out)

    def parties(self, value: Any) -> dict[str, Party]:
        if not isinstance(value, list) or not value:
            raise self.fail("parties", "must be a non-empty list")
        out: dict[str, Party] = {}
        for i, item in enumerate(value):
            key = f"parties[{i}]"
            spec = self.mapping(item, key)
            pid = self.text(spec, "id", key)
            if pid in out:
                raise self.fail(f"{key}.id", f"duplicate party id {pid!r}")
            out[pid] = Party(pid, self.text(spec, "name", key), self.text(spec, "role", key))
        return out

    def purposes(self, value: Any) -> dict[str, str]:
        if not isinstance(value, list) or not value:
            raise self.fail("purposes", "must be a non-empty list")
        out: dict[str, str] = {}
        for i, item in enumerate(value):
            key = f"purposes[{i}]"
            spec = self.mapping(item, key)
            out[self.text(spec, "id", key)] = self.text(spec, "description", key)
        return out

    def source(self, name: str, spec_any: Any, parties: dict[str, Party],
               purposes: dict[str, str]) -> SourcePolicy:
        key = f"sources.{name}"
        spec = self.mapping(spec_any, key)
        self.unknown(spec, {"provider", "lawful_basis", "pseudonymise_at", "purposes", "retention_days",
                            "record_id", "event_time", "fields"}, key)
        if name not in RAW_SCHEMAS:
            raise self.fail(key, f"no schema for source {name!r}; known sources: {', '.join(sorted(RAW_SCHEMAS))}")
        schema = self.schemas.get(RAW_SCHEMAS[name])
        provider = self.text(spec, "provider", key)
        if provider not in parties:
            raise self.fail(f"{key}.provider", f"{provider!r} is not one of the parties")
        where = self.text(spec, "pseudonymise_at", key)
        if where not in PSEUDONYMISE_AT:
            raise self.fail(f"{key}.pseudonymise_at", f"must be one of {', '.join(PSEUDONYMISE_AT)}")
        used = spec.get("purposes") or []
        if not isinstance(used, list) or not used:
            raise self.fail(f"{key}.purposes", "must list at least one purpose")
        for p in used:
            if p not in purposes:
                raise self.fail(f"{key}.purposes", f"{p!r} is not a declared purpose")
        retention = spec.get("retention_days")
        if not isinstance(retention, int) or retention <= 0:
            raise self.fail(f"{key}.retention_days", "must be a positive whole number of days")
        record_id = self.text(spec, "record_id", key)
        event_time = self.text(spec, "event_time", key)
        for fname, k in ((record_id, "record_id"), (event_time, "event_time")):
            if fname not in schema.field_names:
                raise self.fail(f"{key}.{k}", f"{fname!r} is not a field of {schema.name}")
        fields_raw = self.mapping(spec.get("fields"), f"{key}.fields")
        identifiers = schema.identifier_fields()
        fields: dict[str, tuple[Output, ...]] = {}
        for fname, rule in fields_raw.items():
            fkey = f"{key}.fields.{fname}"
            if fname not in schema.field_names:
                raise self.fail(fkey, f"not a field of {schema.name}; fields are {', '.join(schema.field_names)}")
            outputs = self.outputs(rule, fkey, _avro_kind(schema.field(fname)["type"]))
            if fname in identifiers and any(o.treatment == "keep" for o in outputs):
                raise self.fail(fkey, "is a direct identifier: it may be dropped, tokenised or generalised, "
                                      "never kept")
            if fname in identifiers and any(o.treatment == "generalise" and o.method in ("date", "week", "month",
                                                                                        "year") for o in outputs):
                raise self.fail(fkey, "is a direct identifier: generalise it to age_band or an area, not a date")
            fields[fname] = outputs
        return SourcePolicy(name=name, provider=provider, lawful_basis=self.text(spec, "lawful_basis", key),
                            pseudonymise_at=where, purposes=tuple(used), retention_days=retention,
                            record_id=record_id, event_time=event_time, fields=fields)

    def outputs(self, rule: Any, key: str, field_kind: str) -> tuple[Output, ...]:
        if rule == "drop":
            return (Output("drop"),)
        items = rule if isinstance(rule, list) else [rule]
        if not items:
            raise self.fail(key, "needs at least one treatment")
        return tuple(self.output(item, f"{key}[{i}]" if isinstance(rule, list) else key, field_kind)
                     for i, item in enumerate(items))

    def output(self, item: Any, key: str, field_kind: str) -> Output:
        if item == "drop":
            return Output("drop")
        spec = self.mapping(item, key)
        verbs = [v for v in ("keep", "generalise", "token") if v in spec]
        if len(verbs) != 1:
            raise self.fail(key, "each treatment is 'drop' or a mapping with exactly one of keep, generalise, "
                                 "token")
        verb = verbs[0]
        if verb == "keep":
            self.unknown(spec, {"keep"}, key)
            target = self.target(spec["keep"], f"{key}.keep")
            self.check_type(target, field_kind, f"{key}.keep", "the field is")
            return Output("keep", target=target)
        if verb == "generalise":
            self.unknown(spec, {"generalise", "into"}, key)
            method = str(spec["generalise"])
            if method not in GENERALISE_METHODS:
                raise self.fail(f"{key}.generalise", f"unknown method {method!r}; expected one of "
                                                     f"{', '.join(GENERALISE_METHODS)}")
            target = self.target(spec.get("into"), f"{key}.into")
            self.check_type(target, GENERALISE_METHODS[method], f"{key}.into", f"{method} gives")
            return Output("generalise", target=target, method=method)
        self.unknown(spec, {"token", "person"}, key)
        kind = str(spec["token"])
        if kind not in TOKEN_KINDS:
            raise self.fail(f"{key}.token", f"unknown token kind {kind!r}; expected one of {', '.join(TOKEN_KINDS)}")
        person = spec.get("person")
        if not isinstance(person, str) or not _ID.match(person):
            raise self.fail(f"{key}.person", "names the role whose tokens these are, e.g. victim")
        return Output("token", kind=kind, person=person)

    def check_type(self, target: str, kind: str, key: str, what: str) -> None:
        """Refuse at load time what would fail every record at encoding time."""
        expected = target_kind(target)
        if expected != "any" and expected != kind:
            raise self.fail(key, f"{target} holds a {expected}, but {what} a {kind}")

    def target(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not (value in TOP_TARGETS or _TARGET.match(value)):
            raise self.fail(key, f"{value!r} is not a shared-event target; use one of "
                                 f"{', '.join(TOP_TARGETS)}, flags.<name>, attributes.<name> or "
                                 "person.<role>.age_band|sex")
        return value

    def disclosure(self, spec: dict[str, Any], key: str, base: Disclosure | None) -> Disclosure:
        def number(name: str, default: int | None) -> int:
            value = spec.get(name, default)
            if not isinstance(value, int) or value < 0:
                raise self.fail(f"{key}.{name}", "must be a whole number >= 0")
            return value
        threshold = number("threshold", base.threshold if base else None)
        if threshold < 1:
            raise self.fail(f"{key}.threshold", "must be at least 1")
        secondary = spec.get("secondary_suppression", base.secondary_suppression if base else True)
        if not isinstance(secondary, bool):
            raise self.fail(f"{key}.secondary_suppression", "must be true or false")
        geo = spec.get("finest_geography", base.finest_geography if base else "lsoa")
        if geo not in GEOGRAPHY_LEVELS:
            raise self.fail(f"{key}.finest_geography", f"must be one of {', '.join(GEOGRAPHY_LEVELS)}")
        return Disclosure(threshold, number("rounding", base.rounding if base else 0), secondary, geo)

    def profile(self, name: str, value: Any) -> ReleaseProfile:
        key = f"release_profiles.{name}"
        spec = self.mapping(value, key)
        self.unknown(spec, {"audience", "threshold", "rounding", "secondary_suppression", "finest_geography",
                            "sensitive"}, key)
        standard = self.disclosure(spec, key, None)
        sensitive_spec = self.mapping(spec.get("sensitive") or {}, f"{key}.sensitive")
        sensitive = self.disclosure(sensitive_spec, f"{key}.sensitive", standard)
        if sensitive.threshold < standard.threshold:
            raise self.fail(f"{key}.sensitive.threshold", "must not be lower than the standard threshold")
        return ReleaseProfile(name, str(spec.get("audience", name)), standard, sensitive)
