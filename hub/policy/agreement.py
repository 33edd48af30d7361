"""Information-sharing agreements as code: load, validate against the schemas, and answer questions.

An agreement names the partnership, its parties and purposes, and for each source: the lawful
basis, where pseudonymisation happens, retention, and what happens to every field (keep, drop,
token for linkage, generalise). Anything the agreement does not grant is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    RootModel,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hub.policy.coded import kept_rule, schema_problem
from hub.schemas import RAW_SCHEMAS, SchemaRepository, default_repository
from hub.yamlsource import Problems, load_located, one_of

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
    """Load and validate an agreement file; every problem is reported at once, naming file, line and key.

    The file is read with pydantic models (``extra="forbid"``): the whole file's shape first, then each
    source against its schema and each field's treatments against the field (the checks that need
    to know which source and field they are about)."""
    doc = load_located(path, text, whole="the agreement")
    schemas = schemas or default_repository()
    problems = Problems(doc)
    root = problems.model(AgreementFile, doc.data)  # the top level's problems; then the parts' own
    if root is None:
        if not isinstance(doc.data, dict):
            problems.raise_any()
        root = AgreementFile.model_construct(**{k: doc.data.get(k) for k in AgreementFile.model_fields})
    part = problems.model

    head = part(HeadSpec, root.agreement, "agreement")
    party_list = part(PartyList, root.parties, "parties")
    purpose_list = part(PurposeList, root.purposes, "purposes")
    parties = {p.id: Party(p.id, p.name, p.role) for p in party_list.root} if party_list else None
    purposes = {p.id: p.description for p in purpose_list.root} if purpose_list else None
    sources: dict[str, SourcePolicy] = {}
    for name, raw in (root.sources if isinstance(root.sources, dict) else {}).items():
        key = f"sources.{name}"
        if name not in RAW_SCHEMAS:
            problems.add(key, f"no schema for source {name!r}; known sources: {', '.join(sorted(RAW_SCHEMAS))}")
            continue
        schema = schemas.get(RAW_SCHEMAS[name])
        spec = part(SourceSpec, raw, key, schema=schema, parties=parties, purposes=purposes)
        raw_fields = raw.get("fields") if isinstance(raw, dict) else None
        fields: dict[str, tuple[Output, ...]] = {}
        for fname, rule in (raw_fields if isinstance(raw_fields, dict) else {}).items():
            fkey = f"{key}.fields.{fname}"
            if fname not in schema.field_names:
                problems.add(fkey, f"not a field of {schema.name}; fields are {', '.join(schema.field_names)}")
                continue
            treatments = part(FieldRule, rule, fkey, kind=_avro_kind(schema.field(fname)["type"]),
                              identifier=fname in schema.identifier_fields(), field=schema.field(fname),
                              record_id=isinstance(raw, dict) and raw.get("record_id") == fname)
            if treatments is not None:
                fields[fname] = tuple(t.output() for t in treatments.root)
        if spec is None:
            continue
        sources[name] = SourcePolicy(name=name, provider=spec.provider, lawful_basis=spec.lawful_basis,
                                     pseudonymise_at=spec.pseudonymise_at, purposes=tuple(spec.purposes or ()),
                                     retention_days=spec.retention_days, record_id=spec.record_id,
                                     event_time=spec.event_time, fields=fields)
    profiles: dict[str, ReleaseProfile] = {}
    profile_specs = part(ProfileMap, root.release_profiles, "release_profiles")
    for name, profile in (profile_specs.root if profile_specs else {}).items():
        key = f"release_profiles.{name}"
        standard = Disclosure(profile.threshold, profile.rounding, profile.secondary_suppression,
                              profile.finest_geography)
        sensitive = part(SensitiveDisclosureSpec, profile.sensitive or {}, f"{key}.sensitive", standard=standard)
        if sensitive is not None:
            profiles[name] = ReleaseProfile(name, profile.audience or name, standard, sensitive.disclosure(standard))
    rules = part(SensitiveRulesSpec, root.sensitive, "sensitive") if root.sensitive is not None else None
    problems.raise_any()
    assert head is not None and parties is not None and purposes is not None  # else a problem was noted
    return Agreement(id=head.id, version=head.version, partnership=head.partnership,
                     parties=parties, purposes=purposes, sources=sources, release_profiles=profiles,
                     sensitive=rules.rules() if rules else SensitiveRules(), path=doc.path, lines=doc.lines)


# --- the file's models ------------------------------------------------------------------------------

def _required_text(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()) or isinstance(value, (dict, list)):
        raise ValueError("is required" if not isinstance(value, (dict, list)) else "must be text")
    return str(value)


Text = Annotated[str, BeforeValidator(_required_text)]


def _whole(minimum: int, message: str) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(message)
        return value
    return check


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HeadSpec(_Spec):
    id: Text
    version: Text
    partnership: Text


class PartySpec(_Spec):
    id: Text
    name: Text
    role: Text


class PurposeSpec(_Spec):
    id: Text
    description: Text


class ProfileSpec(_Spec):
    """A release profile; ``sensitive`` (rows of domestic abuse and sexual offences) is checked against it."""

    audience: str | None = None
    threshold: Annotated[int, BeforeValidator(_whole(0, "must be a whole number >= 0"))]
    rounding: Annotated[int, BeforeValidator(_whole(0, "must be a whole number >= 0"))] = 0
    secondary_suppression: StrictBool = True
    finest_geography: str = "lsoa"
    sensitive: dict[str, Any] | None = None

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @field_validator("finest_geography")
    @classmethod
    def _geography(cls, value: str) -> str:
        return str(one_of(value, GEOGRAPHY_LEVELS))


class SensitiveDisclosureSpec(_Spec):
    """What differs for sensitive rows; anything unset is the profile's own value."""

    threshold: Annotated[int, BeforeValidator(_whole(0, "must be a whole number >= 0"))] | None = None
    rounding: Annotated[int, BeforeValidator(_whole(0, "must be a whole number >= 0"))] | None = None
    secondary_suppression: StrictBool | None = None
    finest_geography: str | None = None

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and value < 1:
            raise ValueError("must be at least 1")
        standard: Disclosure = _context(info)["standard"]
        if value is not None and value < standard.threshold:
            raise ValueError("must not be lower than the standard threshold")
        return value

    @field_validator("finest_geography")
    @classmethod
    def _geography(cls, value: str | None) -> str | None:
        return None if value is None else str(one_of(value, GEOGRAPHY_LEVELS))

    def disclosure(self, standard: Disclosure) -> Disclosure:
        return Disclosure(standard.threshold if self.threshold is None else self.threshold,
                          standard.rounding if self.rounding is None else self.rounding,
                          standard.secondary_suppression if self.secondary_suppression is None
                          else self.secondary_suppression,
                          self.finest_geography or standard.finest_geography)


