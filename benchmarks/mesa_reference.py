"""Plain Mesa reference of CityModel's yearly events, for benchmarking only.

Classic Mesa style: one ``Household`` agent per household, holding its members as a list of
``Person`` objects, and a ``ReferenceModel`` that walks the households one by one. It starts
from the SAME base population (a built ``CityModel``'s numpy columns, converted to objects by
``ReferenceModel.from_city``) and uses the SAME rate tables and parameters, taken from that
CityModel: ``rates_for(year)`` (death probabilities, ASFR, share of boys), ``emigration_base``,
``mobility_index``, ``newcomer_weights``, ``migration_background_weights``, ``newborn_foreign_share``,
``single_parent_mother_share``, ``area_share_of_city``, ``dwellings`` and the scenario's
household, migration, mobility and housing settings. Every random draw uses ``model.rng``.
The events and rules are those of ``simulation/processes``; the result is statistically
comparable with CityModel, not bit-identical (draws happen in a different order).

Rules, per year (``p`` = person, ``h`` = household, group = adult age group of the head):
- ageing: every p one year older, every h one more year at its address.
- deaths: p dies with min(1, death[sex, min(age, 100)] x mortality.factor); a household that
  loses its head gets the partner, else the oldest member, as head (a child who becomes head
  turns the remaining children into 'other'); an empty household dissolves.
- births: every woman aged 12..55 gives birth with ASFR[min(age, 100)] x fertility.factor; the
  baby is a boy with the year's share of boys; origin 'none' for a mother without migration
  background, else 'foreign' with the newborn foreign share, else 'german_mb'; role 'child'
  if the mother is head or partner, else 'other'; it dies in its first year with death[sex, 0]
  x mortality.factor (counted as birth and death).
- leave home: a 'child' aged >= leave_home_min_age leaves with leave_home_rate and founds a
  one-person household in the same area, with the parents' income class.
- separation: a couple separates with separation_rate; with children the man leaves with the
  share of single parents who are mothers, otherwise either partner with equal chance; the
  leaver founds a one-person household in the same area, the stayer is head.
- leave home and separation need a free dwelling in the area; without one the person stays
  (the couple stays together) this year.
- out-migration: h leaves the city with min(1, emigration_base x mobility_index[group]).
- couple formation: a person living alone aged 18..couple_max_age seeks with
  couple_formation_rate; seekers of an area pair woman-man by rank of age; a coin flip says
  who moves in with whom (as 'partner').
- in-migration: persons_per_year x area_share_of_city persons arrive as copies (ages, sexes,
  origins, roles, income) of template households drawn with weight mobility_index[group] x
  migration_background_weights[origin of head], until the target is reached; each newcomer household goes
  to an area with free dwellings, chosen in proportion to newcomer_weights; none free:
  unhoused.
- moves: h moves with min(1, move_rate x mobility_index[group]) to another area, chosen in
  proportion to that area's free dwellings; none free: it stays.
- housing: new_dwellings_per_year x area_share_of_city new dwellings, split over the areas by
  stock (``base_population.split_integer``, as CityModel).

Simplifications against CityModel:
- Order: each household runs ageing, deaths, births, leave home, separation, out-migration in
  one go, households in a random order drawn from ``model.rng`` (``agents.shuffle_do`` would
  shuffle with Python's ``model.random``); then couple formation, in-migration, moves and
  housing for the city. CityModel runs each event for all households before the next one and
  forms couples between leave home and separation.
- Dwellings are taken one household at a time, in the order above: a leaver or separating
  partner gets the area's next free dwelling, and a dwelling left by a mover is free at once.
  CityModel picks a random subset per area of those who want a new household, and allocates
  movers and newcomers in capacity-limited rounds (a dwelling left by a mover is free from the
  next round on; up to 3 rounds for moves, 6 allocation rounds for newcomers).
- Rate tables are read as Python lists (``values.tolist()``), i.e. the same numbers, so
  a scalar look-up is not a numpy call.
- Records: city-wide event counts only, no per-area tables; ``check()`` is not part of step().
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from itertools import accumulate

import mesa
import numpy as np

from simulation import population
from simulation.base_population import split_integer
from simulation.errors import AccountingError
from simulation.model import CityModel
from simulation.rates import adult_group
from simulation.vocabulary import CHILD, FEMALE, FOREIGN, GERMAN_MB, HEAD, MALE, MAX_AGE, NONE, ORIGINS, OTHER, PARTNER

GROUP_OF_AGE = adult_group(np.arange(MAX_AGE + 1)).tolist()  # adult group by age, ages >= 100 as 100


def emigration_base(city: CityModel) -> float:
    """The references' simple out-migration rule: a household leaves with base x mobility index of
    its head's age group, base set so that the expected persons leaving from the base population
    equal out_migration.rate_per_1000 (the model itself uses age schedules; the references keep
    the simple rule, since they measure speed on comparable work, not the demography)."""
    pop = city.population
    size = pop.size()
    weight = np.asarray(city.inputs.mobility_index)[adult_group(pop.persons.age[pop.head_row()])]
    return city.config.out_migration.rate_per_1000 / 1000.0 * size.sum() / max(float((size * weight).sum()), 1e-12)


def in_migration_volume(city: CityModel, year: int) -> float:
    """Persons arriving in the references (whole city): the scenario's fixed volume, else as many as
    the simple rule lets leave from the base population (a stationary reference)."""
    fixed = city.config.in_migration_in(year).persons_per_year
    return fixed if fixed is not None else city.config.out_migration.rate_per_1000 / 1000.0 * city.inputs.city_base_persons


def group_of(age: int) -> int:
    """Adult age group of a head aged ``age`` (same cut points as ``rates.adult_group``)."""
    return GROUP_OF_AGE[min(age, MAX_AGE)]


@dataclass(slots=True, eq=False)  # eq=False: list.remove() must find this person, not an equal twin
class Person:
    age: int
    sex: int  # FEMALE / MALE
    origin: int  # NONE / GERMAN_MB / FOREIGN
    role: int  # HEAD / PARTNER / CHILD / OTHER


@dataclass(frozen=True)
class YearTables:
    """One year's rate tables from CityModel.rates_for, as nested lists for scalar look-ups."""

    death: list  # [sex][age] probability of death in the year (mortality factor applied)
    fertility: list  # [age] births per woman (fertility factor applied)
    male_share: float

    @classmethod
    def from_city(cls, city: CityModel, year: int) -> "YearTables":
        r, s = city.inputs.rates_for(year), city.config
        return cls(
            death=(r.death.values * s.mortality.factor).tolist(),
            fertility=(r.fertility.values * s.fertility.factor).tolist(),
            male_share=r.male_share,
        )


