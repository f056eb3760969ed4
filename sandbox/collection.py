"""One organization's records of one resource, indexed for the sync's query.

Records are stored as tuples in schema field order (compact: 200k transactions fit in a few hundred MB).
Two sorted indexes are kept up to date on every mutation:

- ``by_ts``: ``(updated_at_epoch, id)`` pairs. A null ``updated_at`` gets ``NULL_KEY`` so it sorts
  **first** in ascending order (MySQL's NULL ordering), and it never satisfies a comparison.
- ``ids``: ids ascending (the default order of every list).

``select`` answers ``filter=updated_at>=X`` (any mix of ``< <= = >= >`` on ``updated_at``) sorted by
``updated_at:asc[,id:asc]`` (or ``updated_at:desc,id:desc``) with two bisects and a slice, i.e.
O(log n + per_page); the same for range filters on ``id`` sorted by id. Everything else scans,
filters and sorts (stable sorts over id order, so ``id asc`` is always the final tie-breaker).
"""

from __future__ import annotations

import calendar
import operator
from bisect import bisect_left, insort
from collections.abc import Sequence
from typing import Any

from sandbox.query import Condition, SortKey, comparable, nested_member
from sandbox.schema import NESTED

NULL_KEY = -(1 << 62)
Row = dict[str, Any]


def ts_key(value: str | None) -> int:
    """Index key of an emitted ``YYYY-MM-DDTHH:MM:SS+0000`` timestamp (NULL_KEY for null)."""
    if value is None:
        return NULL_KEY
    return calendar.timegm(
        (
            int(value[0:4]),
            int(value[5:7]),
            int(value[8:10]),
            int(value[11:13]),
            int(value[14:16]),
            int(value[17:19]),
            0,
            0,
            0,
        )
    )


class Rec:
    """A stored record: field values in schema order, plus transaction items."""

    __slots__ = ("blob", "blob_items", "id", "items", "key", "vals")

    def __init__(self, vals: tuple[Any, ...], key: int, items: tuple[tuple[Any, ...], ...] | None) -> None:
        self.id: int = vals[0]
        self.vals = vals
        self.key = key
        self.items = items
        self.blob: bytes | None = None  # cached JSON (a mutation replaces the Rec)
        self.blob_items: bytes | None = None  # cached JSON with items


