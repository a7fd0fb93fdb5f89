"""Household and person state as numpy columns: the single source of truth.

Persons point to their household by row (``hh``); households and persons are kept sorted by
their ids (``hid``, ``pid``), which only grow, so the row of an id is a binary search and
uniqueness is a check of order. Removing rows
keeps the order and remaps ``hh``. Household type is derived from members' roles, not stored.

Lookups derived from the columns (household sizes, heads, areas of persons, ...) are cached until
a change method changes what they are computed from. The few that the yearly events need after
almost every change (``CARRIED``) are instead brought up to date by each change method from what
it changed, without a pass over everyone; ``check`` compares them with the columns. Service use
(``use``, ``wait``) follows the removals and additions of persons once a year
(``align_service_use``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cache, wraps

import numpy as np
from numba import njit, types
from numba.extending import overload

from simulation.errors import AccountingError
from simulation.vocabulary import CHILD, HEAD, LOW, NOT_LOW, ORIGINS, OTHER, PARTNER, SEXES

MAX_AREAS = 127  # area indices of service use are stored as int8


def take_rows(column: np.ndarray, index) -> np.ndarray:
    """Rows of a column; a 2-d column (service use per person) is indexed as one block of bytes
    per row, which numpy copies about 15 times faster than row-by-row fancy indexing."""
    if column.ndim == 2 and column.flags.c_contiguous and column.shape[1]:
        row = np.dtype((np.void, column.dtype.itemsize * column.shape[1]))
        return column.view(row).ravel()[index].view(column.dtype).reshape(-1, column.shape[1])
    return column[index]


def unsigned(column: np.ndarray) -> np.ndarray:
    """The same integers read as unsigned ones of the same size, for columns that are never
    negative (rows, ages, codes): a compiled lookup with an unsigned index needs no check for a
    negative one, which is a large share of a pass over every person. Of the same item size, the
    view has the column's length whatever its type. Integers only."""
    if column.dtype.kind not in "iu":
        raise TypeError(f"unsigned: a column of integers expected, not {column.dtype}")
    return column.view(np.dtype(f"u{column.dtype.itemsize}"))


@overload(unsigned)
def _unsigned_compiled(column):
    """``unsigned`` in compiled passes (integer arrays only: for any other type numba finds no
    implementation). numba's on-disk cache does not see a change here in the passes that use it:
    after changing it, delete the ``__pycache__`` folders."""
    if not (isinstance(column, types.Array) and isinstance(column.dtype, types.Integer)):
        return None
    target = np.dtype(f"u{column.dtype.bitwidth // 8}").type
    return lambda column: column.view(target)


ROOM = 8  # a grown column keeps room for 1/ROOM more rows (about a year of births and arrivals)


FEW = 64  # a removal of at most one row in FEW moves the runs of rows between the removed ones
ALL_TRUE = np.uint64(0x0101010101010101)  # eight true bytes of a mask, read as one word


@njit(cache=True)
def mask_rows(mask: np.ndarray, value: bool) -> np.ndarray:
    """Positions where a 1-d boolean mask is ``value``, ascending (np.flatnonzero of the mask or
    of its negation). Read eight at a time, skipping eight of the other value at once; a position
    is written always and kept by counting it, as a branch per row is slow on scattered rows
    (persons of an age)."""
    n, out, m = len(mask), np.empty(len(mask), np.int64), 0
    whole = n // 8 * 8
    words = mask[:whole].view(np.uint64)
    other = np.uint64(0) if value else ALL_TRUE  # a word of eight rows none of which is wanted
    for w in range(len(words)):
        if words[w] != other:
            for i in range(8 * w, 8 * w + 8):
                out[m] = i
                m += mask[i] == value
    for i in range(whole, n):
        out[m] = i
        m += mask[i] == value
    return out[:m].copy()


@dataclass(frozen=True)
class Removal:
    """The rows that a mask ``keep`` keeps, in order: how many (``kept``), and which go
    (``gone``, ascending) when they are few (at most one row in FEW; else None): each run of
    rows between them then moves as one block."""

    keep: np.ndarray
    kept: int
    gone: np.ndarray | None

    @staticmethod
    def of(keep: np.ndarray) -> "Removal":
        kept = int(np.count_nonzero(keep))
        few = (len(keep) - kept) * FEW <= len(keep)
        return Removal(keep, kept, mask_rows(keep, False) if few else None)

    @staticmethod
    def going(gone: np.ndarray, keep: np.ndarray) -> "Removal":
        """The removal of the rows ``gone`` (ascending), those that the mask ``keep`` leaves out."""
        few = len(gone) * FEW <= len(keep)
        return Removal(keep, len(keep) - len(gone), gone if few else None)

    def first(self, n: int) -> "Removal":
        """The same removal of the first ``n`` rows."""
        if n == len(self.keep):
            return self
        if self.gone is None:
            return Removal.of(self.keep[:n])
        gone = self.gone[: np.searchsorted(self.gone, n)]
        return Removal(self.keep[:n], n - len(gone), gone)

    def new_rows(self) -> np.ndarray:
        """Row of each row after the removal; -1 for those that go."""
        return _new_rows(self.keep) if self.gone is None else _new_rows_between(self.gone, len(self.keep))

    def apply(self, groups) -> None:
        """Move the kept rows to the front of every column of ``groups`` (tuples of columns of
        one type), in order: as runs between the rows that go, or row by row."""
        for columns in groups:
            if self.gone is None:
                _move_rows(self.keep, columns)
            else:
                _move_runs(self.gone, columns)