class Household(mesa.Agent):
    """A household: area, income class, years at address and its members, head first, as Person objects."""

    def __init__(self, model: "ReferenceModel", area: int, income: int, years: int, members: list[Person]):
        super().__init__(model)
        self.area, self.income, self.years, self.members = area, income, years, members
        self.dissolved = False
        model.occupied[area] += 1

    def head(self) -> Person:
        return self.members[0]

    def make_head(self, person: Person) -> None:
        """``person`` becomes head and moves to the front of the members."""
        person.role = HEAD
        self.members.remove(person)
        self.members.insert(0, person)

    # ---- the household's own events, in this order -------------------------------------------
    def step(self) -> None:
        """Ageing, deaths, births, leave home, separation, out-migration for this household."""
        self.age()
        self.deaths()
        if not self.members:
            self.model.dissolve(self)
            return
        self.births()
        self.leave_home()
        self.separation()
        self.out_migration()

    def age(self) -> None:
        self.years += 1
        for p in self.members:
            p.age += 1

    def deaths(self) -> None:
        """Each member dies with death[sex][min(age, 100)]; a lost head is replaced."""
        rng, death = self.model.rng, self.model.tables.death
        survivors = [p for p in self.members if rng.random() >= death[p.sex][min(p.age, MAX_AGE)]]
        self.model.counts["deaths"] += len(self.members) - len(survivors)
        self.members = survivors
        if survivors and survivors[0].role != HEAD:
            self.replace_head()

    def replace_head(self) -> None:
        """The partner, else the oldest member, becomes head; a child who does turns siblings into 'other'."""
        new = next((p for p in self.members if p.role == PARTNER), None) or max(self.members, key=lambda p: p.age)
        if new.role == CHILD:
            for p in self.members:
                if p.role == CHILD:
                    p.role = OTHER
        self.make_head(new)

    def births(self) -> None:
        """Each woman aged 12..55 bears a child with ASFR[age]; the newborn may die in its first year."""
        m = self.model
        rng, asfr, tables = m.rng, m.tables.fertility, m.tables
        mothers = [p for p in self.members if p.sex == FEMALE and 12 <= p.age <= 55 and rng.random() < asfr[min(p.age, MAX_AGE)]]
        for mother in mothers:
            m.counts["births"] += 1
            sex = MALE if rng.random() < tables.male_share else FEMALE
            origin = NONE
            if mother.origin != NONE:
                origin = FOREIGN if rng.random() < m.newborn_foreign_share else GERMAN_MB
            role = CHILD if mother.role in (HEAD, PARTNER) else OTHER
            if rng.random() < tables.death[sex][0]:
                m.counts["deaths"] += 1
            else:
                self.members.append(Person(0, sex, origin, role))

    def leave_home(self) -> None:
        """Each 'child' aged >= leave_home_min_age founds a one-person household with leave_home_rate, if a dwelling is free."""
        m = self.model
        s = m.config.households
        leavers = [p for p in self.members if p.role == CHILD and p.age >= s.leave_home_min_age and m.rng.random() < s.leave_home_rate]
        for p in leavers:
            if not m.has_free_dwelling(self.area):
                break
            self.split_off(p)
            m.counts["left_home"] += 1

    def separation(self) -> None:
        """A couple separates with separation_rate if a dwelling is free; who leaves depends on children and sex."""
        m = self.model
        partner = next((p for p in self.members if p.role == PARTNER), None)
        if partner is None or m.rng.random() >= m.config.households.separation_rate or not m.has_free_dwelling(self.area):
            return
        head = self.head()
        with_children = any(p.role == CHILD for p in self.members)
        man_leaves = m.rng.random() < (m.single_parent_mother_share if with_children else 0.5)
        head_leaves = man_leaves == (head.sex == MALE)
        leaver, stayer = (head, partner) if head_leaves else (partner, head)
        self.split_off(leaver)
        self.make_head(stayer)
        m.counts["separations"] += 1

    def split_off(self, person: Person) -> None:
        """``person`` leaves to head a new one-person household in the same area."""
        self.members.remove(person)
        person.role = HEAD
        Household(self.model, self.area, self.income, 0, [person])

    def out_migration(self) -> None:
        """The household leaves the city with emigration_base x mobility_index[group of head]."""
        m = self.model
        if m.rng.random() < m.emigration_base * m.mobility_index[group_of(self.head().age)]:
            m.counts["emigrants"] += len(self.members)
            m.dissolve(self)

    def consider_move(self) -> None:
        """Move with move_rate x mobility_index[group] to another area with a free dwelling."""
        m = self.model
        if m.rng.random() >= m.config.mobility.move_rate * m.mobility_index[group_of(self.head().age)]:
            return
        free = m.free_dwellings()
        dest = m.choose_area(free, free, exclude=self.area)
        if dest is None:
            return
        m.occupied[self.area] -= 1
        m.occupied[dest] += 1
        self.area, self.years = dest, 0
        m.counts["moves"] += len(self.members)


