"""Avro binary encode/decode compiled per schema into straight-line Python, with fastavro as the referee.

fastavro's Cython writer and reader interpret the parsed schema for every record: each field costs a
type dispatch, and each union value a validation of its branches (about 1.5 us a field; 30-45 us for a
shared event or a raw police record, a quarter of the boundary's time per event). The schemas here use a
handful of shapes (records, ``["null", X]`` unions, maps and arrays of strings, strings, booleans,
int/long, double, ``date`` and ``local-timestamp-millis``), so each schema is compiled once into one
Python function that writes or reads exactly those bytes in field order, with no dispatch.

The compiled code is a fast path only, never a second opinion: it accepts nothing but the plain case
(exact types: ``str``, ``bool``, ``int`` in range, ``float``, ``dict``, ``list``, a naive ``datetime``, a
``date``; a well-formed payload) and raises :class:`Fallback` on anything else, and the repository then
hands that record or payload to fastavro exactly as before. So a record fastavro would refuse is still
refused, in fastavro's words, and everything accepted gives fastavro's bytes and values (property tests
compare both on every schema). A schema using a shape not listed above gets no compiled codec at all.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

Encoder = Callable[[Mapping[str, Any]], bytes]
Decoder = Callable[[bytes, int], dict[str, Any]]

INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1
_EPOCH = datetime(1970, 1, 1)
_EPOCH_DAY = _EPOCH.toordinal()
_MS = timedelta(milliseconds=1)
_DOUBLE = struct.Struct("<d")


class Fallback(Exception):  # noqa: N818 - a signal, not an error: "let fastavro do this one"
    """The compiled path does not take this record or payload; fastavro does."""


class Unsupported(ValueError):
    """A schema shape the compiler does not handle (the schema then has no compiled codec)."""


def _varint(n: int) -> bytes:
    """Avro's zig-zag varint of a long."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


_LEN = [_varint(n) for n in range(4096)]
"""Length prefixes of short strings and collections, ready made."""


def _length(n: int) -> bytes:
    return _LEN[n] if n < 4096 else _varint(n)


def _read_long(buf: bytes, p: int) -> tuple[int, int]:
    """(value, next position) of a varint of at most 9 bytes (63 bits: no wrap-around question arises).

    Up to three bytes written out (a date is three: days since 1970 above 8,191), the rest in a loop."""
    c = buf[p]
    z = c & 0x7F
    if not c & 0x80:
        return (z >> 1) ^ -(z & 1), p + 1
    c = buf[p + 1]
    z |= (c & 0x7F) << 7
    if not c & 0x80:
        return (z >> 1) ^ -(z & 1), p + 2
    c = buf[p + 2]
    z |= (c & 0x7F) << 14
    if not c & 0x80:
        return (z >> 1) ^ -(z & 1), p + 3
    p += 3
    shift = 21
    while True:
        c = buf[p]
        p += 1
        z |= (c & 0x7F) << shift
        if not c & 0x80:
            return (z >> 1) ^ -(z & 1), p
        shift += 7
        if shift > 56:
            raise Fallback


def _read_length(buf: bytes, p: int) -> tuple[int, int]:
    n, p = _read_long(buf, p)
    if n < 0:
        raise Fallback
    return n, p


def _read_count(buf: bytes, p: int) -> tuple[int, int]:
    """A block's item count; a negative count is followed by the block's size in bytes (skipped)."""
    n, p = _read_long(buf, p)
    if n < 0:
        _, p = _read_length(buf, p)
        n = -n
    return n, p


_DAYS: dict[int, bytes] = {}
"""Encoded dates (days since 1970) met so far (bounded: emptied when full)."""


def _day(days: int) -> bytes:
    if len(_DAYS) >= 4096:
        _DAYS.clear()
    out = _DAYS[days] = _varint(days)
    return out


_KEYS: dict[str, bytes] = {}
"""Map keys met so far, length-prefixed and encoded (bounded: emptied when full)."""


def _key(key: str) -> bytes:
    if type(key) is not str:
        raise Fallback
    encoded = key.encode()
    out = _length(len(encoded)) + encoded
    if len(_KEYS) >= 4096:
        _KEYS.clear()
    _KEYS[key] = out
    return out


_dict_update = dict.update
_new_map = dict.__new__