class AgreementFile(_Spec):
    """The file's top level; each part is then validated by its own model, so every problem is found."""

    agreement: Any
    parties: Any
    purposes: Any
    sources: dict[str, Any] | None = None
    release_profiles: Any
    sensitive: Any = None


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(i, str | int | float) for i in value):
        raise ValueError("must be a list of names or codes")
    return tuple(str(i) for i in value)


Names = Annotated[tuple[str, ...], BeforeValidator(_names)]


class SensitiveRulesSpec(_Spec):
    """Which records each profile's ``sensitive`` rules cover; a list left out covers nothing of its kind."""

    categories: Names = ()
    offence_codes: Names = ()
    flags: Names = ()

    def rules(self) -> SensitiveRules:
        return SensitiveRules(categories=self.categories, offence_codes=self.offence_codes, flags=self.flags)


class PartyList(RootModel[list[PartySpec]]):
    @field_validator("root")
    @classmethod
    def _unique(cls, value: list[PartySpec]) -> list[PartySpec]:
        if not value:
            raise ValueError("must be a non-empty list")
        ids = [p.id for p in value]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"duplicate party id {twice[0]!r}")
        return value


class PurposeList(RootModel[list[PurposeSpec]]):
    @field_validator("root")
    @classmethod
    def _not_empty(cls, value: list[PurposeSpec]) -> list[PurposeSpec]:
        if not value:
            raise ValueError("must be a non-empty list")
        return value