class ReferenceModel(mesa.Model):
    """The city's households as plain Mesa agents; one step = one year (see the module docstring)."""

    def __init__(self, city: CityModel, years: int, seed: int | None = None):
        """Parameters and the rate tables of the next ``years`` years from ``city``; no households yet."""
        super().__init__(rng=np.random.default_rng(np.random.SeedSequence(city.seed if seed is None else seed)))
        self.config = city.config
        self.year = city.year
        self.emigration_base = emigration_base(city)
        self.city = city
        self.mobility_index = city.inputs.mobility_index.tolist()
        self.newcomer_weights = city.inputs.newcomer_weights.tolist()
        self.migration_background_weights = [city.config.in_migration.migration_background_weights[o] for o in ORIGINS]
        self.newborn_foreign_share = float(city.inputs.newborn_foreign_share)
        self.single_parent_mother_share = float(city.inputs.household_facts.single_parent_mother_share)
        self.area_share_of_city = float(city.inputs.area_share_of_city)
        self.dwellings = city.dwellings.tolist()
        self.occupied = [0] * len(self.dwellings)
        self.year_tables = {y: YearTables.from_city(city, y) for y in range(self.year + 1, self.year + years + 1)}
        self.tables: YearTables | None = None
        self.counts: Counter = Counter()
        self.history: dict[int, dict[str, int]] = {}

    @classmethod
    def from_city(cls, city: CityModel, years: int, seed: int | None = None) -> "ReferenceModel":
        """A reference model for ``years`` years whose households and persons copy ``city.population``.

        It keeps no reference to ``city``, which can be deleted afterwards.
        """
        model = cls(city, years, seed)
        model.add_population(city.population)
        return model

    def add_population(self, pop: population.Population) -> None:
        """Convert the numpy columns into Person objects and Household agents."""
        p, h = pop.persons, pop.households
        members: list[list[Person]] = [[] for _ in range(len(h))]
        for age, sex, origin, role, row in zip(p.age.tolist(), p.sex.tolist(), p.origin.tolist(), p.role.tolist(), p.hh.tolist()):
            person = Person(age, sex, origin, role)
            if role == HEAD:
                members[row].insert(0, person)
            else:
                members[row].append(person)
        for area, income, years, m in zip(h.area.tolist(), h.income.tolist(), h.years.tolist(), members):
            Household(self, area, income, years, m)

    # ---- the year --------------------------------------------------------------------------
    def step(self) -> None:
        """One year: every household's own events (random order), couples, newcomers, moves (random order), dwellings."""
        self.year += 1
        self.tables = self.year_tables[self.year]
        self.counts = Counter()
        for household in self.in_random_order():
            if not household.dissolved:
                household.step()
        self.form_couples()
        self.in_migration()
        for household in self.in_random_order():
            household.consider_move()
        self.housing()
        self.history[self.year] = dict(self.counts)

    def in_random_order(self) -> list[Household]:
        """The current households, shuffled with model.rng."""
        households = list(self.agents)
        return [households[i] for i in self.rng.permutation(len(households))]

    def form_couples(self) -> None:
        """Persons living alone (18..couple_max_age) seek with couple_formation_rate; pair by age rank within area."""
        s = self.config.households
        seekers: dict[int, tuple[list, list]] = {}
        for h in list(self.agents):
            if len(h.members) == 1 and 18 <= h.members[0].age <= s.couple_max_age and self.rng.random() < s.couple_formation_rate:
                seekers.setdefault(h.area, ([], []))[h.members[0].sex].append(h)
        for women, men in seekers.values():
            women.sort(key=lambda h: h.members[0].age)
            men.sort(key=lambda h: h.members[0].age)
            for woman, man in zip(women, men):
                mover, stayer = (woman, man) if self.rng.random() < 0.5 else (man, woman)
                person = mover.members[0]
                person.role = PARTNER
                stayer.members.append(person)
                mover.members = []
                self.dissolve(mover)
                self.counts["couples_formed"] += 1

    def in_migration(self) -> None:
        """Newcomer households copy templates drawn by mobility x origin weight, until the target is met."""
        target = int(round(in_migration_volume(self.city, self.year) * self.area_share_of_city))
        households = list(self.agents)
        if target <= 0 or not households:
            return
        cumulative = list(accumulate(self.template_weight(h) for h in households))
        templates, persons = [], 0
        while persons < target:
            pick = bisect_right(cumulative, self.rng.random() * cumulative[-1])
            templates.append(households[min(pick, len(households) - 1)])
            persons += len(templates[-1].members)
        for template in templates:
            dest = self.choose_area(self.newcomer_weights, self.free_dwellings())
            if dest is None:
                self.counts["unhoused_immigrants"] += len(template.members)
                continue
            copies = [Person(p.age, p.sex, p.origin, p.role) for p in template.members]
            Household(self, dest, template.income, 0, copies)
            self.counts["immigrants"] += len(copies)

    def template_weight(self, h: Household) -> float:
        head = h.head()
        return self.mobility_index[group_of(head.age)] * self.migration_background_weights[head.origin]

    def housing(self) -> None:
        """New dwellings, spread over the areas in proportion to their stock."""
        new = int(round(self.config.housing_market.new_dwellings_per_year * self.area_share_of_city))
        add = split_integer(np.array([new]), np.array([self.dwellings], float))[0]
        self.dwellings = [d + int(a) for d, a in zip(self.dwellings, add)]

    # ---- helpers -------------------------------------------------------------------------
    def has_free_dwelling(self, area: int) -> bool:
        return self.occupied[area] < self.dwellings[area]

    def free_dwellings(self) -> list[int]:
        return [d - o for d, o in zip(self.dwellings, self.occupied)]

    def choose_area(self, weights: list[float], free: list[int], exclude: int | None = None) -> int | None:
        """An area drawn in proportion to ``weights`` among areas with free dwellings (not ``exclude``)."""
        w = [wt if f > 0 and a != exclude else 0.0 for a, (wt, f) in enumerate(zip(weights, free))]
        cumulative = list(accumulate(w))
        if cumulative[-1] <= 0:
            return None
        return min(bisect_right(cumulative, self.rng.random() * cumulative[-1]), len(w) - 1)

    def dissolve(self, household: Household) -> None:
        """Remove a household (emptied, emigrated or merged) and free its dwelling."""
        household.dissolved = True
        self.occupied[household.area] -= 1
        household.remove()

    def persons(self) -> int:
        return sum(len(h.members) for h in self.agents)

    def check(self) -> None:
        """Raise AccountingError unless every household has members, its head first, at most one
        partner, and no area has more households than dwellings (not timed by the benchmark)."""
        occupied = [0] * len(self.dwellings)
        for h in self.agents:
            roles = Counter(p.role for p in h.members)
            if h.dissolved or not h.members or h.members[0].role != HEAD or roles[HEAD] != 1 or roles[PARTNER] > 1:
                raise AccountingError(f"inconsistent household {h.unique_id}: roles {dict(roles)}")
            occupied[h.area] += 1
        if occupied != self.occupied or any(o > d for o, d in zip(occupied, self.dwellings)):
            raise AccountingError("occupied dwellings do not match the households, or an area is over-full")
