"""Does a shared event conform to the agreement? Checked at the boundary, on at-source topics, and by the sink.

A producer's word is never trusted: anything on a shared topic may have been written by someone other than
the pseudonymiser (a mis-configured connector, a forged message). An event conforms when its source is one
the agreement covers, it names this agreement and version, and every value it holds sits in a target the
agreement grants for that source and passes that target's rule (a code list or strict pattern, see
:mod:`hub.policy.coded`). Problems name targets the agreement defines, never a value or a key an event
brought with it (that key could be a name).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.policy.agreement import TOP_TARGETS, Agreement, SourcePolicy, _avro_kind
from hub.policy.coded import BOOLEAN, GENERALISED, MAX_TEXT, ValueRule, kept_rule
from hub.schemas import RAW_SCHEMAS, SchemaRepository, default_repository

LINKAGE = "linkage"
EVENT_ID = re.compile(r"ev-[0-9a-f]{30}")
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
TOKEN_NAME = re.compile(r"[a-z][a-z0-9_#]{0,40}(@[A-Za-z0-9_-]{1,40})?")  # e.g. surname_del#3@k2025
TOKEN_VALUE = re.compile(r"[A-Za-z0-9_-]{1,40}:[0-9a-f]{32}")
_TOKEN_VALUE_LINES = re.compile(rf"(?:{TOKEN_VALUE.pattern}\n)*{TOKEN_VALUE.pattern}")
MAX_TOKENS = 512  # deletion neighbourhoods of long names make many
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MEMO_LIMIT = 1 << 16  # strings remembered as already checked, per kind, before the memory is emptied


class _Checked:
    """Strings that already passed one of the patterns above, so a repeated one costs a set look-up.

    Token names repeat on every event (``forename_del#3``), and so do the tokens of a common name; the
    sets are bounded (emptied when full) and hold only what the process already holds. A string enters
    only after the pattern accepted it, so a look-up that hits gives the pattern's own verdict.
    """

    __slots__ = ("_pattern", "_seen")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self._pattern = pattern
        self._seen: set[str] = set()

    def all(self, values: Any) -> bool:
        seen = self._seen
        try:
            if seen.issuperset(values):
                return True
        except TypeError:  # something unhashable: not a string, so not accepted
            return False
        for value in set(values).difference(seen):  # only the new ones (found in C, not by a loop over all)
            if not _matches(self._pattern, value):
                return False
            if len(seen) >= _MEMO_LIMIT:
                seen.clear()
            seen.add(value)
        return True


@dataclass
class _SourceRules:
    policy: SourcePolicy
    targets: dict[str, list[ValueRule]] = field(default_factory=dict)  # target -> rules (any may accept)
    token_roles: set[str] = field(default_factory=set)
    all_roles: frozenset[str] = frozenset()  # ``roles()``, once the rules are built
    # the same rules as one test per target, by head ("top", "flags", "attributes", "person.<role>")
    accepts: dict[str, dict[str, Callable[[Any], bool]]] = field(default_factory=dict)
    # ``accepts`` laid out for ``_conforms``: every top-level target with its test (refusing if not granted),
    # the flags' and attributes' tests, each role's (age band, sex) tests, and whether tokens may flow
    top_tests: tuple[tuple[str, Callable[[Any], bool]], ...] = ()
    flag_tests: dict[str, Callable[[Any], bool]] = field(default_factory=dict)
    attribute_tests: dict[str, Callable[[Any], bool]] = field(default_factory=dict)
    person_tests: dict[str, tuple[Callable[[Any], bool], Callable[[Any], bool]]] = field(default_factory=dict)
    linkage: bool = False

    def compile(self) -> None:
        self.all_roles = frozenset(self.roles())
        for target, granted in self.targets.items():
            head, _, key = target.rpartition(".") if target.startswith("person.") else target.partition(".")
            if not key:
                head, key = "top", target
            self.accepts.setdefault(head, {})[key] = _any_of(granted)
        top = self.accepts.get("top", {})
        self.top_tests = tuple((target, top.get(target, _refuse)) for target in TOP_TARGETS)
        self.flag_tests = self.accepts.get("flags", {})
        self.attribute_tests = self.accepts.get("attributes", {})
        for role in self.all_roles:
            tests = self.accepts.get(f"person.{role}", {})
            self.person_tests[role] = (tests.get("age_band", _refuse), tests.get("sex", _refuse))
        self.linkage = LINKAGE in self.policy.purposes and self.policy.pseudonymise_at == "hub"

    def add(self, target: str, rule: ValueRule) -> None:
        self.targets.setdefault(target, []).append(rule)

    def roles(self) -> set[str]:
        return self.token_roles | {t.split(".")[1] for t in self.targets if t.startswith("person.")}


class EventRules:
    """The agreement's rules for shared events, built once per agreement."""

    def __init__(self, agreement: Agreement, schemas: SchemaRepository | None = None) -> None:
        self.agreement = agreement
        repo = schemas or default_repository()
        self._sources = {name: self._build(policy, repo) for name, policy in agreement.sources.items()}
        self._token_names, self._token_values = _Checked(TOKEN_NAME), _Checked(TOKEN_VALUE)
        self._key_ids, self._field_names = _Checked(KEY_ID), _Checked(FIELD_NAME)

    @staticmethod
    def _build(policy: SourcePolicy, repo: SchemaRepository) -> _SourceRules:
        schema = repo.get(RAW_SCHEMAS[policy.name])
        rules = _SourceRules(policy)
        for fname, outputs in policy.fields.items():
            raw = schema.field(fname)
            for out in outputs:
                if out.treatment == "token" and out.person:
                    rules.token_roles.add(out.person)
                elif out.treatment == "keep" and out.target:
                    kept = kept_rule(raw, _avro_kind(raw["type"]))
                    if kept is not None:  # the agreement refuses free text at load
                        rules.add(out.target, BOOLEAN if out.target.startswith("flags.") else kept)
                elif out.treatment == "generalise" and out.target and out.method:
                    rules.add(out.target, GENERALISED[out.method])
        rules.compile()
        return rules

    def problems(self, event: Mapping[str, Any], *, at: str | None = None) -> list[str]:
        """What is wrong with ``event`` (empty if it conforms). ``at`` (``hub``/``source``), when known, is
        where the event was pseudonymised: a source is accepted only from where its agreement says."""
        source = event.get("source")
        rules = self._sources.get(source) if isinstance(source, str) else None
        if rules is None:
            return ["its source is not one the agreement covers"]
        if self._conforms(rules, event, at):
            return []
        out: list[str] = []
        if at is not None and rules.policy.pseudonymise_at != at:
            out.append(f"{source} is pseudonymised at the {rules.policy.pseudonymise_at}, not at the {at}")
        if event.get("agreement_id") != self.agreement.id or event.get("agreement_version") != self.agreement.version:
            out.append(f"it does not name agreement {self.agreement.id} v{self.agreement.version}")
        if not _matches(EVENT_ID, event.get("event_id")):
            out.append("event_id is not a keyed event id")
        if not _matches(KEY_ID, event.get("key_id")):
            out.append("key_id is not a key id")
        for target in TOP_TARGETS:
            value = event.get(target)
            if value is not None:
                self._check(rules, target, value, out)
        for head in ("flags", "attributes"):
            values = event.get(head) or {}
            if not isinstance(values, Mapping):
                out.append(f"{head} is not a map")
                continue
            for key, value in values.items():
                self._check(rules, f"{head}.{key}", value, out)
        self._check_persons(rules, event.get("persons") or [], out)
        withheld = event.get("withheld_fields") or []
        if not isinstance(withheld, list) or not all(_matches(FIELD_NAME, name) for name in withheld):
            out.append("withheld_fields holds something that is not a field name")
        return out

    def output_tests(self, source: str, at: str, *, agreement_id: str, agreement_version: str, key_id: str,
                     tops: Collection[str], flags: Collection[str], attributes: Collection[str],
                     roles: Collection[str], token_roles: Collection[str],
                     withheld: Iterable[str]) -> OutputTests | None:
        """The part of this check a compiled plan must still run per event, given what the plan can write.

        A plan compiled from this agreement writes a fixed head (source, agreement, key id), a keyed event id,
        the same targets in every event (top-level slots, flag and attribute names, roles), only booleans as
        flags, and withholds raw field names. Each of those checks is decided here, once: if any would fail,
        the answer is None and every event takes the full check as before. What remains depends on the
        record's values: each top-level value, attribute, age band and sex, and each person's token count
        (a token map's names and values are checked once per minted map: :meth:`keyed_tokens`). The event
        id's shape is the plan's construction (``ev-`` and 30 hex digits); tests compare this with
        :meth:`problems` on every source's extract and on hostile records.
        """
        rules = self._sources.get(source)
        if rules is None or rules.policy.pseudonymise_at != at or agreement_id != self.agreement.id \
                or agreement_version != self.agreement.version or not _matches(KEY_ID, key_id) \
                or not all(_matches(FIELD_NAME, name) for name in withheld):
            return None
        top = {}
        for target in tops:
            test = rules.accepts.get("top", {}).get(target)
            if test is None or target not in TOP_TARGETS:
                return None
            top[target] = test
        for name in flags:
            test = rules.flag_tests.get(name)
            if test is None or not (test(True) and test(False)):  # the plan writes bool(value): any bool
                return None
        attribute_tests = {}
        for name in attributes:
            test = rules.attribute_tests.get(name)
            if test is None:
                return None
            attribute_tests[name] = test
        if not set(roles) <= set(rules.person_tests) or not set(token_roles) <= rules.token_roles \
                or (token_roles and not rules.linkage):
            return None
        return OutputTests(top, attribute_tests, {role: rules.person_tests[role] for role in roles})

    def keyed_tokens(self, tokens: Mapping[str, str]) -> bool:
        """Whether every name and value of a token map passes this check (its count aside): what
        :meth:`problems` asks of a person's tokens, asked by a plan once per token map it mints.

        The values are new (a map is minted for a value not met before), so instead of one pattern per
        value they are matched as one text, one value per line: the same verdict (a value holding a line
        break would add a line, so the line count is checked too; a test compares both)."""
        names = tokens.keys()
        if not (names <= self._token_names._seen or self._token_names.all(names)):
            return False
        values = list(tokens.values())
        try:
            text = "\n".join(values)
        except TypeError:  # a value that is not a string
            return False
        return not values or (text.count("\n") == len(values) - 1 and _TOKEN_VALUE_LINES.fullmatch(text) is not None)

    def keyed_token(self, name: str, value: str) -> bool:
        """Whether one token map entry passes this check: :meth:`keyed_tokens` of a map is the conjunction of
        this over its entries (a value matching the pattern holds no line break). A plan asks it once per entry
        it makes and remembers the verdict with the entry, so a new date of birth's year, month and day, which
        many others share, are not checked again (a test compares both)."""
        return (name in self._token_names._seen or self._token_names.all((name,))) and _matches(TOKEN_VALUE, value)

    def keyed_mac_token(self, name: str, key_id: str) -> bool:
        """:meth:`keyed_token` of ``name`` with any token a MAC gives under ``key_id``: the key id, ``:`` and 32
        lowercase hex digits. The value pattern's last part accepts every such string of hex digits alike, so the
        verdict depends on the name and key id only: a plan asks it once per entry name, not once per new token
        (a test compares both on many names, key ids and digests)."""
        return self.keyed_token(name, key_id + ":" + "0" * 32)

    def _conforms(self, rules: _SourceRules, event: Mapping[str, Any], at: str | None) -> bool:
        """The checks of :meth:`problems` in one pass with no messages: True only if it would find nothing.

        Every event leaving the boundary and every event the sink stores is checked, so this is a hot
        path; a False sends the event through :meth:`problems`' full pass, which says what is wrong.
        """
        if (at is not None and rules.policy.pseudonymise_at != at) or event.get("agreement_id") != self.agreement.id \
                or event.get("agreement_version") != self.agreement.version \
                or not _matches(EVENT_ID, event.get("event_id")) or not self._key_ids.all((event.get("key_id"),)):
            return False
        for target, test in rules.top_tests:
            value = event.get(target)
            if value is not None and not test(value):
                return False
        for head, granted in (("flags", rules.flag_tests), ("attributes", rules.attribute_tests)):
            values = event.get(head) or {}
            if not isinstance(values, Mapping):
                return False
            for key, value in values.items():
                if not granted.get(key, _refuse)(value):
                    return False
        persons = event.get("persons") or []
        if not isinstance(persons, list):
            return False
        if persons:
            person_tests, token_roles, linkage = rules.person_tests, rules.token_roles, rules.linkage
            seen: set[str] = set()
            for person in persons:
                role = person.get("role") if isinstance(person, Mapping) else None
                if not isinstance(role, str) or role not in person_tests or role in seen:
                    return False
                seen.add(role)
                age_test, sex_test = person_tests[role]
                value = person.get("age_band")
                if value is not None and not age_test(value):
                    return False
                value = person.get("sex")
                if value is not None and not sex_test(value):
                    return False
                tokens = person.get("tokens") or {}
                if tokens and (role not in token_roles or not linkage or not isinstance(tokens, Mapping)
                               or len(tokens) > MAX_TOKENS or not self._token_names.all(tokens.keys())
                               or not self._token_values.all(tokens.values())):
                    return False
        withheld = event.get("withheld_fields") or []
        return isinstance(withheld, list) and self._field_names.all(withheld)

    @staticmethod
    def _check(rules: _SourceRules, target: str, value: Any, out: list[str]) -> None:
        granted = rules.targets.get(target)
        if granted is None:
            head = target.split(".", 1)[0]
            out.append(f"it holds {'a top-level field' if head == target else f'a {head} entry'} "
                       f"the agreement does not grant for {rules.policy.name}")
        elif not any(rule.accepts(value) for rule in granted):
            out.append(f"{target} is not {' or '.join(r.describe for r in granted)}")

    def _check_persons(self, rules: _SourceRules, persons: Any, out: list[str]) -> None:
        if not isinstance(persons, list):
            out.append("persons is not a list")
            return
        roles = rules.roles()
        linkage = LINKAGE in rules.policy.purposes and rules.policy.pseudonymise_at == "hub"
        seen: set[str] = set()
        for person in persons:
            role = person.get("role") if isinstance(person, Mapping) else None
            if not isinstance(role, str) or role not in roles or role in seen:
                out.append(f"it holds a person whose role the agreement does not grant for {rules.policy.name}")
                continue
            seen.add(role)
            for attr in ("age_band", "sex"):
                if person.get(attr) is not None:
                    self._check(rules, f"person.{role}.{attr}", person[attr], out)
            tokens = person.get("tokens") or {}
            if not tokens:
                continue
            if role not in rules.token_roles or not linkage:
                out.append(f"the {role} carries tokens, which the agreement does not grant for {rules.policy.name}")
            elif not isinstance(tokens, Mapping) or len(tokens) > MAX_TOKENS or not all(
                    _matches(TOKEN_NAME, k) and _matches(TOKEN_VALUE, v) for k, v in tokens.items()):
                out.append(f"the {role}'s tokens are not keyed tokens")


@dataclass(frozen=True)
class OutputTests:
    """Tests of the values a compiled plan writes (``EventRules.output_tests``): a value failing one sends the
    event through :meth:`EventRules.problems`, which refuses it with its reasons."""

    top: Mapping[str, Callable[[Any], bool]]
    attributes: Mapping[str, Callable[[Any], bool]]
    persons: Mapping[str, tuple[Callable[[Any], bool], Callable[[Any], bool]]]  # role -> (age band, sex)
    max_tokens: int = MAX_TOKENS


def _any_of(granted: list[ValueRule]) -> Callable[[Any], bool]:
    if len(granted) == 1:
        return granted[0].accepts
    if len(granted) == 2:  # an area granted both from a postcode and as a code kept: no generator per value
        first, second = granted[0].accepts, granted[1].accepts
        return lambda value: first(value) or second(value)
    tests = tuple(rule.accepts for rule in granted)
    return lambda value: any(test(value) for test in tests)


def _refuse(value: Any) -> bool:
    return False


def _matches(pattern: re.Pattern[str], value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 2 * MAX_TEXT and pattern.fullmatch(value) is not None