class ProfileMap(RootModel[dict[str, ProfileSpec]]):
    @field_validator("root")
    @classmethod
    def _some_profile(cls, value: dict[str, ProfileSpec]) -> dict[str, ProfileSpec]:
        if not value:
            raise ValueError("at least one release profile is required")
        return value


class SourceSpec(_Spec):
    """One source's terms; validated with the context ``schema``, ``parties`` and ``purposes``."""

    provider: Text
    lawful_basis: Text
    pseudonymise_at: Text
    purposes: list[str] | None = None
    retention_days: Annotated[int, BeforeValidator(_whole(1, "must be a positive whole number of days"))]
    record_id: Text
    event_time: Text
    fields: dict[str, Any]

    @field_validator("provider")
    @classmethod
    def _party(cls, value: str, info: ValidationInfo) -> str:
        parties = _context(info)["parties"]
        if parties is not None and value not in parties:  # None: the parties have problems of their own
            raise ValueError(f"{value!r} is not one of the parties")
        return value

    @field_validator("pseudonymise_at")
    @classmethod
    def _where(cls, value: str) -> str:
        if value not in PSEUDONYMISE_AT:
            raise ValueError(f"must be one of {', '.join(PSEUDONYMISE_AT)}")
        return value

    @field_validator("purposes", mode="after")
    @classmethod
    def _declared(cls, value: list[str] | None, info: ValidationInfo) -> list[str]:
        if not value:
            raise ValueError("must list at least one purpose")
        declared = _context(info)["purposes"]
        undeclared = [p for p in value if declared is not None and p not in declared]
        if undeclared:
            raise ValueError(f"{undeclared[0]!r} is not a declared purpose")
        return value

    @field_validator("record_id", "event_time")
    @classmethod
    def _schema_field(cls, value: str, info: ValidationInfo) -> str:
        schema = _context(info)["schema"]
        if value not in schema.field_names:
            raise ValueError(f"{value!r} is not a field of {schema.name}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _purposes_present(cls, value: Any) -> Any:
        if isinstance(value, dict) and "purposes" not in value:
            return {**value, "purposes": None}  # so the 'at least one purpose' sentence names the key
        return value


VERB_KEYS = {"keep": {"keep"}, "generalise": {"generalise", "into"}, "token": {"token", "person"}}
ONE_VERB = "each treatment is 'drop' or a mapping with exactly one of keep, generalise, token"


class TreatmentSpec(_Spec):
    """One thing a field becomes: ``drop``, ``{keep: target}``, ``{generalise: method, into: target}``
    or ``{token: kind, person: role}``; validated with the context ``kind`` (the field's type)."""

    drop: bool = False
    keep: str | None = None
    generalise: str | None = None
    into: str | None = None
    token: str | None = None
    person: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_verb(cls, value: Any) -> Any:
        if value == "drop":
            return {"drop": True}
        if not isinstance(value, dict):
            raise ValueError(ONE_VERB)
        verbs = [v for v in VERB_KEYS if v in value]
        if len(verbs) != 1 or "drop" in value:
            raise ValueError(ONE_VERB)
        verb = verbs[0]
        others = sorted(k for k in value if k not in VERB_KEYS[verb] and k in {*VERB_KEYS, "into", "person"})
        if others:
            raise ValueError(f"{others[0]} does not go with {verb}; {verb} takes {', '.join(sorted(VERB_KEYS[verb]))}")
        if verb == "generalise":
            return {"into": None, **value}  # so a missing 'into' is named
        if verb == "token":
            return {"person": None, **value}
        return value

    @field_validator("keep")
    @classmethod
    def _keep(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            _check_target(value)
            _check_type(value, _context(info)["kind"], "the field is")
        return value

    @field_validator("generalise")
    @classmethod
    def _method(cls, value: str | None) -> str | None:
        if value is not None and value not in GENERALISE_METHODS:
            raise ValueError(f"unknown method {value!r}; expected one of {', '.join(GENERALISE_METHODS)}")
        return value

    @field_validator("into")
    @classmethod
    def _into(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "generalise" not in info.data or info.data["generalise"] is None:
            return value
        method = info.data["generalise"]
        _check_target(value)
        assert value is not None
        _check_type(value, GENERALISE_METHODS[method], f"{method} gives")
        return value

    @field_validator("token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if value is not None and value not in TOKEN_KINDS:
            raise ValueError(f"unknown token kind {value!r}; expected one of {', '.join(TOKEN_KINDS)}")
        return value

    @field_validator("person")
    @classmethod
    def _person(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("token") is not None and (not isinstance(value, str) or not _ID.match(value)):
            raise ValueError("names the role whose tokens these are, e.g. victim")
        return value

    def output(self) -> Output:
        if self.keep is not None:
            return Output("keep", target=self.keep)
        if self.generalise is not None:
            return Output("generalise", target=self.into, method=self.generalise)
        if self.token is not None:
            return Output("token", kind=self.token, person=self.person)
        return Output("drop")


class FieldRule(RootModel[list[TreatmentSpec]]):
    """A field's treatments (one, or a list); validated with the context ``kind`` and ``identifier``."""

    @model_validator(mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return value if isinstance(value, list) else [value]

    @model_validator(mode="after")
    def _identifier_rules(self, info: ValidationInfo) -> FieldRule:
        if not self.root:
            raise ValueError("needs at least one treatment")
        if _context(info)["identifier"]:
            if any(t.keep is not None for t in self.root):
                raise ValueError("is a direct identifier: it may be dropped, tokenised or generalised, never kept")
            if any(t.generalise in ("date", "week", "month", "year") for t in self.root):
                raise ValueError("is a direct identifier: generalise it to age_band or an area, not a date")
        context = _context(info)
        if "field" in context:
            problem = _coded_problem(context["field"], bool(context.get("record_id")),
                                     tuple(t.output() for t in self.root))
            if problem:
                raise ValueError(problem)
        return self


def _coded_problem(field: Mapping[str, Any], is_record_id: bool, outputs: tuple[Output, ...]) -> str | None:
    """Why an agreement may not share this field as it asks: a record id, or free text kept as it is."""
    if is_record_id and any(o.treatment != "drop" for o in outputs):
        return "is the record id (e.g. the crime reference): it only derives the keyed event id, so drop it"
    if any(o.treatment == "keep" for o in outputs):
        if kept_rule(field, _avro_kind(field["type"])) is None:
            return ("is free text: only a field with a code list or a pattern in its schema may be kept "
                    "(drop it, or generalise it)")
        return schema_problem(field)
    return None


def _context(info: ValidationInfo) -> dict[str, Any]:
    """What a model needs to know about where it is (the source's schema, the field's type...)."""
    if not isinstance(info.context, dict):
        raise TypeError("validated without its context; use load_agreement")
    return info.context


def _check_target(value: Any) -> None:
    if not isinstance(value, str) or not (value in TOP_TARGETS or _TARGET.match(value)):
        raise ValueError(f"{value!r} is not a shared-event target; use one of {', '.join(TOP_TARGETS)}, "
                         "flags.<name>, attributes.<name> or person.<role>.age_band|sex")


def _check_type(target: str, kind: str, what: str) -> None:
    """Refuse at load time what would fail every record at encoding time."""
    expected = target_kind(target)
    if expected != "any" and expected != kind:
        raise ValueError(f"{target} holds a {expected}, but {what} a {kind}")