@njit(cache=True)
def _move_runs(gone: np.ndarray, columns: tuple) -> None:
    """Close the gaps of the rows ``gone`` (increasing) in every column: each run of rows between
    two of them moves forward as one block."""
    if len(gone) == 0:
        return
    n = len(columns[0])
    kept = gone[0]
    for j in range(len(gone)):
        start = gone[j] + 1
        length = (gone[j + 1] if j + 1 < len(gone) else n) - start
        for column in columns:
            to, run = column[kept : kept + length], column[start : start + length]
            for i in range(length):  # forward: a block moves only towards the front
                to[i] = run[i]
        kept += length


@njit(cache=True)
def _move_rows(keep: np.ndarray, columns: tuple) -> None:
    """Move the rows of the mask ``keep`` to the front of every column, row by row, without
    branches: every row is copied forward, and the next row overwrites it unless it is kept."""
    kept = 0
    for row in range(len(keep)):
        for column in columns:
            column[kept] = column[row]
        kept += keep[row]


@njit(cache=True)
def _new_rows(keep: np.ndarray) -> np.ndarray:
    """Row of each row once those of the mask ``keep`` are kept; -1 for the others."""
    new_row = np.empty(len(keep), np.int32)
    kept = 0
    for row in range(len(keep)):
        new_row[row] = kept if keep[row] else -1
        kept += keep[row]
    return new_row


@njit(cache=True)
def _new_rows_between(gone: np.ndarray, n: int) -> np.ndarray:
    """Row of each of ``n`` rows once the rows ``gone`` (increasing) are removed; -1 for those:
    the rows of each run between two of them move forward by the removed rows before it."""
    new_row = np.empty(n, np.int32)
    start = 0
    for j in range(len(gone) + 1):
        end = gone[j] if j < len(gone) else n
        run, first = new_row[start:end], np.int32(start - j)
        for i in range(len(run)):  # int32 throughout: a loop the compiler vectorises
            run[i] = first + np.int32(i)
        if j < len(gone):
            new_row[end] = -1
        start = end + 1
    return new_row


@njit(cache=True)
def _renumber(hh: np.ndarray, new_row: np.ndarray) -> None:
    """Point every person's ``hh`` to its household's row after households are removed
    (``new_row``, -1 for a household that goes)."""
    rows = unsigned(hh)
    for row in range(len(hh)):
        hh[row] = new_row[rows[row]]


@njit(cache=True)
def _follow_households(hh: np.ndarray, new_row: np.ndarray, keep: np.ndarray) -> None:
    """Before households are removed: point every person's ``hh`` to its household's row after
    the removal (``new_row``, -1 for a household that goes) and drop the members of households
    that go from the mask ``keep``."""
    _renumber(hh, new_row)
    for row in range(len(hh)):
        keep[row] &= hh[row] >= 0


