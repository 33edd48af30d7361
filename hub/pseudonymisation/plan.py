"""A source's agreement compiled once into a plan: what each raw field becomes, decided before any record.

Interpreting the agreement field by field for every record (which rules, which treatment, which
target, which token family, which key) cost more than the work itself. A plan resolves all of that
when the pseudonymiser first meets a source: per field, a tuple of ready operations (token family
with its derivation and tokeniser, generaliser, target slot). Applying it is one pass over the
record with no dataclass per person and no repeated look-ups; its result is exactly what the
agreement-by-agreement interpretation gave (same tokens, same first-wins and last-wins rules).

Open to growth: a token family is whatever :func:`hub.pseudonymisation.tokens.deriver` knows, and
each token operation carries its own :class:`Tokeniser`, so a family keyed for another purpose only
needs the plan's ``tokeniser_for`` to return that purpose's tokeniser.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from hub.policy import Output, SourcePolicy
from hub.policy.conformance import OutputTests
from hub.pseudonymisation import generalise
from hub.pseudonymisation.compiled import Applier, compile_apply
from hub.pseudonymisation.geography import LSOA_CODE, Area, PostcodeLookup
from hub.pseudonymisation.ops import (
    AREA,
    ATTRIBUTE,
    FLAG,
    PERSON,
    PUT,
    TOKEN,
    TOP,
    PseudonymisationError,
    _keep,
    _merged,
    missing_id,
    missing_time,
    not_a_date,
)
from hub.pseudonymisation.tokens import (
    WHOLE_VALUE_DOMAINS,
    Deriver,
    EventIds,
    Tokeniser,
    deriver,
    name_pair_keys,
)
from hub.reference import Offence, normalise_offence_code
from hub.schemas.codec import EncodedMap, map_entries, map_entry

SEX_CODES = {"M": "M", "MALE": "M", "F": "F", "FEMALE": "F", "X": "X", "I": "X", "INDETERMINATE": "X"}
NAME_KINDS = ("forename", "surname")  # families whose normalised value also feeds the name pair
AREA_METHODS = ("lsoa", "msoa", "lad")
TOKEN_CACHE_SIZE = 4096
LAYOUTS_REMEMBERED = 64
"""Record layouts (keys in order) a plan keeps generated code for: a decoded record has its schema's, a
connector's mapped record its mapping's; tests applying records of many layouts are what fill it."""
"""Values per token family whose tokens a plan remembers (names repeat heavily: ~7 events per name in
the synthetic police extract). An entry is a few kilobytes: a police plan with every family full holds
about 22 MiB (tracemalloc, the re-check's memory included), the bound per source. The cache holds
only what the process made."""


Generaliser = Callable[[Any, Any], Any]  # (value, event time) -> generalised value or None
Minted = tuple[dict[str, str], str | None, bool, str, str]
"""(tokens sorted by name, the family's normalised name for the name pair, whether the tokens pass the
agreement's token check, the first and the last name: what joining a person's maps in order compares)."""
TokenCheck = Callable[[Mapping[str, str]], bool]
EntryCheck = Callable[[str, str], bool]
MacCheck = Callable[[str, str], bool]
"""``EventRules.keyed_mac_token``: (entry name, key id) -> the verdict on every token a MAC gives under that key."""
ENTRIES_REMEMBERED = 1 << 14
"""Token map entries a family remembers (each with its token, bytes and verdict) before it forgets them all:
a few hundred entries (years, months, days, month-days of birth) are met again and again; a few MiB when full."""


class TokenMint:
    """A token family's tokens of one raw value, remembered for the values met most recently.

    Deriving a name's match keys (normalisation, phonetic code, the one-deletion neighbourhood) and
    hashing them is most of the boundary's work, and the same names come back on event after event.
    The tokens of a value depend only on the value, the family, the tokeniser's key and, during a
    rotation overlap, which previous keys are still running; the cache keys on all of them, so a hit
    gives exactly the tokens a miss would make. Callers must not change the returned dict.

    A value met for the first time (most dates of birth and name pairs in a large extract) is made entry by
    entry: each (match key, derived text) entry's token, its Avro bytes and the agreement's verdict on it are
    remembered too (``_entries``, bounded), since a new date of birth shares its year, month, day and
    month-day entries with many others. The map, its bytes and its verdict are then those entries sorted by
    name and joined: exactly what minting the map whole gives (``_mint_whole``, still taken during a rotation
    overlap; a test compares both).
    """

    __slots__ = ("_cached", "_check", "_derive", "_entries", "_entry_check", "_heads", "_mac_check", "_name_kind",
                 "_prefix", "family", "lookup", "tokeniser")

    def __init__(self, derive: Deriver, tokeniser: Tokeniser, name_kind: str | None,
                 size: int = TOKEN_CACHE_SIZE, check: TokenCheck | None = None, family: str = "",
                 entry_check: EntryCheck | None = None, mac_check: MacCheck | None = None) -> None:
        self.family = family  # the token family; its tokens' names start with it (generated code orders by it)
        self._derive = derive
        self.tokeniser = tokeniser
        self._name_kind = name_kind
        self._check = check
        self._entry_check = entry_check
        # Without an entry check, or with its per-key form, an entry's bytes and verdict are its name's (``_head``)
        # followed by its token's hex digits; with only the per-token form, each token is checked (``_entry``).
        self._mac_check = mac_check if entry_check is not None else (lambda name, key_id: True)
        self._heads: dict[str, tuple[bytes, bool]] = {}  # entry name -> (its bytes before the hex digits, verdict)
        self._prefix = tokeniser.key_id + ":"
        # (match key, (domain, text)) -> ((match key, token), entry's Avro bytes, verdict); None: maps made whole
        self._entries: dict[Any, tuple[tuple[str, str], bytes, bool]] | None = (
            {} if check is None or entry_check is not None else None)
        self._cached = lru_cache(maxsize=size)(self._mint)
        self.lookup: Callable[[Any], Minted] = self
        """What a plan calls per value: without a rotation, the cache itself (no Python frame on a hit)."""
        if not tokeniser.rotating:
            self.lookup = lru_cache(maxsize=size)(self._mint_unrotated)

    def _mint_unrotated(self, value: Any) -> Minted:
        return self._mint(value, ())

    def _mint(self, value: Any, overlap: tuple[str, ...]) -> Minted:
        derived = self._derive(value)
        entry = derived.get(self._name_kind) if self._name_kind else None
        normalised = entry[1] if entry else None
        if not derived:
            return {}, normalised, True, "", ""
        entries = self._entries
        if overlap or entries is None:
            return self._mint_whole(derived, normalised, overlap)
        names = sorted(derived)  # the map in match key order (strings sort fast)
        items, parts = [], []
        ok = True
        heads = self._heads if self._mac_check is not None else None
        for name in names:  # a loop, not comprehensions: each of those is a function made and called
            pair = derived[name]
            if pair[0] in WHOLE_VALUE_DOMAINS:  # comes back only with the value: made, not remembered
                if heads is None:
                    row = self._entry((name, pair), remember=False)
                else:  # written out: about two new entries per event take this path
                    digits = self.tokeniser.mac_once(pair)
                    head = heads.get(name) or self._head(name)
                    items.append((name, self._prefix + digits))
                    parts.append(head[0] + digits.encode())
                    if not head[1]:
                        ok = False
                    continue
            else:
                item = (name, pair)
                row = entries.get(item) or self._entry(item)
            items.append(row[0])
            parts.append(row[1])
            if not row[2]:
                ok = False
        return EncodedMap.of(items, b"".join(parts)), normalised, ok, names[0], names[-1]

    def _head(self, name: str) -> tuple[bytes, bool]:
        """(the Avro bytes of an entry ``name`` whose token the tokeniser's key made, up to its 32 hex digits, the
        agreement's verdict on every such entry): ``map_entry`` of such a token is these bytes and the digits, since
        the token's length, and so its length prefix, is the same whatever the digits."""
        check = self._mac_check
        assert check is not None  # only asked when entries are checked per key (or not at all)
        head = self._heads[name] = (map_entry(name, self._prefix + "0" * 32)[:-32], check(name, self.tokeniser.key_id))
        if len(self._heads) > ENTRIES_REMEMBERED:  # names are few (match keys); bounded all the same
            self._heads.clear()
            self._heads[name] = head
        return head

    def _entry(self, item: tuple[str, tuple[str, str]], remember: bool = True) -> tuple[tuple[str, str], bytes, bool]:
        """One entry made (and remembered): ((match key, token), its Avro bytes, the agreement's verdict)."""
        name, pair = item
        if self._mac_check is not None:
            digits = self.tokeniser.mac_of(pair)
            head = self._heads.get(name) or self._head(name)
            row = ((name, self._prefix + digits), head[0] + digits.encode(), head[1])
        else:
            token = self.tokeniser.token_of(pair)
            check = self._entry_check
            row = ((name, token), map_entry(name, token), check is None or check(name, token))
        if not remember:
            return row
        entries = self._entries
        assert entries is not None
        if len(entries) >= ENTRIES_REMEMBERED:
            entries.clear()
        entries[item] = row
        return row

    def _mint_whole(self, derived: dict[str, tuple[str, str]], normalised: str | None,
                    overlap: tuple[str, ...]) -> Minted:
        """The map made whole: tokens under every running key, sorted, encoded and checked as one."""
        tokens = self.tokeniser.tokens_under(derived, overlap)
        # sorted by name once here, so a person's tokens are merged in order, not sorted per event (_merged);
        # checked once here against the agreement's token rules, not once per event that repeats the value
        block = EncodedMap.of(sorted(tokens.items()), None)
        block.avro = map_entries(block)  # its Avro bytes too, once: a person's map is these blocks joined
        return (block, normalised, self._check is None or self._check(block), next(iter(block)),
                next(reversed(block)))

    def __call__(self, value: Any) -> Minted:
        tok = self.tokeniser
        overlap = tuple(tok.overlap_key_ids()) if tok.rotating else ()
        try:
            return self._cached(value, overlap)
        except TypeError:  # pragma: no cover - an unhashable value (Avro gives strings and dates)
            return self._mint(value, overlap)

    def clear(self) -> None:
        self._cached.cache_clear()
        if self.lookup is not self:
            self.lookup.cache_clear()  # type: ignore[attr-defined]
        if self._entries is not None:
            self._entries.clear()
        self._heads.clear()


@dataclass(frozen=True)
class PlanContext:
    """What compiling needs besides the source's policy: keys, geography and reference data."""

    agreement_id: str
    agreement_version: str
    at: str
    event_key: bytes
    geography: PostcodeLookup | None
    offences: Mapping[str, Offence]
    tokeniser_for: Callable[[str], Tokeniser]  # purpose -> tokeniser (keys per purpose)
    token_purpose: str
    conformance: Callable[[dict[str, Any]], list[str]] | None = None  # the agreement's check of the output
    output_tests: Callable[..., OutputTests | None] | None = None
    """``EventRules.output_tests`` for where this runs: what of ``conformance`` the plan's generated code must
    still test per event (None: every event takes ``conformance`` in full)."""
    token_check: TokenCheck | None = None  # ``EventRules.keyed_tokens``: asked once per token map minted
    token_entry_check: EntryCheck | None = None
    """``EventRules.keyed_token``: ``token_check`` of a map, entry by entry (a plan asks it once per entry it makes;
    without it, maps are made and checked whole)."""
    token_mac_check: MacCheck | None = None
    """``EventRules.keyed_mac_token``: ``token_entry_check`` of every token a MAC gives under one key, asked once per
    entry name and key (without it, each new entry's token is checked)."""


def _target(target: str) -> tuple[int, str, str]:
    head, _, rest = target.partition(".")
    if head == "flags":
        return FLAG, rest, ""
    if head == "attributes":
        return ATTRIBUTE, rest, ""
    if head == "person":
        role, _, attr = rest.partition(".")
        return PERSON, role, attr
    return TOP, target, ""


def _date_method(name: str, method: str) -> Generaliser:
    if method == "hour":
        def hour(value: Any, when: Any) -> Any:
            if not isinstance(value, date):
                raise PseudonymisationError(not_a_date(name, method))
            return value.hour if isinstance(value, datetime) else None
        return hour
    of_day = _DAY_METHODS.get(method)
    if of_day is None:  # pragma: no cover - every date method is a day method or the hour
        raise PseudonymisationError(f"{name}: unsupported generalisation {method}")
    day_method: Callable[[date], Any] = of_day

    def gen(value: Any, when: Any) -> Any:
        if not isinstance(value, date):
            raise PseudonymisationError(not_a_date(name, method))
        return day_method(value.date() if isinstance(value, datetime) else value)
    return gen


# generalise.by_date_method's day methods, resolved once per plan instead of per value (same results)
_DAY_METHODS: dict[str, Callable[[date], Any]] = {
    "date": lambda d: d, "week": generalise.iso_week, "month": lambda d: f"{d.year}-{d.month:02d}",
    "year": lambda d: str(d.year)}


def _age_band(name: str) -> Generaliser:
    def gen(value: Any, when: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return generalise.band_of_age(value)
        if not isinstance(value, date):
            raise PseudonymisationError(f"{name} is neither a date of birth nor an age")
        return generalise.age_band(value, when.date() if isinstance(when, datetime) else when)
    return gen


def _generaliser(name: str, method: str, offences: Mapping[str, Offence]) -> Generaliser:
    if method in generalise.DATE_METHODS:
        return _date_method(name, method)
    if method == "age_band":
        return _age_band(name)
    if method == "offence_category":
        def category(value: Any, when: Any) -> Any:
            offence = offences.get(normalise_offence_code(str(value)))
            return offence.category if offence else None
        return category
    if method == "sex":
        return lambda value, when: SEX_CODES.get(str(value).strip().upper())
    raise PseudonymisationError(f"{name}: unsupported generalisation {method}")  # pragma: no cover


def _pair_keys(names: object) -> dict[str, tuple[str, str]]:
    pair: tuple[str, str] = names  # type: ignore[assignment]
    return name_pair_keys(pair[0], pair[1])


class SourcePlan:
    """One source's agreement, compiled. ``apply`` turns a raw record into (shared event, withheld names)."""

    def __init__(self, source: str, policy: SourcePolicy, ctx: PlanContext) -> None:
        self.source = source
        self.record_id = policy.record_id
        self.event_time = policy.event_time
        self.refusal = (None if policy.pseudonymise_at == ctx.at else
                        f"the agreement has {source} pseudonymised at the {policy.pseudonymise_at}, "
                        f"not at the {ctx.at}")
        self.geography = ctx.geography
        self.conformance = ctx.conformance
        self.output_tests = ctx.output_tests
        self._generated: dict[tuple[str, ...], Applier | None] = {}  # record layout -> generated apply
        self.event_ids = EventIds(ctx.event_key, source)
        token_tokeniser = ctx.tokeniser_for(ctx.token_purpose)
        self.pair_tokeniser = token_tokeniser
        self.key_id = token_tokeniser.key_id
        self.head = {"source": source, "agreement_id": ctx.agreement_id, "agreement_version": ctx.agreement_version,
                     "key_id": self.key_id}
        self.fields: dict[str, tuple[tuple[Any, ...], ...]] = {}
        self._mints: dict[str, TokenMint] = {}  # one per token family, shared by the roles' fields
        self._areas = lru_cache(maxsize=TOKEN_CACHE_SIZE)(self._area_of)
        # the order-free name pair of a person's normalised forename and surname, remembered like a family
        self._pairs = self._mints["name_pair"] = TokenMint(_pair_keys, token_tokeniser, None,
                                                           check=ctx.token_check, family="name_pair",
                                                           entry_check=ctx.token_entry_check,
                                                           mac_check=ctx.token_mac_check)
        linked = ctx.token_purpose in policy.purposes  # tokens serve linkage only: none for a source not linked
        for name, outputs in policy.fields.items():
            ops = tuple(op for out in outputs if (out.treatment != "token" or linked)
                        and (op := self._compile(name, out, ctx, token_tokeniser)))
            if ops:
                self.fields[name] = ops

    def clear_caches(self) -> None:
        """Forget remembered tokens, MACs and areas (a benchmark starts each repeat cold)."""
        for mint in self._mints.values():
            mint.clear()
            mint.tokeniser.forget()
        self._areas.cache_clear()

    def _compile(self, name: str, out: Output, ctx: PlanContext, tokeniser: Tokeniser) -> tuple[Any, ...] | None:
        if out.treatment == "drop":
            return None
        if out.treatment == "token":
            assert out.person and out.kind
            mint = self._mints.get(out.kind)
            if mint is None:
                name_kind = out.kind if out.kind in NAME_KINDS else None
                mint = self._mints[out.kind] = TokenMint(deriver(out.kind), tokeniser, name_kind,
                                                         check=ctx.token_check, family=out.kind,
                                                         entry_check=ctx.token_entry_check,
                                                         mac_check=ctx.token_mac_check)
            return (TOKEN, out.person, mint.lookup, out.kind if out.kind in NAME_KINDS else None, mint)
        assert out.target
        kind, slot, attr = _target(out.target)
        if out.treatment == "generalise" and out.method in AREA_METHODS:
            return (AREA, kind, slot, attr, out.method)  # the Area attribute of that level
        gen = _keep if out.treatment == "keep" else _generaliser(name, str(out.method), ctx.offences)
        # the method too: generated code writes a date's generalisation inline (hub.pseudonymisation.compiled)
        return (PUT, kind, slot, attr, gen, out.method if out.treatment == "generalise" else None, name)

    def _area(self, value: Any) -> Area | None:
        """The area of a postcode or LSOA code (remembered: a plan's ``_areas``, as places repeat)."""
        try:
            return self._areas(value)
        except TypeError:  # pragma: no cover - an unhashable value (Avro gives strings)
            return self._area_of(value)

    def _area_of(self, value: Any) -> Area | None:
        text = str(value)
        code = text.strip().upper()
        if LSOA_CODE.match(code):
            return self.geography.by_lsoa(code) if self.geography else Area(code, None, None)
        return self.geography.by_postcode(text) if self.geography else None

    def apply(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """(shared event, withheld field names) of a raw record (raises ``PseudonymisationError``).

        The plan's generated code for the record's layout does the work (``hub.pseudonymisation.compiled``);
        a record it does not take goes through :meth:`apply_reference`, which gives the same event."""
        if self.refusal:
            raise PseudonymisationError(self.refusal)
        if type(record) is dict:
            layout = tuple(record)
            applier = self._generated.get(layout, False)
            if applier is False:
                applier = self._generate(layout)
            if applier is not None:
                return applier(record)  # type: ignore[operator]
        return self.apply_reference(record)

    def _generate(self, layout: tuple[str, ...]) -> Applier | None:
        if len(self._generated) >= LAYOUTS_REMEMBERED:  # bounded: records of arbitrary layouts can be applied
            self._generated.clear()
        applier = self._generated[layout] = compile_apply(self, layout)
        return applier

    def apply_reference(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """``apply`` by walking the record and the plan's operations: the definition the generated code keeps."""
        if self.refusal:
            raise PseudonymisationError(self.refusal)
        rid = record.get(self.record_id)
        if not isinstance(rid, str) or not rid.strip():
            raise PseudonymisationError(missing_id(self.record_id))
        when = record.get(self.event_time)
        if not isinstance(when, date):
            raise PseudonymisationError(missing_time(self.event_time))
        flags: dict[str, bool] = {}
        attributes: dict[str, str] = {}
        shared: dict[str, Any] = {"event_id": self.event_ids(rid), **self.head, "flags": flags,
                                  "attributes": attributes}
        # role -> [age_band, sex, token maps (each sorted), normalised forename, normalised surname]
        persons: dict[str, list[Any]] = {}
        withheld: list[str] = []
        fields = self.fields
        for name, value in record.items():
            if value is None:
                continue
            ops = fields.get(name)
            if ops is None:
                withheld.append(name)
                continue
            area: Any = False  # looked up at most once per field, shared by its lsoa/msoa/lad outputs
            for op in ops:
                code = op[0]
                if code == TOKEN:
                    person = persons.get(op[1])
                    if person is None:
                        person = persons[op[1]] = [None, None, [], None, None]
                    try:
                        tokens, normalised, _, _, _ = op[2](value)
                    except TypeError:  # pragma: no cover - unhashable (Avro gives strings and dates)
                        tokens, normalised, _, _, _ = op[4]._mint(value, ())
                    if tokens:
                        person[2].append(tokens)
                    if op[3] is not None:  # the family's own normalised value, for the name pair
                        person[3 if op[3] == "forename" else 4] = normalised
                    continue
                if code == AREA:
                    if area is False:
                        area = self._area(value)
                    if area is None:
                        continue
                    result = getattr(area, op[4])
                else:
                    result = op[4](value, when)
                if result is None:
                    continue
                kind = op[1]
                if kind == FLAG:
                    flags[op[2]] = bool(result)
                elif kind == ATTRIBUTE:
                    attributes[op[2]] = result.isoformat() if isinstance(result, date) else str(result)
                elif kind == PERSON:
                    person = persons.get(op[2])
                    if person is None:
                        person = persons[op[2]] = [None, None, [], None, None]
                    slot = 0 if op[3] == "age_band" else 1
                    if person[slot] is None:
                        person[slot] = result
                elif shared.get(op[2]) is None:  # the first rule that resolves wins
                    shared[op[2]] = result
        out_persons = []
        for role, (age_band, sex, blocks, forename, surname) in persons.items():
            if forename and surname and (pair := self._pairs.lookup((forename, surname))[0]):
                blocks.append(pair)
            if age_band is None and sex is None and not blocks:
                continue
            out_persons.append({"role": role, "age_band": age_band, "sex": sex, "tokens": _merged(blocks)})
        shared["persons"] = out_persons
        withheld.sort()
        shared["withheld_fields"] = list(withheld)
        if self.conformance is not None and (problems := self.conformance(shared)):
            # a name typed into a coded field, say: refused here, never published
            raise PseudonymisationError("the event does not conform to the agreement: " + "; ".join(problems))
        return shared, withheld
