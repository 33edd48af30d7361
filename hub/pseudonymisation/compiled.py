"""A source's plan as straight-line Python: one generated function per source and record layout.

``SourcePlan.apply`` walks the record and dispatches every field's operations through tuples (which
operation, which target kind, which slot), then the agreement's conformance check walks the finished
event again. Both are the same work for every record of a source, so, as ``hub.schemas.codec`` does
for Avro, the plan is turned once into the source text of one function: the record's values unpacked
in their known order, each granted field's operations written out with their targets, the people as
local variables, a person's token maps joined in the order their names sort, and only the value tests
of the agreement's check that depend on the record (``EventRules.output_tests``). Nothing else changes:
the same callables make the tokens, event ids, areas and generalisations, in the same order, with the
same first-wins and last-wins rules, so the event is the one ``SourcePlan.apply_reference`` makes (a
test compares both on every source's synthetic extract, hostile records included).

The layout is the record's keys in order (a decoded record has the schema's; a connector's mapping its
own); a plan keeps a function per layout it has met. A layout the generator does not take (no record id
or event time among the keys, a role whose fields interleave another's, a target outside the shared
event's) gets none, and the reference walk does the work as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from hub.policy.agreement import TOP_TARGETS
from hub.pseudonymisation import ops as p
from hub.schemas.codec import joined

Applier = Callable[[dict[str, Any]], tuple[dict[str, Any], list[str]]]


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


def compile_apply(plan: Any, keys: tuple[str, ...]) -> Applier | None:
    """The ``apply`` of ``plan`` (a ``SourcePlan``, which imports this module) for records whose keys are
    ``keys`` in this order, or None when not generated."""
    if plan.record_id not in keys or plan.event_time not in keys or len(set(keys)) != len(keys):
        return None
    # Where each role is first and last touched, in operation order: people are listed in the order they
    # were first touched, which is static only if no two roles' operations interleave.
    spans: dict[str, list[int]] = {}
    position = 0
    for name in keys:
        for op in plan.fields.get(name, ()):
            position += 1
            role = op[1] if op[0] == p.TOKEN else (op[2] if op[1] == p.PERSON else None)
            if role is not None:
                span = spans.setdefault(role, [position, position])
                span[1] = position
            if op[0] != p.TOKEN and op[1] == p.TOP and op[2] not in TOP_TARGETS:
                return None
    roles = sorted(spans, key=lambda r: spans[r][0])
    for before, after in zip(roles, roles[1:], strict=False):
        if spans[before][1] >= spans[after][0]:
            return None
    withheld = sorted(name for name in keys if name not in plan.fields)

    tops: set[str] = set()
    flags: set[str] = set()
    attributes: dict[str, int] = {}  # name -> how many operations write it (the last one wins)
    token_roles: set[str] = set()
    for name in keys:
        for op in plan.fields.get(name, ()):
            if op[0] == p.TOKEN:
                token_roles.add(op[1])
            elif op[1] == p.TOP:
                tops.add(op[2])
            elif op[1] == p.FLAG:
                flags.add(op[2])
            elif op[1] == p.ATTRIBUTE:
                attributes[op[2]] = attributes.get(op[2], 0) + 1
    tests = None
    if plan.output_tests is not None:
        tests = plan.output_tests(plan.source, agreement_id=plan.head["agreement_id"],
                                  agreement_version=plan.head["agreement_version"], key_id=plan.key_id,
                                  tops=tops, flags=flags, attributes=set(attributes), roles=set(spans),
                                  token_roles=token_roles, withheld=withheld)
    check = plan.conformance is not None  # test values (or, with no tests, every event) against the agreement

    ns: dict[str, Any] = {
        "_PE": p.PseudonymisationError, "_date": date, "_datetime": datetime, "_EVENT_IDS": plan.event_ids,
        "_AREAS": plan._areas, "_AREA_OF": plan._area_of, "_PAIRS": plan._pairs.lookup, "_merged": p._merged,
        "_JOINED": joined,
        "_CONFORMANCE": plan.conformance, "_MAX_TOKENS": tests.max_tokens if tests else 0,
    }

    def const(value: Any, stem: str) -> str:
        name = f"{stem}{len(ns)}"
        ns[name] = value
        return name

    def value_test(test: Callable[[Any], bool] | None, var: str, ind: int) -> None:
        if check and tests is not None and test is not None:
            emit(ind, f"if not {const(test, '_T')}({var}): bad = 1")

    emit = _Lines()
    emit(0, "def apply(record):")
    values = [f"v{i}" for i in range(len(keys))]
    emit(1, f"{', '.join(values)}{',' if len(values) == 1 else ''} = record.values()")
    rid = values[keys.index(plan.record_id)]
    emit(1, f"if not isinstance({rid}, str) or not {rid}.strip():")
    emit(2, f"raise _PE({p.missing_id(plan.record_id)!r})")
    emit(1, f"when = {values[keys.index(plan.event_time)]}")
    emit(1, "if not isinstance(when, _date):")
    emit(2, f"raise _PE({p.missing_time(plan.event_time)!r})")
    emit(1, "flags = {}")
    emit(1, "attributes = {}")
    head = ", ".join(f"{k!r}: {v!r}" for k, v in plan.head.items())
    emit(1, f"shared = {{'event_id': _EVENT_IDS({rid}), {head}, 'flags': flags, 'attributes': attributes}}")
    emit(1, "bad = 0")
    slots_at = len(emit.lines)  # the token slots' initialisation goes here, once they are all known
    for role in roles:
        r = roles.index(role)
        emit(1, f"age{r} = sex{r} = fore{r} = sur{r} = None")
    blocks: dict[str, list[tuple[int, str]]] = {role: [] for role in roles}  # role -> (slot, family) in order
    names: dict[str, set[str]] = {role: set() for role in roles}  # the name kinds each role receives
    written: set[str] = set()  # top-level slots some earlier operation may have filled
    slot = 0
    for i, name in enumerate(keys):
        ops = plan.fields.get(name)
        if not ops:
            continue
        v = values[i]
        emit(1, f"if {v} is not None:")
        looked_up = dated = day = False
        for op in ops:
            code = op[0]
            if code == p.TOKEN:
                r = roles.index(op[1])
                slot += 1
                lookup, mint = const(op[2], "_L"), const(op[4], "_M")
                emit(2, "try:")
                emit(3, f"tk, nm, ok, first, last = {lookup}({v})")
                emit(2, "except TypeError:")
                emit(3, f"tk, nm, ok, first, last = {mint}._mint({v}, ())")
                emit(2, "if tk:")
                emit(3, f"t{slot}, f{slot}, l{slot} = tk, first, last")
                if check and tests is not None:
                    emit(3, "if not ok: bad = 1")
                emit(2, "else:")
                emit(3, f"t{slot} = None")
                if op[3] is not None:
                    emit(2, f"{'fore' if op[3] == 'forename' else 'sur'}{r} = nm")
                    names[op[1]].add(op[3])
                blocks[op[1]].append((slot, op[4].family))
                continue
            if code == p.AREA:
                if not looked_up:
                    emit(2, "try:")
                    emit(3, f"area = _AREAS({v})")
                    emit(2, "except TypeError:")
                    emit(3, f"area = _AREA_OF({v})")
                    looked_up = True
                emit(2, "if area is not None:")
                emit(3, f"r = area.{op[4]}")
                emit(3, "if r is not None:")
                _target(emit, op, 4, tests, check, value_test, written, attributes, roles)
                continue
            if op[4] is p._keep:
                emit(2, f"r = {v}")
                _target(emit, op, 2, tests, check, value_test, written, attributes, roles)
            elif op[5] in _DATE_INLINE:  # what plan._date_method's generaliser returns, written out
                if not dated:
                    emit(2, f"if not isinstance({v}, _date):")
                    emit(3, f"raise _PE({p.not_a_date(op[6], op[5])!r})")
                    dated = True
                if op[5] == "hour":
                    emit(2, f"if isinstance({v}, _datetime):")
                    emit(3, f"r = {v}.hour")
                    _target(emit, op, 3, tests, check, value_test, written, attributes, roles)
                    continue
                if not day:
                    emit(2, f"day = {v}.date() if isinstance({v}, _datetime) else {v}")
                    day = True
                emit(2, _DATE_INLINE[op[5]])
                _target(emit, op, 2, tests, check, value_test, written, attributes, roles)
            else:
                emit(2, f"r = {const(op[4], '_G')}({v}, when)")
                emit(2, "if r is not None:")
                _target(emit, op, 3, tests, check, value_test, written, attributes, roles)
    declared = [f"t{n}" for role in roles for n, _ in blocks[role]]
    if declared:  # a token slot stays None when its field is None
        emit.lines.insert(slots_at, f"    {' = '.join(declared)} = None")
    if check and tests is not None:
        for name, count in attributes.items():
            if count > 1:  # written more than once: the last value stands, so test it after all writes
                emit(1, f"x = attributes.get({name!r})")
                emit(1, "if x is not None:")
                value_test(tests.attributes.get(name), "x", 2)
    emit(1, "persons = []")
    for role in roles:
        r = roles.index(role)
        order = list(blocks[role])  # arrival order: the fields' operations, then the name pair
        if {"forename", "surname"} <= names[role]:
            slot += 1
            emit(1, f"t{slot} = None")
            emit(1, f"if fore{r} and sur{r}:")
            emit(2, f"tk, _, ok, first, last = _PAIRS((fore{r}, sur{r}))")
            emit(2, "if tk:")
            emit(3, f"t{slot}, f{slot}, l{slot} = tk, first, last")
            if check and tests is not None:
                emit(3, "if not ok: bad = 1")
            order.append((slot, plan._pairs.family))
        slots = [f"t{n}" for n, _ in order]
        present = " or ".join([f"age{r} is not None", f"sex{r} is not None", *slots])
        emit(1, f"if {present}:")
        if not order:
            emit(2, "tokens = {}")
        elif len(order) == 1:
            emit(2, f"tokens = {slots[0]}.copy() if {slots[0]} else {{}}")  # a copy: the block is remembered
        else:
            # Joined in the order the families' names sort, checked as _merged checks it (each map's first
            # name after the previous map's last): then it is the sorted union; else _merged decides.
            emit(2, "last = ''")
            emit(2, "joined = True")
            emit(2, "blocks = []")
            for n, _ in sorted(order, key=lambda item: item[1]):
                emit(2, f"if t{n}:")
                emit(3, f"if f{n} <= last: joined = False")
                emit(3, f"last = l{n}")
                emit(3, f"blocks.append(t{n})")
            emit(2, "if joined:")  # the maps' union, with their Avro bytes joined (hub.schemas.codec.joined)
            emit(3, "tokens = _JOINED(blocks)")
            emit(2, "else:")
            emit(3, f"tokens = _merged([b for b in ({', '.join(slots)},) if b])")
        if check and tests is not None and order:
            emit(2, "if len(tokens) > _MAX_TOKENS: bad = 1")
        emit(2, f"persons.append({{'role': {role!r}, 'age_band': age{r}, 'sex': sex{r}, 'tokens': tokens}})")
    emit(1, "shared['persons'] = persons")
    emit(1, "withheld = []")
    for name in withheld:
        emit(1, f"if {values[keys.index(name)]} is not None: withheld.append({name!r})")
    emit(1, "shared['withheld_fields'] = list(withheld)")
    if check:
        condition = "bad and " if tests is not None else ""
        emit(1, f"if {condition}(problems := _CONFORMANCE(shared)):")
        emit(2, "raise _PE('the event does not conform to the agreement: ' + '; '.join(problems))")
    emit(1, "return shared, withheld")
    source = "\n".join(emit.lines)
    try:
        exec(compile(source, f"<plan {plan.source}>", "exec"), ns)  # noqa: S102 - generated from the agreement
    except (SyntaxError, RecursionError, MemoryError):  # pragma: no cover - e.g. too many fields for Python
        return None
    applier: Applier = ns["apply"]
    applier.__doc__ = source  # what was generated, for whoever debugs it
    return applier


_DATE_INLINE = {
    "date": "r = day", "week": "r = '%d-W%02d' % day.isocalendar()[:2]",
    "month": "r = '%d-%02d' % (day.year, day.month)", "year": "r = str(day.year)", "hour": "",
}
"""plan._date_method's results (``generalise.iso_week`` and the plan's _DAY_METHODS), as lines setting ``r``."""


def _target(emit: _Lines, op: tuple[Any, ...], ind: int, tests: Any, check: bool,
            value_test: Callable[[Callable[[Any], bool] | None, str, int], None], written: set[str],
            attributes: Mapping[str, int], roles: list[str]) -> None:
    """Lines putting ``r`` (never None here) where the operation's target says, as ``SourcePlan.apply`` does."""
    kind, slot = op[1], op[2]
    if kind == p.FLAG:
        emit(ind, f"flags[{slot!r}] = bool(r)")  # any bool passes the agreement's flag rule (output_tests)
    elif kind == p.ATTRIBUTE:
        emit(ind, "x = r if type(r) is str else (r.isoformat() if isinstance(r, _date) else str(r))")
        emit(ind, f"attributes[{slot!r}] = x")
        if attributes[slot] == 1 and tests is not None:
            value_test(tests.attributes.get(slot), "x", ind)
    elif kind == p.PERSON:
        r = roles.index(slot)
        var = f"age{r}" if op[3] == "age_band" else f"sex{r}"
        emit(ind, f"if {var} is None:")
        emit(ind + 1, f"{var} = r")
        if tests is not None:
            age, sex = tests.persons[slot]
            value_test(age if op[3] == "age_band" else sex, "r", ind + 1)
    else:  # the first operation that resolves a top-level slot wins
        if slot in written:
            emit(ind, f"if {slot!r} not in shared:")
            ind += 1
        written.add(slot)
        emit(ind, f"shared[{slot!r}] = r")
        if tests is not None:
            value_test(tests.top.get(slot), "r", ind)