@njit(cache=True)
def _follow_heads(head_row: np.ndarray, person_row: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Before persons are removed: every household's head row pointed to its head's row after the
    removal (``person_row``, -1 for a person who goes), written into ``out`` (which may be
    ``head_row``); returns ``out``."""
    # never negative: every household has its head's row when a removal starts (add_households
    # is given it)
    rows = unsigned(head_row)
    for h in range(len(head_row)):
        out[h] = person_row[rows[h]]
    return out


@njit(cache=True)
def _members(hh: np.ndarray, n_households: int, households: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Person rows of the members of ``households`` (rows, which may repeat; ``counts`` members
    each), household after household, each household's members in row order."""
    ends = np.cumsum(counts)
    cursor = ends - counts
    first = np.full(n_households, -1, np.int32)  # the first place of each household in ``households``
    for i in range(len(households) - 1, -1, -1):
        first[households[i]] = i
    out = np.empty(ends[-1] if len(ends) else 0, np.int64)
    rows = unsigned(hh)  # never negative (see _renumber)
    # the members' rows first, without a branch (a row is written always and kept by counting it:
    # whether a person's household is wanted is hard to predict), then each put in its place
    found, m = np.empty(len(hh), np.int32), 0
    for row in range(len(hh)):
        found[m] = row
        m += first[rows[row]] >= 0
    for row in found[:m]:
        i = first[rows[row]]
        out[cursor[i]] = row
        cursor[i] += 1
    for i in range(len(households)):
        j = first[households[i]]
        if j != i:  # a repeat: the members found for the first place
            out[ends[i] - counts[i] : ends[i]] = out[ends[j] - counts[j] : ends[j]]
    return out


@njit(cache=True)
def _members_left(gone: np.ndarray, hh: np.ndarray, role: np.ndarray, size: np.ndarray):
    """Members each household keeps once the persons ``gone`` (rows) leave (from its ``size``),
    and whether its head leaves."""
    left = size.copy()
    head_gone = np.zeros(len(size), np.bool_)
    for row in gone:
        left[hh[row]] -= 1
        head_gone[hh[row]] |= role[row] == HEAD
    return left, head_gone


@njit(cache=True)
def _head_score(role: np.ndarray, age: np.ndarray, row: int) -> int:
    """Who becomes head of a headless household: the partner, else the oldest member."""
    return (role[row] == PARTNER) * 1000 + np.int64(age[row])


@njit(cache=True)
def _new_heads(hh: np.ndarray, role: np.ndarray, age: np.ndarray, headless: np.ndarray, leaving: np.ndarray) -> np.ndarray:
    """Make the member of every ``headless`` household (a mask) with the highest ``_head_score``
    (the first in row order among equals) its head, leaving out the persons of the mask
    ``leaving``; remaining children of a new head who was a child become 'other'. Changes
    ``role``; returns the new heads' rows, by household."""
    best = np.full(len(headless), -1, np.int32)  # the row of each household's new head so far
    members = np.empty(len(hh), np.int32)  # the rows of the members of headless households
    n = 0
    rows = unsigned(hh)  # never negative (see _renumber)
    for row in range(len(hh)):
        h = rows[row]
        if headless[h] and not leaving[row]:
            members[n] = row
            n += 1
            if best[h] < 0 or _head_score(role, age, row) > _head_score(role, age, best[h]):
                best[h] = row
    new_heads = best[best >= 0].astype(np.int64)
    was_child = np.zeros(len(headless), np.bool_)
    for row in new_heads:
        was_child[hh[row]] = role[row] == CHILD
        role[row] = HEAD
    for row in members[:n]:
        if role[row] == CHILD and was_child[hh[row]]:
            role[row] = OTHER
    return new_heads


@njit(cache=True)
def _move_members(size: np.ndarray, joined: np.ndarray, left: np.ndarray) -> None:
    """One member more in ``size`` for each household row in ``joined``, one less for each in ``left``."""
    for h in joined:
        size[h] += 1
    for h in left:
        size[h] -= 1


@njit(cache=True)
def tally(cell: np.ndarray, n_cells: int, weight: np.ndarray | None = None) -> np.ndarray:
    """How many of the codes ``cell`` (0 to n_cells - 1) fall in each cell, or with ``weight``
    (one integer or bool per code) the sum of their weights: shape (n_cells,)."""
    # four partial tallies, by position modulo 4: neighbours (members of a household, households
    # of an area) mostly share their cell, and a single tally would wait at each for the one before
    counts = np.zeros((4, n_cells), np.int64)
    code = unsigned(cell)  # never negative: no check for negative indices
    if weight is None:
        for i in range(len(code)):
            counts[i & 3, code[i]] += 1
    else:
        for i in range(len(code)):
            counts[i & 3, code[i]] += weight[i]
    return counts[0] + counts[1] + counts[2] + counts[3]


# problems found by ``_check_columns`` and ``_check_carried``, as bits, and their messages
_PROBLEMS = (
    "person ids not unique and increasing",
    "household ids not unique and increasing",
    "person points to no household",
    "negative age",
    "household outside the area set",
    "empty household",
    "household without exactly one head",
    "household with more than one partner",
    "carried head rows differ from the heads",
    "carried household sizes differ from the members",
    "carried households per area differ from the households",
)
_UNCOUNTABLE = 0b10100  # persons outside the households or households outside the areas


@njit(cache=True)
def _check_columns(pid, age, hh, role, hid, area, n_areas):
    """The invariants of the columns, as bits of ``_PROBLEMS``, with the members and households per
    area (counted only when every person points to a household and every household to an area).
    Branchless passes; members, heads and partners are counted in one int64 per household (bits
    0-19, 20-39, 40-59)."""
    n = len(hid)
    problems = 0
    for i in range(1, len(pid)):
        problems |= pid[i] <= pid[i - 1]
    for h in range(1, n):
        problems |= (hid[h] <= hid[h - 1]) << 1
    bad_role = False
    for i in range(len(hh)):
        problems |= ((hh[i] < 0) | (hh[i] >= n)) << 2 | (age[i] < 0) << 3
        bad_role |= (role[i] < 0) | (role[i] >= 4)
    for h in range(n):
        problems |= ((area[h] < 0) | (area[h] >= n_areas)) << 4
    members = np.zeros(n, np.int64)
    if problems & _UNCOUNTABLE:
        return problems, members, np.zeros(n_areas, np.int64)
    if bad_role:
        raise IndexError("role or household row out of range")
    step = np.ones(4, np.int64)  # by role
    step[HEAD] += 1 << 20
    step[PARTNER] += 1 << 40
    rows, roles = unsigned(hh), unsigned(role)
    for i in range(len(hh)):
        members[rows[i]] += step[roles[i]]
    low = (1 << 20) - 1
    for h in range(n):
        counts = members[h]
        members[h] = counts & low
        problems |= (members[h] == 0) << 5 | ((counts >> 20 & low) != 1) << 6 | ((counts >> 40) > 1) << 7
    return problems, members, tally(area, n_areas)


@njit(cache=True)
def _check_carried(hh, role, head_row, size, members, per_area, carried_per_area):
    """The carried lookups against the counts from the columns, as bits of ``_PROBLEMS``."""
    problems = 0
    heads = unsigned(head_row)  # a negative row becomes one past the persons
    for h in range(len(head_row)):
        head = heads[h]
        if head >= len(hh) or hh[head] != h or role[head] != HEAD:
            problems |= 256
        if size[h] != members[h]:
            problems |= 512
    for a in range(len(per_area)):
        if carried_per_area[a] != per_area[a]:
            problems |= 1024
    return problems


@cache
def _names(kind: type) -> tuple[str, ...]:
    """The column names of a Columns dataclass (asked for at every change: dataclasses.fields
    builds them anew each time)."""
    return tuple(f.name for f in fields(kind))


class Columns:
    """A set of equally long numpy columns; subclasses are dataclasses of arrays.

    A 1-d column made by ``take``, ``extend`` or ``keep`` is the first rows of a longer buffer, so
    that the next ``extend`` writes into the room left at its end instead of copying the whole
    column. A column is only grown in place while it is still the very view those methods set (a
    column assigned from outside is copied into a new buffer at its first extension or removal),
    so no other array ever sees the rows written into the room. ``keep`` removes rows in place:
    an array taken from a 1-d column before a removal holds other rows after it.
    """

    def __len__(self) -> int:
        return len(getattr(self, _names(type(self))[0]))

    def take(self, index: np.ndarray, skip: tuple[str, ...] = ()) -> "Columns":
        """The rows at ``index`` (positions in range, or a boolean mask); the columns named in
        ``skip`` are kept as they are."""
        if index.dtype == bool:
            index = np.flatnonzero(index)
        out = type(self)(**{name: getattr(self, name) for name in _names(type(self))})
        for name, column in out._columns(skip):
            if column.ndim == 1:
                np.take(column, index, out=out._grown(name, column[:0], len(index)), mode="raise")
            else:
                setattr(out, name, take_rows(column, index))
        return out

    def keep(self, removal: Removal, skip: tuple[str, ...] = (), along: tuple[np.ndarray, ...] = ()) -> None:
        """Keep the rows that ``removal`` keeps, in order; the columns named in ``skip`` are kept
        as they are. A 1-d column keeps its buffer (the kept rows move to its front, one compiled
        pass per item size over all columns of that size); a 2-d column is taken. The kept rows of
        the arrays ``along`` (one value per row, writeable) move to their front with them."""
        by_size: dict[int, list[np.ndarray]] = {}
        for column in along:
            by_size.setdefault(column.dtype.itemsize, []).append(column.view(f"u{column.dtype.itemsize}"))
        for name, column in self._columns(skip):
            if column.ndim == 1:
                own = self._grown(name, column, len(column))  # its own buffer, if it had none
                by_size.setdefault(column.dtype.itemsize, []).append(own.view(f"u{column.dtype.itemsize}"))
            else:
                setattr(self, name, take_rows(column, removal.keep))
        removal.apply([tuple(group) for group in by_size.values()])
        for name, column in self._columns(skip):
            if column.ndim == 1:
                self._grown(name, column, removal.kept)

    def extend(self, other: "Columns", skip: tuple[str, ...] = ()) -> None:
        """Append the rows of ``other``; the columns named in ``skip`` are left as they are."""
        n = len(self)
        for name, column in self._columns(skip):
            if column.ndim == 1:
                self._grown(name, column, n + len(other))[n:] = getattr(other, name)
            else:
                setattr(self, name, np.concatenate([column, getattr(other, name)]))

    def _columns(self, skip: tuple[str, ...]):
        return [(name, getattr(self, name)) for name in _names(type(self)) if name not in skip]

    def _grown(self, name: str, column: np.ndarray, length: int) -> np.ndarray:
        """Make column ``name`` ``length`` rows long, starting with the rows of ``column``; returns
        it (the rows after those of ``column`` are to be written by the caller)."""
        views = self.__dict__.setdefault("_views", {})
        buffer = column.base
        if not (column is views.get(name) and isinstance(buffer, np.ndarray) and len(buffer) >= length):
            buffer = np.empty(length + length // ROOM, column.dtype)
            buffer[: len(column)] = column
        grown = buffer[:length]
        views[name] = grown
        setattr(self, name, grown)
        return grown


@dataclass
class Persons(Columns):
    pid: np.ndarray  # int64, unique
    age: np.ndarray  # int16, completed years on 31 Dec
    sex: np.ndarray  # int8, FEMALE/MALE
    origin: np.ndarray  # int8, NONE/GERMAN_MB/FOREIGN
    hh: np.ndarray  # int32, row of the household
    role: np.ndarray  # int8, HEAD/PARTNER/CHILD/OTHER
    arrival: np.ndarray  # int16, year of arrival in the city (birth year for those born here)
    draw: np.ndarray  # uint32, fixed random number behind the person's service demand
    use: np.ndarray  # int8 (n, services), area whose offering the person used this year, -1 none
    wait: np.ndarray  # int8 (n, services), years on the waiting list (at most 127)


# Service use (``use``, ``wait``) changes once a year, at its end, and is the widest part of a
# person's row; during the year it does not follow the removals and additions of persons, which
# then copy only the other columns, and ``Population.align_service_use`` brings it in line once.
SERVICE_USE = ("use", "wait")


@dataclass
class Households(Columns):
    hid: np.ndarray  # int64, unique and increasing
    area: np.ndarray  # int16, index into the area list
    income: np.ndarray  # int8, LOW/NOT_LOW
    years: np.ndarray  # int16, years at address


def empty_persons(n: int = 0, n_services: int = 0) -> Persons:
    return Persons(
        pid=np.zeros(n, np.int64),
        age=np.zeros(n, np.int16),
        sex=np.zeros(n, np.int8),
        origin=np.zeros(n, np.int8),
        hh=np.zeros(n, np.int32),
        role=np.zeros(n, np.int8),
        arrival=np.zeros(n, np.int16),
        draw=np.zeros(n, np.uint32),
        use=np.full((n, n_services), -1, np.int8),
        wait=np.zeros((n, n_services), np.int8),
    )


def empty_households(n: int = 0) -> Households:
    return Households(
        hid=np.zeros(n, np.int64),
        area=np.zeros(n, np.int16),
        income=np.full(n, NOT_LOW, np.int8),
        years=np.zeros(n, np.int16),
    )


# household type of a household of two or more by (has a partner, has a minor child), index
# partner + 2 x minor: other, couple, single parent, couple with children
_TYPE_OF_FAMILY = np.array([4, 1, 3, 2], np.int8)


@njit(cache=True)
def _household_types(hh, role, age, size):
    """Index into HOUSEHOLD_TYPES of every household (the rule of ``Population.household_type``):
    single where it has one member, else by whether a member is a partner and whether one is a
    child under 18 (``_TYPE_OF_FAMILY``)."""
    # each person's part of the index (partner 1, minor child 2), then or-ed per household: two
    # simple loops run faster than one that does both
    part = np.empty(len(hh), np.uint8)
    for i in range(len(hh)):
        part[i] = (np.int8(role[i] == PARTNER) | np.int8(role[i] == CHILD) << 1) & (np.int8(age[i] < 18) << 1 | 1)
    family = np.zeros(len(size), np.uint8)  # unsigned, as the rows (see unsigned)
    rows = unsigned(hh)  # never negative (see _renumber)
    for i in range(len(hh)):
        family[rows[i]] |= part[i]
    kind = np.empty(len(size), np.int8)
    for h in range(len(size)):
        kind[h] = _TYPE_OF_FAMILY[family[h]] * (size[h] != 1)  # single (0) without a branch
    return kind


# what a derived lookup is computed from, and what a change changes
PERSONS = "persons"  # the person rows with their household (hh) and role
HOUSEHOLDS = "households"  # the household rows
AREAS = "areas"  # the households' areas
AGES = "ages"  # the persons' ages (a minor child makes a family's type)
_INPUTS: dict[str, frozenset] = {}  # derived lookup -> the inputs it is computed from
# lookups that every change method brings up to date itself (from what changed, without a pass
# over everyone) or drops: the ones the yearly events need after almost every change
CARRIED = frozenset({"size", "head_row", "households_per_area"})


def derived(*inputs: str):
    """Cache a lookup computed from ``inputs`` until a change method changes one of them; the
    cached array is read-only, so a caller that wants to change it must copy it."""

    def decorate(lookup):
        _INPUTS[lookup.__name__] = frozenset(inputs)

        @wraps(lookup)
        def cached(self):
            value = self._derived.get(lookup.__name__)
            self._unread.discard(lookup.__name__)  # handed out: no longer to be changed in place
            if value is None:
                value = lookup(self)
                value.flags.writeable = False
                self._derived[lookup.__name__] = value
            return value

        return cached

    return decorate


def changes(*inputs: str):
    """Mark a method that changes ``inputs``: the lookups derived from them are dropped before and
    after it, except the CARRIED ones, which the method updates (``_carry``) or drops itself. A
    method that only combines change methods needs no mark and may read lookups of the state
    before it changes anything."""

    def decorate(method):
        @wraps(method)
        def changing(self, *args, **kwargs):
            self._forget(inputs)
            try:
                return method(self, *args, **kwargs)
            finally:
                self._forget(inputs)

        return changing

    return decorate


@dataclass
class Population:
    """Persons and households. Membership (``persons.hh``, ``persons.role``, ``households.area``)
    changes only through the methods below, which keep the derived lookups up to date."""

    persons: Persons
    households: Households
    n_areas: int
    next_pid: int = 0
    next_hid: int = 0
    _derived: dict = field(default_factory=dict, repr=False, compare=False)
    # while service use lags behind the persons: the row in ``use``/``wait`` of each of the first
    # persons (those there at the last alignment, in order); the persons after them are new
    _use_rows: np.ndarray | None = field(default=None, repr=False, compare=False)
    # the carried lookups whose cached array was made by a carry and not handed out since: a
    # carry may change them in place instead of copying them
    _unread: set = field(default_factory=set, repr=False, compare=False)
    # the buffer of each carried lookup of one value per household that was made with room at its
    # end (``_new_room``), so that households added later need no copy of the lookup
    _room: dict = field(default_factory=dict, repr=False, compare=False)

    def _forget(self, inputs) -> None:
        for name in [name for name in self._derived if name not in CARRIED and not _INPUTS[name].isdisjoint(inputs)]:
            del self._derived[name]

    def _carry(self, name: str, update, in_place: bool = False) -> None:
        """Replace the cached lookup ``name``, if there is one, by ``update(value)`` (a new array).
        With ``in_place``, ``update`` changes the writeable array it is given and returns it: the
        cached array itself if no caller has seen it, else a copy."""
        if name in self._derived:
            self._store(name, update(self._writeable(name) if in_place else self._derived[name]))

    def _writeable(self, name: str, copy: bool = True) -> np.ndarray:
        """The cached lookup ``name``, to be changed in place and stored again (``_store``): the
        cached array itself if no caller has seen it, else a copy (without ``copy``, a new array
        of its length, for a change that writes every value)."""
        value = self._derived[name]
        value = value if name in self._unread else self._new_room(name, value if copy else value[:0], len(value))
        value.flags.writeable = True
        return value

    def _store(self, name: str, value: np.ndarray) -> None:
        """Cache ``value`` as the lookup ``name`` made by a carry (not handed out yet)."""
        value.flags.writeable = False
        self._derived[name] = value
        self._unread.add(name)

    def _new_room(self, name: str, value: np.ndarray, length: int) -> np.ndarray:
        """A new writeable array of ``length`` values for the lookup ``name``, starting with those
        of ``value``, at the start of a new buffer with room for more."""
        room = np.empty(length + length // ROOM, value.dtype)
        room[: len(value)] = value
        self._room[name] = room
        return room[:length]

    def _carry_more(self, name: str, n: int, fill) -> None:
        """Carry the lookup ``name`` (one value per household) for ``n`` households more, each
        with the value ``fill``. They are written into the room at the end of its buffer when
        there is some: the arrays handed out end at or before the lookup's end, so none of them
        sees the room, and the grown lookup counts as handed out if it did. Else the lookup moves
        to a new buffer."""
        value = self._derived.get(name)
        if value is None:
            return
        room, length = self._room.get(name), len(value) + n
        if room is not None and value.base is room and value.ctypes.data == room.ctypes.data and len(room) >= length:
            grown = room[:length]
        else:
            grown = self._new_room(name, value, length)
            self._unread.add(name)
        grown[len(value) :] = fill
        grown.flags.writeable = False
        self._derived[name] = grown

    def _carry_size(self, joined: np.ndarray, left: np.ndarray | None = None) -> None:
        """Carry size: one member more in each household row of ``joined``, one less in each of ``left``."""

        def size(s):
            _move_members(s, joined, np.zeros(0, np.int64) if left is None else left)
            return s

        self._carry("size", size, in_place=True)

    def _carry_heads(self, rows: np.ndarray, hh: np.ndarray, role) -> None:
        """Carry head_row: the persons ``rows`` take ``role`` in the households ``hh``."""
        heads = np.broadcast_to(np.asarray(role) == HEAD, len(rows))

        def head(h):
            h[hh[heads]] = rows[heads]
            return h

        self._carry("head_row", head, in_place=True)

    # ---- lookups -------------------------------------------------------------------------
    def row_of(self, hid) -> np.ndarray | int:
        return np.searchsorted(self.households.hid, hid)

    # size and head_row are int32 (rows and counts stay far below 2**31): every change that
    # carries them copies or moves them, and half the bytes make that quicker
    @derived(PERSONS, HOUSEHOLDS)
    def size(self) -> np.ndarray:
        return np.bincount(self.persons.hh, minlength=len(self.households)).astype(np.int32)

    @derived(PERSONS, HOUSEHOLDS, AGES)
    def household_type(self) -> np.ndarray:
        """Index into HOUSEHOLD_TYPES for every household, by the city's household statistics'
        rule: one person: single; a partner and a child under 18: couple with children; a partner
        without minor children: couple; a minor child without a partner: single parent; otherwise
        other. Further members (a lodger, a grandparent, adult children) do not change a family's
        type."""
        p = self.persons
        return _household_types(p.hh, p.role, p.age, self.size())

    @derived(PERSONS, HOUSEHOLDS, AREAS)
    def person_area(self) -> np.ndarray:
        return np.take(self.households.area, self.persons.hh)

    def area_of(self, persons: np.ndarray) -> np.ndarray:
        """``person_area()[persons]`` for a few persons (without the lookup for everyone)."""
        return self.households.area[self.persons.hh[persons]]

    @derived(PERSONS, HOUSEHOLDS)
    def head_row(self) -> np.ndarray:
        """Person row of each household's head (households always have exactly one)."""
        heads = np.flatnonzero(self.persons.role == HEAD)
        out = np.empty(len(self.households), np.int32)
        out[self.persons.hh[heads]] = heads
        return out

    @derived(HOUSEHOLDS, AREAS)
    def households_per_area(self) -> np.ndarray:
        return np.bincount(self.households.area, minlength=self.n_areas)

    @derived(PERSONS, HOUSEHOLDS, AREAS)
    def persons_per_area(self) -> np.ndarray:
        """The members of the households of each area (from the household sizes, without a pass
        over the persons)."""
        return tally(self.households.area, self.n_areas, self.size())

    # ---- changes -------------------------------------------------------------------------
    def new_pids(self, n: int) -> np.ndarray:
        out = np.arange(self.next_pid, self.next_pid + n, dtype=np.int64)
        self.next_pid += n
        return out

    def new_hids(self, n: int) -> np.ndarray:
        out = np.arange(self.next_hid, self.next_hid + n, dtype=np.int64)
        self.next_hid += n
        return out

    @changes(HOUSEHOLDS)
    def add_households(self, area, income, years, head_row, size=0) -> np.ndarray:
        """Append households headed by the persons of rows ``head_row`` (the caller moves or adds
        them next), with ``size`` members each once it has; returns their rows."""
        n = len(area)
        new = empty_households(n)
        new.hid[:] = self.new_hids(n)
        new.area[:] = area
        new.income[:] = income
        new.years[:] = years
        self._carry_more("size", n, size)
        self._carry_more("head_row", n, head_row)
        self._carry("households_per_area", lambda c: c + np.bincount(new.area, minlength=self.n_areas))
        start = len(self.households)
        self.households.extend(new)
        return np.arange(start, start + n)

    @changes(PERSONS)
    def add_persons(self, age, sex, origin, hh, role, arrival, draw) -> None:
        """Append persons (no service use yet)."""
        start = len(self.persons)
        new = self._append_persons(age, sex, origin, hh, role, arrival, draw)
        self._carry_size(new.hh)
        self._carry_heads(np.arange(start, len(self.persons)), new.hh, new.role)

    def _append_persons(self, age, sex, origin, hh, role, arrival, draw) -> Persons:
        """Append persons (no service use yet), without carrying the sizes and heads of their
        households; returns them."""
        new = empty_persons(len(age))  # no columns of service use: it lags behind the persons
        new.pid[:] = self.new_pids(len(age))
        new.age[:], new.sex[:], new.origin[:], new.hh[:], new.role[:] = age, sex, origin, hh, role
        new.arrival[:], new.draw[:] = arrival, draw
        self._lag_service_use()
        self.persons.extend(new, skip=SERVICE_USE)
        return new

    @changes(PERSONS, HOUSEHOLDS)
    def found_households(self, persons: np.ndarray) -> None:
        """Persons leave their household and each founds a one-person household in its area
        (same income class, years at address 0)."""
        if len(persons) == 0:
            return
        p = self.persons
        old = p.hh[persons]
        rows = self.add_households(
            self.households.area[old], self.households.income[old], np.zeros(len(persons), np.int16), head_row=persons
        )
        self._carry_size(rows, old)
        p.hh[persons] = rows
        p.role[persons] = HEAD

    @changes(PERSONS, HOUSEHOLDS)
    def join_couples(self, movers: np.ndarray, stayers: np.ndarray) -> None:
        """Each mover (living alone) joins the stayer's household as partner; the mover's old
        household dissolves."""
        p = self.persons
        old = p.hh[movers]
        self._carry_size(p.hh[stayers], old)  # heads do not change (the movers' households dissolve)
        p.hh[movers] = p.hh[stayers]
        p.role[movers] = PARTNER
        keep = np.ones(len(self.households), bool)
        keep[old] = False
        self._remove_empty(keep)

    @changes(PERSONS, HOUSEHOLDS)
    def separate_couples(self, leavers: np.ndarray, stayers: np.ndarray) -> None:
        """The stayer heads the household; the leaver founds a one-person household."""
        self._carry_heads(stayers, self.persons.hh[stayers], HEAD)
        self.persons.role[stayers] = HEAD
        self.found_households(leavers)

    @changes(AGES)
    def age_one_year(self) -> None:
        """Everyone is one year older; every household one more year at its address."""
        self.persons.age += 1
        self.households.years += 1

    @changes(AREAS)
    def move_households(self, rows: np.ndarray, dest: np.ndarray) -> np.ndarray:
        """Households move to ``dest`` (years at address restart); returns their origin areas."""
        origin = self.households.area[rows].copy()
        self._carry(
            "households_per_area", lambda c: c - np.bincount(origin, minlength=self.n_areas) + np.bincount(dest, minlength=self.n_areas)
        )
        self.households.area[rows] = dest
        self.households.years[rows] = 0
        return origin

    @changes(PERSONS, HOUSEHOLDS)
    def copy_households(self, templates: np.ndarray, dest: np.ndarray, year: int, draw: np.ndarray) -> np.ndarray:
        """New households in ``dest`` whose members copy the ages, sexes, origins and roles of the
        ``templates``' members, arriving in ``year`` with the fixed random numbers ``draw``; returns
        the new household rows."""
        h, p = self.households, self.persons
        counts = self.size()[templates]
        member = _members(p.hh, len(h), templates, counts)
        role = p.role[member]
        heads = len(p) + np.flatnonzero(role == HEAD)  # the new members' rows: one head per household, in order
        rows = self.add_households(dest, h.income[templates], np.zeros(len(templates), np.int16), size=counts, head_row=heads)
        n = len(member)
        self._append_persons(
            p.age[member], p.sex[member], p.origin[member], np.repeat(rows, counts), role, np.full(n, year, np.int16), draw
        )
        return rows

    @changes(PERSONS, HOUSEHOLDS)
    def remove_persons(self, mask: np.ndarray) -> None:
        """Remove persons; households left without members are removed; headless ones get a new head."""
        p = self.persons
        gone = mask_rows(mask, True)
        left, head_gone = _members_left(gone, p.hh, p.role, self.size())
        new_heads = _new_heads(p.hh, p.role, p.age, head_gone, mask)  # chosen among those who stay
        self._carry("size", lambda _: left)
        headed = p.hh[new_heads]
        households = Removal.of(left > 0)
        _renumber(p.hh, households.new_rows())  # the members of the households that go all go
        self._remove(Removal.going(gone, ~mask), households, (headed, new_heads))

    def _remove(self, persons: Removal, households: Removal, new_heads: tuple | None = None) -> None:
        """Keep the persons and households that the removals keep, in order, once the persons'
        ``hh`` point to their households' rows after it (the members of the households that go
        all go). ``new_heads``: households and the persons who head them from now on (rows
        before the removal). Service use follows at the next alignment. For change methods:
        carries size (as the caller leaves it for the households before the removal), head_row
        (the head of every household that stays stays too, unless the household is given a new
        one) and households_per_area."""
        if "head_row" in self._derived:
            person_row = persons.new_rows()
            head_row = _follow_heads(self._derived["head_row"], person_row, self._writeable("head_row", copy=False))
            if new_heads is not None:
                headed, heads = new_heads
                head_row[headed] = person_row[heads]
            self._store("head_row", head_row)
        rows = self._lag_service_use()  # the persons there at the last alignment come first
        lagging = persons.first(len(rows))
        lagging.apply([(rows,)])
        self._use_rows = rows[: lagging.kept]
        self.persons.keep(persons, skip=SERVICE_USE)
        self._keep_households(households)

    def _remove_empty(self, keep_households: np.ndarray) -> None:
        """Keep the households of the mask ``keep_households``: the others have no members (left).
        The persons keep their rows, so only their ``hh`` changes. For change methods: carries
        size, head_row and households_per_area."""
        households = Removal.of(keep_households)
        _renumber(self.persons.hh, households.new_rows())
        self._keep_households(households)

    def _keep_households(self, removal: Removal) -> None:
        """Keep the household rows that ``removal`` keeps, carrying size, head_row (already pointing
        to the persons' rows after the change) and households_per_area."""
        h, gone = self.households, removal.gone
        per_area = tally(h.area, self.n_areas, ~removal.keep) if gone is None else np.bincount(h.area[gone], minlength=self.n_areas)
        self._carry("households_per_area", lambda c: c - per_area)
        carried = {name: self._writeable(name) for name in ("size", "head_row") if name in self._derived}
        h.keep(removal, along=tuple(carried.values()))  # the lookups move with the household columns
        for name, value in carried.items():
            self._store(name, value[: len(h)])

    def _lag_service_use(self) -> np.ndarray:
        if self._use_rows is None:
            self._use_rows = np.arange(len(self.persons), dtype=np.int32)
        return self._use_rows

    def align_service_use(self, renew) -> None:
        """Bring service use (``persons.use``, ``persons.wait``) in line with the persons after
        the year's removals and additions: the columns are replaced by ``renew(use, wait, rows)``
        -> (use, wait), new columns of one row per person made from the columns as they are and
        the row in them of each person (-1 for the persons added since, who used nothing). The
        caller is the year's services, which replace service use anyway and so read only the rows
        they need instead of an aligned copy of all."""
        p = self.persons
        rows = self._lag_service_use()
        rows = np.concatenate([rows, np.full(len(p) - len(rows), -1, rows.dtype)])
        p.use, p.wait = renew(p.use, p.wait, rows)
        self._use_rows = None

    @changes(PERSONS, HOUSEHOLDS, AREAS)
    def remove_households(self, mask: np.ndarray) -> None:
        """Remove households with all their members."""
        if mask.any():
            households, keep = Removal.of(~mask), np.ones(len(self.persons), bool)
            _follow_households(self.persons.hh, households.new_rows(), keep)
            self._remove(Removal.of(keep), households)

    @changes(PERSONS)
    def order_persons_by_household(self) -> None:
        """Put the members of each household next to each other (stable) and renumber person ids
        along the rows (used once, when the base population is built)."""
        order = np.argsort(self.persons.hh, kind="stable")
        new_row = np.empty(len(order), np.int32)
        new_row[order] = np.arange(len(order))
        self._carry("head_row", lambda h: new_row[h])  # heads keep their households, not their rows
        self.persons = self.persons.take(order)
        self.persons.pid = np.arange(len(order), dtype=np.int64)

    @changes(PERSONS)
    def _repair_heads(self) -> None:
        """Give every household without a head a new head: the partner, else the oldest member.

        Remaining children of a new head who was a child become 'other' (siblings, not children).
        """
        p = self.persons
        headless = np.bincount(p.hh[p.role == HEAD], minlength=len(self.households)) == 0
        if not headless.any():
            return
        new_heads = _new_heads(p.hh, p.role, p.age, headless, np.zeros(len(p), bool))
        self._carry_heads(new_heads, p.hh[new_heads], HEAD)

    # ---- invariants ----------------------------------------------------------------------
    def check(self) -> None:
        """Raise AccountingError if the state is inconsistent (the carried lookups included, when
        the columns are consistent)."""
        p, h = self.persons, self.households
        problems = []
        if self._use_rows is None and len(p.use) != len(p):
            problems.append("service use rows differ from persons")
        # rows are int32 by design: every copy, move and compiled pass handles half the bytes of int64
        rows = {"hh": p.hh, "size": self._derived.get("size"), "head_row": self._derived.get("head_row")}
        wide = [name for name, r in rows.items() if r is not None and r.dtype != np.int32]
        if wide:
            problems.append(f"rows not int32: {', '.join(wide)}")
        found, members, per_area = _check_columns(p.pid, p.age, p.hh, p.role, h.hid, h.area, self.n_areas)
        if not found and not problems:
            head, size, carried_per_area = self.head_row(), self.size(), self.households_per_area()
            lengths = (len(head) != len(h)) << 8 | (len(size) != len(h)) << 9 | (len(carried_per_area) != self.n_areas) << 10
            found |= lengths or _check_carried(p.hh, p.role, head, size, members, per_area, carried_per_area)
        problems += [message for bit, message in enumerate(_PROBLEMS) if found >> bit & 1]
        if problems:
            raise AccountingError("; ".join(problems))

    def check_more(self, year: int, area_names: list[str]) -> None:
        """The costlier checks (``--check-more``), after ``check``: every code and range of the
        person and household columns, arrival years (from birth to ``year``), service use, ids
        below the next ones, and every cached lookup against a fresh computation. Raises
        AccountingError naming the year, the area and the numbers of the first violation."""
        p, h = self.persons, self.households
        person_area = np.take(h.area, p.hh)
        aligned = self._use_rows is None and len(p.use) == len(p)
        persons = {
            "age below zero": p.age < 0,
            "sex code outside 0..1": (p.sex < 0) | (p.sex >= len(SEXES)),
            "migration background code outside 0..2": (p.origin < 0) | (p.origin >= len(ORIGINS)),
            "arrival after the year": p.arrival > year,
            "arrival before birth": p.arrival.astype(np.int64) < year - p.age.astype(np.int64),
            "id not below the next person id": p.pid >= self.next_pid,
            "service use outside the areas": ((p.use < -1) | (p.use >= self.n_areas)).any(axis=1) if aligned else False,
            "waiting years below zero": (p.wait < 0).any(axis=1) if aligned else False,
        }
        households = {
            "income class code outside 0..1": (h.income != LOW) & (h.income != NOT_LOW),
            "years at address below zero": h.years < 0,
            "id not below the next household id": h.hid >= self.next_hid,
        }
        for rows_are, checks, area, first in (
            (
                "persons",
                persons,
                person_area,
                lambda r: f"person {p.pid[r]} (age {p.age[r]}, arrival {p.arrival[r]}, sex {p.sex[r]}, origin {p.origin[r]})",
            ),
            ("households", households, h.area, lambda r: f"household {h.hid[r]} (income {h.income[r]}, {h.years[r]} years at address)"),
        ):
            for what, bad in checks.items():
                rows = np.flatnonzero(bad)
                if len(rows):
                    raise AccountingError(
                        f"{year}, {area_names[area[rows[0]]]}: {what}: {len(rows)} {rows_are}, the first {first(rows[0])}"
                    )
        for name, cached in list(self._derived.items()):
            fresh = getattr(type(self), name).__wrapped__(self)
            differs = np.flatnonzero(np.asarray(fresh) != np.asarray(cached)) if len(fresh) == len(cached) else [0]
            if len(differs):
                i = differs[0]
                area = i if name.endswith("_per_area") else person_area[i] if name == "person_area" else h.area[min(i, len(h) - 1)]
                raise AccountingError(
                    f"{year}, {area_names[area]}: the kept lookup {name} differs from the columns at row {i} "
                    f"({cached[i] if i < len(cached) else 'missing'} kept, {fresh[i] if i < len(fresh) else 'missing'} counted)"
                )