class EncodedMap(dict[str, str]):
    """A map of strings that may carry its own Avro encoding: ``avro``, its entries (key, value, each
    length-prefixed) in iteration order, without the count before them or the end after them.

    A compiled encoder writes ``avro`` instead of encoding each entry again. Whoever sets it vouches that it
    encodes exactly the entries (:func:`map_entries`); every change to the map forgets it, so a changed map
    is encoded entry by entry as any other. Linkage tokens are such maps: a person's token maps are made
    once per distinct value and joined per event (``hub.pseudonymisation``), so their bytes are too.
    """

    __slots__ = ("avro",)  # no per-map __dict__: a person's joined map is made per event, minted maps by the thousand

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.avro: bytes | None = None

    @classmethod
    def of(cls, items: Any, avro: bytes | None) -> EncodedMap:
        """A map of ``items`` (a mapping or pairs) with ``avro``, made without a Python ``__init__`` call."""
        out = _new_map(cls)
        _dict_update(out, items)
        out.avro = avro
        return out

    def copy(self) -> EncodedMap:
        return EncodedMap.of(self, self.avro)

    def __setitem__(self, key: str, value: str) -> None:
        self.avro = None
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.avro = None
        super().__delitem__(key)

    def __ior__(self, other: Any) -> EncodedMap:  # type: ignore[override,misc]
        self.avro = None
        super().__ior__(other)
        return self

    def clear(self) -> None:
        self.avro = None
        super().clear()

    def pop(self, *args: Any) -> Any:
        self.avro = None
        return super().pop(*args)

    def popitem(self) -> tuple[str, str]:
        self.avro = None
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.avro = None
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.avro = None
        super().update(*args, **kwargs)


def map_entries(mapping: Mapping[str, str]) -> bytes:
    """The Avro encoding of a string map's entries, in iteration order (raises :class:`Fallback` for a key or
    value that is not a ``str``): what a compiled encoder writes between the map's count and its end."""
    b = bytearray()
    keys, lengths = _KEYS, _LEN
    for key, value in mapping.items():
        b += keys.get(key) or _key(key)
        if type(value) is not str:
            raise Fallback
        encoded = value.encode()
        n = len(encoded)
        b += lengths[n] if n < 4096 else _varint(n)
        b += encoded
    return bytes(b)


def map_entry(key: str, value: str) -> bytes:
    """:func:`map_entries` of the one entry ``key: value`` (raises :class:`Fallback` for a non-``str``): the
    entries of a map are these, one after another."""
    if type(value) is not str:
        raise Fallback
    encoded = value.encode()
    n = len(encoded)
    return (_KEYS.get(key) or _key(key)) + (_LEN[n] if n < 4096 else _varint(n)) + encoded


def joined(maps: list[EncodedMap]) -> EncodedMap:
    """The maps' union in their order (later keys win), with its encoding when every map has one and no key
    repeats (then the union's entries are the maps' entries, one after another)."""
    out = _new_map(EncodedMap)
    update = _dict_update  # dict's own: EncodedMap.update would forget an encoding the union does not have yet
    parts: list[bytes | None] = []
    entries = 0
    for m in maps:
        update(out, m)
        entries += len(m)
        parts.append(m.avro)
    out.avro = b"".join(parts) if len(out) == entries and None not in parts else None  # type: ignore[arg-type]
    return out


_PRIMITIVE_KINDS = {"string", "boolean", "int", "long", "double"}


def _kind(t: Any) -> str:
    """The shape of a declared type: a primitive, ``date``, ``local-ts``, ``record``, ``map``, ``array`` or
    ``union`` (raises :class:`Unsupported`)."""
    if isinstance(t, list):
        return "union"
    if isinstance(t, str):
        if t in _PRIMITIVE_KINDS:
            return t
        raise Unsupported(t)
    if isinstance(t, dict):
        logical = t.get("logicalType")
        if logical == "date" and t.get("type") == "int":
            return "date"
        if logical == "local-timestamp-millis" and t.get("type") == "long":
            return "local-ts"
        if logical is not None:
            raise Unsupported(str(logical))
        base = t.get("type")
        if base in ("record", "map", "array"):
            return str(base)
        return _kind(base)
    raise Unsupported(repr(t))


def _union_branch(t: list[Any]) -> tuple[int, Any]:
    """(index of null, the other branch) of a two-branch union with null."""
    if len(t) != 2 or t.count("null") != 1:
        raise Unsupported("union")
    null = t.index("null")
    return null, t[1 - null]