class Collection:
    """Records of one (organization, resource), with the updated_at and id indexes."""

    def __init__(self, kinds: dict[str, str], item_fields: Sequence[str] | None = None) -> None:
        self.kinds = kinds
        self.fields = tuple(kinds)
        self.item_fields = tuple(item_fields) if item_fields else None
        self.pos = {f: i for i, f in enumerate(self.fields)}
        self._ts_pos = self.pos["updated_at"]
        self._getter = operator.itemgetter(*self.fields)
        self._item_getter = operator.itemgetter(*(self.item_fields or ("id",)))

        self.recs: dict[int, Rec] = {}
        self.ids: list[int] = []
        self.by_ts: list[tuple[int, int]] = []
        self.cached_bytes = 0

    def __len__(self) -> int:
        return len(self.recs)

    # -- building and mutation -------------------------------------------------------------
    def add(self, row: Row, items: list[Row] | None = None) -> None:
        """Bulk-load one complete row without indexing; call ``reindex`` when done."""
        rec = self._make(row, items)
        self.recs[rec.id] = rec

    def reindex(self) -> None:
        """Rebuild both indexes from the records."""
        self.ids = sorted(self.recs)
        self.by_ts = sorted((r.key, r.id) for r in self.recs.values())

    def _make(self, row: Row, items: list[Row] | None) -> Rec:
        try:
            vals: tuple[Any, ...] = self._getter(row)
        except KeyError:
            vals = tuple(row.get(f) for f in self.fields)
        its = None
        if self.item_fields is not None:
            its = tuple(self._item_tuple(i) for i in items or ())
        return Rec(vals, ts_key(vals[self._ts_pos]), its)

    def _item_tuple(self, item: Row) -> tuple[Any, ...]:
        try:
            return self._item_getter(item)  # type: ignore[no-any-return]
        except KeyError:
            return _complete(self.item_fields or (), item)

    def put(self, row: Row, items: list[Row] | None = None) -> Rec:
        """Insert or replace one record, keeping both indexes sorted."""
        old = self.recs.get(row["id"])
        if old is not None:
            self._unindex_ts(old)
            if items is None and old.items is not None:
                items = self.item_rows(old)
        else:
            insort(self.ids, row["id"])
        rec = self._make(row, items)
        self.recs[rec.id] = rec
        insort(self.by_ts, (rec.key, rec.id))
        return rec

    def delete(self, rid: int) -> bool:
        rec = self.recs.pop(rid, None)
        if rec is None:
            return False
        self._unindex_ts(rec)
        del self.ids[bisect_left(self.ids, rid)]
        return True

    def _unindex_ts(self, rec: Rec) -> None:
        i = bisect_left(self.by_ts, (rec.key, rec.id))
        del self.by_ts[i]

    # -- reading ---------------------------------------------------------------------------
    def row(self, rec: Rec) -> Row:
        return dict(zip(self.fields, rec.vals, strict=True))

    def item_rows(self, rec: Rec) -> list[Row]:
        assert self.item_fields is not None
        return [dict(zip(self.item_fields, it, strict=True)) for it in rec.items or ()]

    def value(self, rec: Rec, name: str) -> Any:
        nested = nested_member(name)
        if nested is None:
            return rec.vals[self.pos[name]]
        obj = rec.vals[self.pos[nested[0]]]
        return obj.get(nested[1]) if isinstance(obj, dict) else None

    def select(
        self, conds: list[Condition], sort: list[SortKey], page: int, per_page: int, use_index: bool = True
    ) -> tuple[int, list[Rec]]:
        """(total matching, records of the requested page)."""
        start = (page - 1) * per_page
        if use_index:
            hit = self._indexed(conds, sort)
            if hit is not None:
                keys, lo, hi, reverse = hit
                total = max(0, hi - lo)
                if reverse:
                    a, b = max(lo, hi - start - per_page), hi - start
                    chosen: Sequence[Any] = list(reversed(keys[a:b])) if b > a else []
                else:
                    chosen = keys[lo + start : min(hi, lo + start + per_page)]
                recs = self.recs
                return total, [recs[k[1] if isinstance(k, tuple) else k] for k in chosen]
        matched = self.scan(conds, sort)
        return len(matched), matched[start : start + per_page]

    def scan(self, conds: list[Condition], sort: list[SortKey]) -> list[Rec]:
        """Brute force: filter every record, then stable-sort by the keys (id asc as tie-breaker)."""
        recs = self.recs
        out = [recs[i] for i in self.ids]
        for c in conds:
            out = [r for r in out if c.matches(self.value(r, c.field))]
        for key in reversed(sort):
            kind = self._kind(key.field)
            name = key.field

            def sort_key(r: Rec, f: str = name, k: str = kind) -> tuple[bool, Any]:
                return _sort_value(k, self.value(r, f))

            out.sort(key=sort_key, reverse=key.descending)
        return out

    def _kind(self, name: str) -> str:
        nested = nested_member(name)
        if nested is None:
            return self.kinds[name]
        return NESTED[nested[0]].get(nested[1], "str")

    def _indexed(
        self, conds: list[Condition], sort: list[SortKey]
    ) -> tuple[Sequence[Any], int, int, bool] | None:
        shape = [(k.field, k.descending) for k in sort]
        if shape in ([("updated_at", False)], [("updated_at", False), ("id", False)]):
            return self._ts_range(conds, reverse=False)
        if shape == [("updated_at", True), ("id", True)]:
            return self._ts_range(conds, reverse=True)
        if shape in ([], [("id", False)]) or shape == [("id", True)]:
            return self._id_range(conds, reverse=bool(shape) and shape[0][1])
        return None

    def _ts_range(self, conds: list[Condition], reverse: bool) -> tuple[Sequence[Any], int, int, bool] | None:
        keys = self.by_ts
        lo, hi = 0, len(keys)
        for c in conds:
            if c.field != "updated_at" or c.epoch is None or c.op not in ("<", "<=", "=", ">=", ">"):
                return None
            lo = max(lo, bisect_left(keys, (NULL_KEY + 1, 0)))
            x = c.epoch
            if c.op in (">=", "="):
                lo = max(lo, bisect_left(keys, (x, 0)))
            if c.op == ">":
                lo = max(lo, bisect_left(keys, (x + 1, 0)))
            if c.op in ("<=", "="):
                hi = min(hi, bisect_left(keys, (x + 1, 0)))
            if c.op == "<":
                hi = min(hi, bisect_left(keys, (x, 0)))
        return keys, lo, hi, reverse

    def _id_range(self, conds: list[Condition], reverse: bool) -> tuple[Sequence[Any], int, int, bool] | None:
        keys = self.ids
        lo, hi = 0, len(keys)
        for c in conds:
            if c.field != "id" or c.value is None or c.op not in ("<", "<=", "=", ">=", ">"):
                return None
            x = c.value
            if c.op in (">=", "="):
                lo = max(lo, bisect_left(keys, x))
            if c.op == ">":
                lo = max(lo, bisect_left(keys, x + 1))
            if c.op in ("<=", "="):
                hi = min(hi, bisect_left(keys, x + 1))
            if c.op == "<":
                hi = min(hi, bisect_left(keys, x))
        return keys, lo, hi, reverse


def _sort_value(kind: str, raw: Any) -> tuple[bool, Any]:
    """None first in ascending order (MySQL), last in descending."""
    if raw is None:
        return (False, 0)
    return (True, comparable(kind, raw))


def _complete(fields: tuple[str, ...], row: Row) -> tuple[Any, ...]:
    return tuple(row.get(f) for f in fields)
