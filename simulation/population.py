"""Household and person state as numpy columns: the single source of truth.

Persons point to their household by row (``hh``); households and persons are kept sorted by
their ids (``hid``, ``pid``), which only grow, so the row of an id is a binary search and
uniqueness is a check of order. Removing rows
keeps the order and remaps ``hh``. Household type is derived from members' roles, not stored.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from simulation.errors import AccountingError
from simulation.vocabulary import CHILD, HEAD, NOT_LOW, OTHER, PARTNER

MAX_AREAS = 127  # area indices of service use are stored as int8


def take_rows(column: np.ndarray, index) -> np.ndarray:
    """Rows of a column; a 2-d column (service use per person) is indexed as one block of bytes
    per row, which numpy copies about 15 times faster than row-by-row fancy indexing."""
    if column.ndim == 2 and column.flags.c_contiguous and column.shape[1]:
        row = np.dtype((np.void, column.dtype.itemsize * column.shape[1]))
        return column.view(row).ravel()[index].view(column.dtype).reshape(-1, column.shape[1])
    return column[index]


class Columns:
    """A set of equally long numpy columns; subclasses are dataclasses of arrays."""

    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))

    def take(self, index) -> "Columns":
        return type(self)(**{f.name: take_rows(getattr(self, f.name), index) for f in fields(self)})

    def extend(self, other: "Columns") -> None:
        for f in fields(self):
            setattr(self, f.name, np.concatenate([getattr(self, f.name), getattr(other, f.name)]))


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


@dataclass
class Households(Columns):
    hid: np.ndarray  # int64, unique and increasing
    area: np.ndarray  # int16, index into the area list
    income: np.ndarray  # int8, LOW/NOT_LOW
    years: np.ndarray  # int16, years at address


def empty_persons(n: int = 0, n_services: int = 0) -> Persons:
    return Persons(
        pid=np.zeros(n, np.int64), age=np.zeros(n, np.int16), sex=np.zeros(n, np.int8),
        origin=np.zeros(n, np.int8), hh=np.zeros(n, np.int32), role=np.zeros(n, np.int8),
        arrival=np.zeros(n, np.int16), draw=np.zeros(n, np.uint32),
        use=np.full((n, n_services), -1, np.int8), wait=np.zeros((n, n_services), np.int8),
    )


def empty_households(n: int = 0) -> Households:
    return Households(
        hid=np.zeros(n, np.int64), area=np.zeros(n, np.int16), income=np.full(n, NOT_LOW, np.int8),
        years=np.zeros(n, np.int16),
    )


def ragged_arange(counts: np.ndarray) -> np.ndarray:
    """[0..c0-1, 0..c1-1, ...] for counts c."""
    ends = np.cumsum(counts)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - counts, counts)


# household type by (has partner, has child, has other member); one-person households are 'single'
_TYPE_OF_ROLES = np.array([4, 4, 3, 4, 1, 4, 2, 4], np.int8)  # index = 4*partner + 2*child + other


def household_type_of(counts: np.ndarray) -> np.ndarray:
    """Index into HOUSEHOLD_TYPES from members per role, shape (households, 4)."""
    counts = np.atleast_2d(counts)
    present = counts[:, 1:] > 0
    kind = _TYPE_OF_ROLES[present[:, 0] * 4 + present[:, 1] * 2 + present[:, 2]]
    kind[counts.sum(axis=1) == 1] = 0
    return kind


@dataclass
class Population:
    persons: Persons
    households: Households
    n_areas: int
    next_pid: int = 0
    next_hid: int = 0

    # ---- lookups -------------------------------------------------------------------------
    def row_of(self, hid) -> np.ndarray | int:
        return np.searchsorted(self.households.hid, hid)

    def size(self) -> np.ndarray:
        return np.bincount(self.persons.hh, minlength=len(self.households))

    def role_counts(self) -> np.ndarray:
        """Members per household and role: array (n_households, 4)."""
        n = len(self.households)
        return np.bincount(self.persons.hh * 4 + self.persons.role, minlength=4 * n).reshape(n, 4)

    def household_type(self) -> np.ndarray:
        """Index into HOUSEHOLD_TYPES for every household, derived from members' roles."""
        return household_type_of(self.role_counts())

    def person_area(self) -> np.ndarray:
        return self.households.area[self.persons.hh]

    def head_row(self) -> np.ndarray:
        """Person row of each household's head (households always have exactly one)."""
        heads = np.flatnonzero(self.persons.role == HEAD)
        out = np.empty(len(self.households), np.int64)
        out[self.persons.hh[heads]] = heads
        return out

    def persons_per_area(self) -> np.ndarray:
        return np.bincount(self.person_area(), minlength=self.n_areas)

    # ---- changes -------------------------------------------------------------------------
    def new_pids(self, n: int) -> np.ndarray:
        out = np.arange(self.next_pid, self.next_pid + n, dtype=np.int64)
        self.next_pid += n
        return out

    def new_hids(self, n: int) -> np.ndarray:
        out = np.arange(self.next_hid, self.next_hid + n, dtype=np.int64)
        self.next_hid += n
        return out

    def add_households(self, area, income, years) -> np.ndarray:
        """Append households; returns their rows."""
        n = len(area)
        new = empty_households(n)
        new.hid[:] = self.new_hids(n)
        new.area[:] = area
        new.income[:] = income
        new.years[:] = years
        start = len(self.households)
        self.households.extend(new)
        return np.arange(start, start + n)

    def add_persons(self, age, sex, origin, hh, role, arrival, draw) -> None:
        """Append persons (no service use yet)."""
        new = empty_persons(len(age), self.persons.use.shape[1])
        new.pid[:] = self.new_pids(len(age))
        new.age[:], new.sex[:], new.origin[:], new.hh[:], new.role[:] = age, sex, origin, hh, role
        new.arrival[:], new.draw[:] = arrival, draw
        self.persons.extend(new)

    def found_households(self, persons: np.ndarray) -> None:
        """Persons leave their household and each founds a one-person household in its area
        (same income class, years at address 0)."""
        if len(persons) == 0:
            return
        p = self.persons
        old = p.hh[persons]
        rows = self.add_households(self.households.area[old], self.households.income[old], np.zeros(len(persons), np.int16))
        p.hh[persons] = rows
        p.role[persons] = HEAD

    def join_couples(self, movers: np.ndarray, stayers: np.ndarray) -> None:
        """Each mover (living alone) joins the stayer's household as partner; the mover's old
        household dissolves."""
        p = self.persons
        old = p.hh[movers]
        p.hh[movers] = p.hh[stayers]
        p.role[movers] = PARTNER
        emptied = np.zeros(len(self.households), bool)
        emptied[old] = True
        self.remove_households(emptied)

    def separate_couples(self, leavers: np.ndarray, stayers: np.ndarray) -> None:
        """The stayer heads the household; the leaver founds a one-person household."""
        self.persons.role[stayers] = HEAD
        self.found_households(leavers)

    def move_households(self, rows: np.ndarray, dest: np.ndarray) -> np.ndarray:
        """Households move to ``dest`` (years at address restart); returns their origin areas."""
        origin = self.households.area[rows].copy()
        self.households.area[rows] = dest
        self.households.years[rows] = 0
        return origin

    def copy_households(self, templates: np.ndarray, dest: np.ndarray, year: int, draw: np.ndarray) -> np.ndarray:
        """New households in ``dest`` whose members copy the ages, sexes, origins and roles of the
        ``templates``' members, arriving in ``year`` with the fixed random numbers ``draw``; returns
        the new household rows."""
        h, p = self.households, self.persons
        rows = self.add_households(dest, h.income[templates], np.zeros(len(templates), np.int16))
        # members of the drawn templates only, ordered by household (a small subset of all persons)
        drawn = np.zeros(len(h), bool)
        drawn[templates] = True
        members = np.flatnonzero(drawn[p.hh])
        members = members[np.argsort(p.hh[members], kind="stable")]
        starts = np.searchsorted(p.hh[members], templates)
        counts = np.bincount(p.hh[members], minlength=len(h))[templates]
        member = members[np.repeat(starts, counts) + ragged_arange(counts)]
        n = len(member)
        self.add_persons(p.age[member], p.sex[member], p.origin[member], np.repeat(rows, counts), p.role[member],
                         np.full(n, year, np.int16), draw)
        return rows

    def remove_persons(self, mask: np.ndarray) -> None:
        """Remove persons; households left without members are removed; headless ones get a new head."""
        self.persons = self.persons.take(~mask)
        self._repair_heads()
        self.remove_households(self.size() == 0)

    def remove_households(self, mask: np.ndarray) -> None:
        """Remove households with all their members."""
        if not mask.any():
            return
        keep_person = ~mask[self.persons.hh]
        if not keep_person.all():
            self.persons = self.persons.take(keep_person)
        new_row = (np.cumsum(~mask) - 1).astype(np.int32)
        self.persons.hh = new_row[self.persons.hh]
        self.households = self.households.take(~mask)

    def _repair_heads(self) -> None:
        """Give every household that lost its head a new one: the partner, else the oldest member.

        Remaining children of a new head who was a child become 'other' (siblings, not children).
        """
        p = self.persons
        has_head = np.bincount(p.hh[p.role == HEAD], minlength=len(self.households)) > 0
        orphaned = ~has_head[p.hh]
        if not orphaned.any():
            return
        rows = np.flatnonzero(orphaned)
        score = (p.role[rows] == PARTNER) * 1000 + p.age[rows].astype(np.int64)
        order = np.lexsort((-score, p.hh[rows]))
        first = np.ones(len(order), bool)
        first[1:] = p.hh[rows[order]][1:] != p.hh[rows[order]][:-1]
        new_heads = rows[order[first]]
        was_child = np.zeros(len(self.households), bool)
        was_child[p.hh[new_heads]] = p.role[new_heads] == CHILD
        p.role[new_heads] = HEAD
        siblings = orphaned & (p.role == CHILD) & was_child[p.hh]
        p.role[siblings] = OTHER

    # ---- invariants ----------------------------------------------------------------------
    def check(self) -> None:
        """Raise AccountingError if the state is inconsistent."""
        p, h = self.persons, self.households
        problems = []
        if len(p) and np.any(np.diff(p.pid) <= 0):
            problems.append("person ids not unique and increasing")
        if len(h) and np.any(np.diff(h.hid) <= 0):
            problems.append("household ids not unique and increasing")
        if len(p) and (p.hh.min() < 0 or p.hh.max() >= len(h)):
            problems.append("person points to no household")
        if len(p) and (p.age.min() < 0):
            problems.append("negative age")
        if len(h) and (h.area.min() < 0 or h.area.max() >= self.n_areas):
            problems.append("household outside the area set")
        counts = self.role_counts()
        if np.any(counts.sum(axis=1) == 0):
            problems.append("empty household")
        if np.any(counts[:, HEAD] != 1):
            problems.append("household without exactly one head")
        if np.any(counts[:, PARTNER] > 1):
            problems.append("household with more than one partner")
        if problems:
            raise AccountingError("; ".join(problems))