class _Gen:
    """Source lines with fresh local names."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.n = 0

    def var(self, stem: str) -> str:
        self.n += 1
        return f"{stem}{self.n}"

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


def _enc(g: _Gen, t: Any, v: str, ind: int) -> None:
    """Lines appending the encoding of local ``v`` (of declared type ``t``) to ``b``."""
    kind = _kind(t)
    if kind == "string":
        e = g.var("e")
        g.emit(ind, f"if type({v}) is not str: raise _F")
        g.emit(ind, f"{e} = {v}.encode(); c = len({e})")
        g.emit(ind, f"b += _LEN[c] if c < 4096 else _varint(c); b += {e}")
    elif kind == "boolean":
        g.emit(ind, f"if {v} is True: b += b'\\x01'")
        g.emit(ind, f"elif {v} is False: b += b'\\x00'")
        g.emit(ind, "else: raise _F")
    elif kind in ("int", "long", "date", "local-ts"):
        lo, hi = ("INT_MIN", "INT_MAX") if kind in ("int", "date") else ("LONG_MIN", "LONG_MAX")
        if kind == "date":
            g.emit(ind, f"if type({v}) is _date: {v} = {v}.toordinal() - _EPOCH_DAY")
        elif kind == "local-ts":
            g.emit(ind, f"if type({v}) is _datetime and {v}.tzinfo is None: {v} = ({v} - _EPOCH) // _MS")
        g.emit(ind, f"if type({v}) is not int or not {lo} <= {v} <= {hi}: raise _F")
        if kind == "date":  # days since 1970: a few hundred distinct dates a year of events
            g.emit(ind, f"b += _DAYS.get({v}) or _day({v})")
        else:
            g.emit(ind, f"b += _LEN[{v}] if 0 <= {v} < 4096 else _varint({v})")  # an hour, a count: ready made
    elif kind == "double":
        g.emit(ind, f"if type({v}) is not float: raise _F")
        g.emit(ind, f"b += _pack_double({v})")
    elif kind == "union":
        null, other = _union_branch(t)
        g.emit(ind, f"if {v} is None: b += {_varint(null)!r}")
        g.emit(ind, "else:")
        g.emit(ind + 1, f"b += {_varint(1 - null)!r}")
        _enc(g, other, v, ind + 1)
    elif kind in ("map", "array"):
        item, kv = g.var("i"), g.var("k")
        if kind == "map" and t["values"] == "string":
            g.emit(ind, f"if type({v}) is not dict and type({v}) is not _EncodedMap: raise _F")
        else:
            g.emit(ind, f"if type({v}) is not {'dict' if kind == 'map' else 'list'}: raise _F")
        g.emit(ind, f"if {v}:")
        g.emit(ind + 1, f"b += _length(len({v}))")
        if kind == "map":
            at = ind + 1
            if t["values"] == "string":  # a map that carries its entries' encoding (EncodedMap) writes it
                g.emit(at, f"if type({v}) is _EncodedMap and {v}.avro is not None: b += {v}.avro")
                g.emit(at, "else:")
                at += 1
            g.emit(at, f"for {kv}, {item} in {v}.items():")
            # keys repeat (token names, flag names): their length-prefixed bytes are remembered
            g.emit(at + 1, f"b += _KEYS.get({kv}) or _key({kv})")
            if t["values"] == "string":  # the tokens' maps: the hot loop, kept short (.encode refuses a non-str)
                g.emit(at + 1, f"{item} = {item}.encode(); b += _LEN[len({item})]; b += {item}")
            else:
                _enc(g, t["values"], item, at + 1)
        else:
            g.emit(ind + 1, f"for {item} in {v}:")
            _enc(g, t["items"], item, ind + 2)
        g.emit(ind, "b += b'\\x00'")
    else:  # record
        g.emit(ind, f"if type({v}) is not dict: raise _F")
        for f in t["fields"]:
            fv = g.var("f")
            ftype = f["type"]
            if "default" in f:
                g.emit(ind, f"{fv} = {v}.get({f['name']!r}, {f['default']!r})")
            elif isinstance(ftype, list) and "null" in ftype:
                g.emit(ind, f"{fv} = {v}.get({f['name']!r})")
            else:
                g.emit(ind, f"{fv} = {v}[{f['name']!r}]")
            _enc(g, ftype, fv, ind)


def _dec(g: _Gen, t: Any, v: str, ind: int) -> None:
    """Lines reading a value of declared type ``t`` at ``p`` in ``buf`` into local ``v``."""
    kind = _kind(t)
    if kind == "string":
        n = g.var("n")
        g.emit(ind, "c = buf[p]")
        g.emit(ind, f"if c & 0x81: {n}, p = _read_length(buf, p)")
        g.emit(ind, f"else: {n} = c >> 1; p += 1")
        g.emit(ind, f"{v} = buf[p:p + {n}].decode(); p += {n}")
    elif kind == "boolean":
        g.emit(ind, "c = buf[p]; p += 1")
        g.emit(ind, f"if c == 1: {v} = True")
        g.emit(ind, f"elif c == 0: {v} = False")
        g.emit(ind, "else: raise _F")
    elif kind in ("int", "long", "date", "local-ts"):
        g.emit(ind, "c = buf[p]")
        g.emit(ind, f"if c & 0x80: {v}, p = _read_long(buf, p)")
        g.emit(ind, f"else: {v} = (c >> 1) ^ -(c & 1); p += 1")
        if kind == "date":
            g.emit(ind, f"{v} = _fromordinal({v} + _EPOCH_DAY)")
        elif kind == "local-ts":
            g.emit(ind, f"{v} = _EPOCH + _MS * {v}")
    elif kind == "double":
        g.emit(ind, f"{v} = _unpack_double(buf, p)[0]; p += 8")
    elif kind == "union":
        null, other = _union_branch(t)
        g.emit(ind, "c = buf[p]; p += 1")
        g.emit(ind, f"if c == {2 * null}: {v} = None")
        g.emit(ind, f"elif c == {2 * (1 - null)}:")
        _dec(g, other, v, ind + 1)
        g.emit(ind, "else: raise _F")
    elif kind in ("map", "array"):
        count, item, key = g.var("n"), g.var("i"), g.var("k")
        g.emit(ind, f"{v} = {{}}" if kind == "map" else f"{v} = []")
        g.emit(ind, "while True:")
        g.emit(ind + 1, "c = buf[p]")
        g.emit(ind + 1, f"if c & 0x81: {count}, p = _read_count(buf, p)")
        g.emit(ind + 1, f"else: {count} = c >> 1; p += 1")
        g.emit(ind + 1, f"if not {count}: break")
        g.emit(ind + 1, f"for _ in range({count}):")
        if kind == "map":
            _dec(g, "string", key, ind + 2)
            _dec(g, t["values"], item, ind + 2)
            g.emit(ind + 2, f"{v}[{key}] = {item}")
        else:
            _dec(g, t["items"], item, ind + 2)
            g.emit(ind + 2, f"{v}.append({item})")
    else:  # record
        names = []
        for f in t["fields"]:
            fv = g.var("f")
            _dec(g, f["type"], fv, ind)
            names.append(f"{f['name']!r}: {fv}")
        g.emit(ind, f"{v} = {{{', '.join(names)}}}")


_NAMESPACE: dict[str, Any] = {
    "_F": Fallback, "_EncodedMap": EncodedMap, "_length": _length, "_LEN": _LEN, "_KEYS": _KEYS, "_key": _key,
    "_DAYS": _DAYS, "_day": _day,
    "_varint": _varint, "_read_long": _read_long,
    "_read_length": _read_length, "_read_count": _read_count, "_date": date, "_datetime": datetime,
    "_EPOCH": _EPOCH, "_EPOCH_DAY": _EPOCH_DAY, "_MS": _MS, "_fromordinal": date.fromordinal,
    "_pack_double": _DOUBLE.pack, "_unpack_double": _DOUBLE.unpack_from,
    "INT_MIN": INT_MIN, "INT_MAX": INT_MAX, "LONG_MIN": LONG_MIN, "LONG_MAX": LONG_MAX,
}


def _compile(source: str, name: str) -> Any:
    namespace = dict(_NAMESPACE)
    exec(compile(source, f"<avro {name}>", "exec"), namespace)  # noqa: S102 - code generated from a schema
    return namespace[name]


def compile_encoder(declared: Mapping[str, Any], prefix: bytes = b"") -> Encoder:
    """``record -> prefix + body bytes`` for a record schema; raises :class:`Fallback` for anything not plain, and
    :class:`Unsupported` (here, at compile time) for a schema shape it does not handle."""
    g = _Gen()
    g.emit(0, "def encode(r):")
    g.emit(1, f"b = bytearray({prefix!r})")
    _enc(g, dict(declared), "r", 1)
    g.emit(1, "return bytes(b)")
    return _compile("\n".join(g.lines), "encode")  # type: ignore[no-any-return]


def compile_decoder(declared: Mapping[str, Any]) -> Decoder:
    """``(payload, start) -> record`` for a record schema; raises :class:`Fallback` (or an ``IndexError`` and
    the like on a short payload) for anything but a well-formed body, and :class:`Unsupported` at compile
    time."""
    g = _Gen()
    g.emit(0, "def decode(buf, p):")
    _dec(g, dict(declared), "r", 1)
    g.emit(1, "if p > len(buf): raise _F")
    g.emit(1, "return r")
    return _compile("\n".join(g.lines), "decode")  # type: ignore[no-any-return]


def compile_codec(declared: Mapping[str, Any], prefix: bytes = b"") -> tuple[Encoder, Decoder] | None:
    """Both directions (the encoder's output starts with ``prefix``: the wire header), or None when the
    schema uses a shape the compiler does not handle, or one Python cannot compile (e.g. more than 20 nested
    blocks: ``SyntaxError``); fastavro then does all the work, as it would anyway."""
    try:
        return compile_encoder(declared, prefix), compile_decoder(declared)
    except (Unsupported, SyntaxError, RecursionError, MemoryError):
        return None
