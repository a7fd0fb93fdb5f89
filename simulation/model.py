"""CityModel: Mesa model of Frankfurt's households, one step = one year.

State lives in numpy columns (``simulation.population``, the single source of truth); the
yearly events run vectorised over them in the order of ``step()``, each event returning what
happened and the model applying it. Every random draw comes from the model's seed.

Households are Mesa agents, materialised on demand. Registering ~416,000 ``mesa.Agent``
objects costs about 1.4 s, and keeping them registered while ~35,000 households form and
dissolve each year costs about 0.26 s a year, which the yearly loop must not pay. So the model
creates and registers the ``Household`` agents only when someone asks for them -- through
``model.agents``, ``model.agents_by_type``, ``model.agent_types`` or ``model.agent_of(hid)``
(AgentSet verbs, a visualisation, a test) -- and at each such request brings them up to date
with the columns: agents of dissolved households are removed, agents of new ones are created,
all with Mesa's own ``Agent.__init__``/``remove`` so Mesa's registry is the real one. An agent
holds only its household id and reads every attribute from the columns when looked at, so it
always equals its row. The yearly events do no Python work per household.
"""

from __future__ import annotations

import ctypes
import gc
from contextlib import contextmanager

import mesa
import numpy as np
import pandas as pd

from simulation import catalogue, cohesion
from simulation.errors import AccountingError
from simulation.inputs import CityInputs
from simulation.processes import fertility, households, housing, location, migration, mobility, mortality, services, volunteering
from simulation.processes.shared import free_dwellings
from simulation.records import YearEvents, YearRecorder
from simulation.scenario import Scenario
from simulation.synthesis import synthesize
from simulation.vocabulary import (
    HOUSEHOLD_TYPES,
    INCOME_CLASSES,
    LOW,
    NONE,
    ORIGINS,
    OTHER,
    ROLES,
    SERVICE_COUNTS,
    SEXES,
    UNMET_GROUPS,
)

# event families with their own random stream (order fixed: it is part of the seed derivation)
MESA_STREAM = 1_000  # spawn key of the Mesa model's own generator
EVENT_STREAMS = ("synthesis", "deaths", "births", "households", "out_migration", "in_migration", "moves", "housing")


@contextmanager
def paused_cyclic_gc():
    """Pause Python's cyclic garbage collector for a block, then collect once.

    The yearly events create no reference cycles, so nothing is lost by collecting once at the
    end, and materialised agents are not walked by every collection. Memory freed by reference
    counting is unaffected.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect(1)


# glibc's mallopt parameters and values (malloc.h): blocks up to the largest threshold glibc
# allows (32 MiB on 64-bit) come from the heap, and freed memory stays there up to 1 GiB
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_HEAP_BLOCKS, _KEPT_FREE = 32 * 2**20, 2**30


def keep_freed_memory() -> bool:
    """Let the C allocator keep freed memory for reuse instead of returning it to the system.

    Every year makes and frees arrays of one value per person (~800,000) of the same sizes again.
    By default glibc hands such blocks back to the system, which then has to zero fresh pages for
    the next one: about 6 ms of a whole-city year (5 %). Keeping them in the heap costs about
    10 MB of peak memory. Process-wide and idempotent; returns False where the C library has no
    ``mallopt`` (not glibc), which changes nothing but speed.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _HEAP_BLOCKS)) & bool(mallopt(_M_TRIM_THRESHOLD, _KEPT_FREE))


class Household(mesa.Agent):
    """A household agent: a thin view on its row in the model's population columns."""

    def __init__(self, model: "CityModel", hid: int):
        super().__init__(model)
        self.hid = int(hid)

    @property
    def _row(self) -> int:
        h = self.model.population.households
        row = int(self.model.population.row_of(self.hid))
        if row >= len(h) or h.hid[row] != self.hid:
            raise LookupError(f"household {self.hid} no longer exists (agent was removed)")
        return row

    @property
    def members(self) -> np.ndarray:
        """Person rows of the members. Scans the person columns: for many households at once,
        work on ``model.population`` directly."""
        return np.flatnonzero(self.model.population.persons.hh == self._row)

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def area(self) -> str:
        return self.model.area_names[self.model.population.households.area[self._row]]

    @property
    def household_type(self) -> str:
        """The type by the city's definitions (``Population.household_type``). Computes the types
        of all households: for many households, use ``model.population.household_type()``."""
        return HOUSEHOLD_TYPES[self.model.population.household_type()[self._row]]

    @property
    def income_class(self) -> str:
        return INCOME_CLASSES[self.model.population.households.income[self._row]]

    @property
    def years_at_address(self) -> int:
        return int(self.model.population.households.years[self._row])

    @property
    def services_used(self) -> dict[str, int]:
        """Services the members used this year: service -> number of members (or 1 for the household)."""
        use = self.model.population.persons.use[self.members]
        counts = (use >= 0).sum(axis=0)
        return {name: int(c) for name, c in zip(self.model.service_names, counts) if c}

    def member_table(self) -> pd.DataFrame:
        p = self.model.population.persons
        m = self.members
        return pd.DataFrame(
            {
                "age": p.age[m],
                "sex": np.array(SEXES)[p.sex[m]],
                "migration_background": np.array(ORIGINS)[p.origin[m]],
                "role": np.array(ROLES)[p.role[m]],
            }
        )


class CityModel(mesa.Model):
    """Households of the selected social areas, projected year by year from the scenario.

    ``CityModel(scenario, inputs, seed)``: ``inputs`` come from ``simulation.inputs.load_inputs``
    (read once, shared by many models); the model only builds state from them and runs the
    calendar. The scenario is kept as ``model.config`` (Mesa's own ``Model.scenario`` is a
    different thing).
    """

    def __init__(
        self,
        scenario: Scenario,
        inputs: CityInputs,
        seed: int | np.random.SeedSequence | None = None,
        check_every_step: bool = True,
        check_more: bool = False,
    ):
        keep_freed_memory()
        seed = scenario.seed if seed is None else seed
        # an ensemble passes a child SeedSequence per replication; a single run an integer
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        # Mesa's own generator (agent shuffles) gets a stream of its own, like every event family
        super().__init__(rng=np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + (MESA_STREAM,))))
        self.seed_sequence = ss
        self.config = scenario
        self.inputs = inputs
        self.seed = seed if not isinstance(seed, np.random.SeedSequence) else {"entropy": ss.entropy, "spawn_key": list(ss.spawn_key)}
        self.check_every_step = check_every_step
        self.check_more = check_more  # the costlier invariants too, after every year (--check-more)
        self.area_names = inputs.area_names
        self.service_names = inputs.service_names
        self.catalogue = inputs.catalogue
        self.year = scenario.base_year
        self.population = synthesize(inputs.cells, self.area_names, inputs.synthesis, self.stream("synthesis"))
        # age-specific out-migration rates, fixed in the base year (processes/migration.py)
        self.out_rates = migration.out_rates(
            self.population, scenario.out_migration.schedule.model_dump(), scenario.out_migration.rate_per_1000 / 1000.0
        )
        n_households = np.bincount(self.population.households.area, minlength=len(self.area_names))
        self.dwellings = np.ceil(n_households / (1.0 - scenario.housing_market.vacancy_reserve)).astype(np.int64)
        self.completion_pattern = housing.CompletionPattern.of(inputs.dwelling_growth, self.area_names)  # where the city builds
        self.rent = np.ones(len(self.area_names))  # rent index per area, 1 in the base year; levels: inputs.base_rent x rent
        # the location choice of movers, displaced households and newcomers (processes/location.py)
        mob, h = scenario.mobility, self.population.households
        self.choice = location.ChoiceParams.of(mob.rent_sensitivity, mob.homophily, h.area, h.income == LOW, len(self.area_names))
        # newcomers favour the areas where newcomers settled in 2012, per dwelling (profile 2012)
        self.newcomer_prior = inputs.newcomer_weights / np.maximum(self.dwellings, 1)
        self._build_services()
        self.recorder = YearRecorder(
            self.area_names,
            inputs.area_sozialrathaus,
            self.service_names,
            np.array([t.units_per_user for t in self.catalogue.values()]),
            scenario.cohesion.small_area_threshold,
        )
        self._agents: dict[int, Household] = {}  # household id -> its Mesa agent, once materialised
        self.events: YearEvents | None = None  # what happened in the current year (None in the base year)
        self.view: services.PersonView | None = None  # the persons on 31 Dec of the current year
        self.served: services.ServiceYear | None = None  # the year's service use
        self.cohesion_rows: cohesion.IndicatorYear | None = None  # the year's indicators
        # handed from out-migration to in-migration within a year: the expected leavers per age
        # group (before they left) and the classes of the households that stayed
        self.expected_leavers: np.ndarray | None = None
        self.household_classes: migration.HouseholdClasses | None = None
        # residents per area and origin group, carried within a year from one event to the next
        # (after the departures, the arrivals, the moves; ``_composition``)
        self.residents_by_group: np.ndarray | None = None
        # the base year runs volunteering and service use too, so it is recorded like any other
        self.volunteering()
        self.service_use()
        self.indicators()
        self.record()
        self.check()
        if self.check_more:
            self.more_checks()

    def _build_services(self) -> None:
        """Base-year arrival years, capacities and the volunteer split (see simulation/catalogue.py)."""
        pop, inputs = self.population, self.inputs
        n = len(pop.persons)
        # base population: arrival in the city approximated by the household's years at address
        years_here = np.minimum(pop.households.years[pop.persons.hh].astype(np.int64), pop.persons.age)
        pop.persons.arrival = (self.config.base_year - years_here).astype(np.int16)
        # column by column, as serve_year makes them every year (one compiled variant of its passes)
        pop.persons.use = np.full((n, len(self.service_names)), -1, np.int8, order="F")
        pop.persons.wait = np.zeros((n, len(self.service_names)), np.int8, order="F")
        view = services.PersonView.of(pop, self.year)
        n_areas = len(self.area_names)
        self.capacity = np.zeros((len(self.service_names), n_areas))
        for i, (name, service) in enumerate(self.catalogue.items()):
            rows = services.eligible_rows(service, view)
            eligible = np.bincount(view.area[rows], minlength=n_areas).astype(float)
            demand = np.bincount(view.area[rows], weights=services.take_up_probability(service, view, rows), minlength=n_areas)
            self.capacity[i] = catalogue.base_capacities(
                service, self.area_names, eligible, demand, inputs.area_share_of_city, inputs.capacity_table, inputs.capacity_weights[name]
            )
        # volunteer time goes to the services that use volunteers, by their base-year places
        uses = np.array([t.uses_volunteers for t in self.catalogue.values()])[:, None]
        places = np.where(uses, self.capacity / np.array([t.units_per_user for t in self.catalogue.values()])[:, None], 0.0)
        totals = places.sum(axis=0)
        self.volunteer_split = np.divide(places, totals, out=np.zeros_like(places), where=totals > 0)
        self.volunteer_places = np.zeros_like(self.capacity)

    def stream(self, event: str) -> np.random.Generator:
        """The random generator of one event family in the current year.

        All streams derive from the model's seed (``model.rng`` is seeded from the same
        SeedSequence). One stream per event and year means that two scenarios which differ in one
        event draw the same numbers for every other event (common random numbers), and that a
        difference in one year does not shift the draws of later years.
        """
        key = (EVENT_STREAMS.index(event), self.year - self.config.base_year)
        ss = self.seed_sequence
        return np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + key))

    # ---- the event calendar -----------------------------------------------------------------
    def step(self) -> None:
        self.year += 1
        self.view = None  # last year's view shares columns that this year's events change
        self.events = YearEvents(self.year, self.population.persons_per_area())
        self.ageing()
        self.construction()
        self.deaths()
        self.births()
        self.household_transitions()
        self.out_migration()
        self.in_migration()
        self.moves()
        self.housing()
        self.volunteering()
        self.service_use()
        self.indicators()
        self.record()
        if self.check_every_step:
            self.check()
        if self.check_more:
            self.more_checks()

    def run(self, years: int | None = None, progress=None) -> None:
        with paused_cyclic_gc():
            for _ in range(years if years is not None else self.config.horizon):
                self.step()
                if progress is not None:
                    progress(self.year)

    # ---- events ----------------------------------------------------------------------------
    def ageing(self) -> None:
        """Everyone is one year older on 31 Dec; every household one more year at its address."""
        self.population.age_one_year()

    def deaths(self) -> None:
        pop = self.population
        died = mortality.die(pop, self.inputs.rates_for(self.year).death, self.config.mortality.factor, self.stream("deaths"))
        self.events.count("deaths", np.arange(len(died.per_area)), weights=died.per_area)
        self.events.count_city("widowed", died.widowed)
        pop.remove_persons(died.dead)

    def births(self) -> None:
        pop, r, s, rng = self.population, self.inputs.rates_for(self.year), self.config, self.stream("births")
        infant = r.death.values[:, 0] * s.mortality.factor
        born = fertility.draw_births(
            pop,
            r.fertility,
            s.fertility.factor,
            r.male_share,
            self.inputs.newborn_foreign_share,
            infant,
            rng,
            without_partner_share=s.households.births_without_partner_share,
        )
        area = pop.area_of(born.mother)
        self.events.count("births", area)
        self.events.count("deaths", area[born.dies])
        # adult mothers living as someone's child or in a shared flat found a household with the child
        leaving = fertility.leave_with_newborn(pop, born, s.households.leave_home_min_age)
        leaving = households.within_free_dwellings(pop, leaving, self.dwellings, rng)
        pop.found_households(leaving)
        self.events.count_city("left_home", len(leaving))
        keep = ~born.dies
        n = int(keep.sum())
        pop.add_persons(
            np.zeros(n, np.int16),
            born.sex[keep],
            born.origin[keep],
            pop.persons.hh[born.mother[keep]],
            fertility.newborn_roles(pop, born)[keep],
            np.full(n, self.year, np.int16),
            born.draw,
        )

    def household_transitions(self) -> None:
        s, pop, rng = self.config.households, self.population, self.stream("households")
        leavers = households.leave_home(pop, s.leave_home_rate, s.leave_home_min_age, self.dwellings, rng)
        pop.found_households(leavers)
        rates = {18: s.couple_formation_rate, 35: s.couple_formation_rate_35_44, 45: s.couple_formation_rate_45_plus}
        movers, stayers = households.form_couples(
            pop, households.rate_by_age(rates, s.couple_max_age), s.couple_max_age, s.couple_max_age_gap, rng, s.repartnering_rate
        )
        pop.join_couples(movers, stayers)
        leaving, staying = households.separate(
            pop, s.separation_rate, self.inputs.household_facts.single_parent_mother_share, self.dwellings, rng, s.separation_rate_60_plus
        )
        pop.separate_couples(leaving, staying)
        self.events.count_city("left_home", len(leavers))
        self.events.count_city("couples_formed", len(movers))
        self.events.count_city("separations", len(leaving))

    def out_migration(self) -> None:
        pop = self.population
        classes = migration.HouseholdClasses.of_population(pop)
        # in-migration replaces the expected leavers of the year (before they left), plus the balance
        self.expected_leavers = migration.expected_leavers(classes, self.out_rates)
        emigrants = migration.draw_emigrants(pop, classes, self.expected_leavers, self.stream("out_migration"))
        self.events.count_ages("emigrants", emigrants.by_group)
        self._emigrate(np.flatnonzero(emigrants.leave))
        self.household_classes = emigrants.stayers
        self.residents_by_group = emigrants.residents  # the areas' composition once they left

    def _emigrate(self, rows: np.ndarray) -> None:
        """Households leave the city: count their members, remove them."""
        pop = self.population
        self.events.count("emigrants", pop.households.area[rows], weights=pop.size()[rows])
        gone = np.zeros(len(pop.households), bool)
        gone[rows] = True
        pop.remove_households(gone)

    def in_migration(self) -> None:
        pop, inputs, rng = self.population, self.inputs, self.stream("in_migration")
        year = self.config.in_migration_in(self.year)
        share = inputs.area_share_of_city
        residents = self._composition()  # as out-migration left it
        # arrivals per age group: as many as leave (expected) plus the group's net balance
        shape = migration.schedule_shares(self.config.in_migration.abroad_schedule.model_dump(), self.household_classes.persons_by_age())
        wanted = (
            self.expected_leavers
            + inputs.net_internal_by_age * self.config.in_migration.net_internal_factor * share
            + year.abroad_net_per_1000 / 1000.0 * len(pop.persons) * shape
        )
        # newcomers may take every free dwelling: Frankfurt's households grew faster than its
        # completions (2009-2019: +4,200 households a year, 2,200-3,600 dwellings completed), so the
        # growth came out of the vacancy reserve; the tight market shows in rents (housing)
        arrivals = migration.immigrate(
            pop,
            self.household_classes,
            wanted,
            None if year.persons_per_year is None else year.persons_per_year * share,
            np.array([year.migration_background_weights[o] for o in ORIGINS]),
            year.family_weight,
            location.chooser(pop, self.rent, self.choice, rng, prior=self.newcomer_prior, shares=location.shares_of(residents)),
            free_dwellings(self.dwellings, pop),
            rng,
        )
        self.events.count("immigrants", arrivals.dest, weights=pop.size()[arrivals.templates])
        before = len(pop.persons)
        pop.copy_households(arrivals.templates, arrivals.dest, self.year, arrivals.draw)
        # flat mates join their hosts after the copies (a host may also be a template, which must
        # be copied without its new flat mate); copies only append, so the rows still hold
        t, p = arrivals.lodger_templates, pop.persons
        self.events.count("immigrants", pop.households.area[arrivals.hosts])
        self.events.count_city("flat_mates", len(t))
        n = len(t)
        pop.add_persons(
            p.age[t],
            p.sex[t],
            p.origin[t],
            arrivals.hosts,
            np.full(n, OTHER, np.int8),
            np.full(n, self.year, np.int16),
            arrivals.lodger_draw,
        )
        # copies and flat mates are appended: the newcomers are the persons after ``before``
        self.events.count_ages("immigrants", migration.by_group(pop.persons.age[before:]))
        self.events.count_city("unhoused_immigrants", arrivals.unhoused)
        # the areas' composition after the arrivals (who came after ``before``), for the moves
        self.residents_by_group = residents + location.residents_by_group(pop, len(self.area_names), since=before)

    def moves(self) -> None:
        pop = self.population
        rng = self.stream("moves")
        movers = mobility.draw_movers(pop, self.config.mobility.move_rate, self.inputs.mobility_index, rng)
        low = pop.households.income[movers] == LOW
        # one location choice for the year's moves: the areas' composition before the moves
        residents = self._composition()  # as in-migration left it
        choose = location.chooser(pop, self.rent, self.choice, rng, shares=location.shares_of(residents))
        moved = [self._move(*mobility.relocate(pop, group, self.dwellings, rng, choose=choose)) for group in (movers[~low], movers[low])]
        rows, origin = (np.concatenate(parts) for parts in zip(*moved))
        self.residents_by_group = location.after_moves(residents, pop, rows, origin)  # for housing

    def _composition(self) -> np.ndarray:
        """Residents per area and origin group as the year's events so far left them: taken over
        from the event before (each hands on what it changed, ``residents_by_group``), or counted
        over every person where an event runs on its own."""
        carried, self.residents_by_group = self.residents_by_group, None
        return carried if carried is not None else location.residents_by_group(self.population, len(self.area_names))

    def _move(self, rows: np.ndarray, dest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply moves between areas and count the persons moved; returns (rows, their origin areas)."""
        size = self.population.size()[rows]
        origin = self.population.move_households(rows, dest)
        self.events.count("moves_out", origin, weights=size)
        self.events.count("moves_in", dest, weights=size)
        return rows, origin

    def construction(self) -> None:
        """The year's new dwellings (completions where the city builds, and the scenario's projects;
        processes/housing.py) join the stock at the start of the year, so that households founded
        and newcomers arriving during the year can move in."""
        m = self.config.housing_market
        shares = housing.completion_shares(self.completion_pattern, self.year, m.completions_location, m.observed_pattern_half_life)
        built = housing.spread_completions(m.new_dwellings_per_year, shares)
        added, effect = housing.project_dwellings(self.config.housing_projects_in(self.year), self.area_names, m.newbuild_rent_effect)
        self.built = (built + added, effect + built * m.newbuild_rent_effect)  # dwellings and their rent effect, for housing()
        self.dwellings += built + added

    def housing(self) -> None:
        """Rents and displacement at the end of the year (processes/housing.py)."""
        m, pop = self.config.housing_market, self.population
        new, effect = self.built
        # demand pressure: this year's searchers (households settled this year) over the dwellings
        # on offer (the free ones without this year's new ones, and those the searchers took)
        households = pop.households_per_area()
        settled = np.flatnonzero(pop.households.years == 0)
        offered = np.maximum(free_dwellings(self.dwellings - new, pop), 0) + np.bincount(
            pop.households.area[settled], minlength=len(households)
        )
        shares = location.shares_of(self._composition())  # as the year's moves left it
        pressure = location.demand_pressure(pop, settled, offered, self.rent, self.choice, shares)
        old = self.rent.copy()
        self.rent = housing.update_rents(
            old,
            self.dwellings,
            households,
            new,
            effect,
            m.rent_growth,
            m.rent_vacancy_elasticity,
            m.vacancy_reserve,
            pressure,
            m.rent_demand_elasticity,
        )
        rng = self.stream("housing")
        excess = housing.excess_rise(old, self.rent, households)
        leaving, staying = housing.draw_displaced(pop, excess, m.displacement_rate, m.displacement_leave_city_share, rng)
        self.events.count("displaced", pop.households.area[np.concatenate([leaving, staying])])
        choose = location.chooser(pop, self.rent, self.choice, rng, shares=shares)
        self._move(*housing.relocate_displaced(pop, staying, self.dwellings, choose))
        self._emigrate(leaving)

    def volunteering(self) -> None:
        """Who volunteers this year and the service places volunteer time adds (processes/volunteering.py)."""
        v, pop = self.config.volunteering, self.population
        factor = np.ones(len(self.area_names))
        coordination = np.zeros(len(self.area_names))
        for prog in self.config.volunteer_programmes_in_force(self.year):
            a = self.area_names.index(prog.area)
            factor[a] *= prog.propensity_factor
            coordination[a] += prog.coordination_hours
        relative = np.array([v.relative_propensity[o] for o in ORIGINS])
        area = pop.person_area()
        p = pop.persons
        self.volunteer, count = volunteering.volunteers(p.age, p.origin, area, p.draw, v.share, relative, factor, v.min_age)
        self.volunteer_hours = count * v.hours_per_volunteer * v.social_services_share + coordination
        self.volunteer_places = volunteering.volunteer_places(self.volunteer_hours, self.volunteer_split, v.hours_per_place)

    def service_use(self) -> None:
        """Offering changes of the year, then demand and allocation of every service (processes/services.py)."""
        pop = self.population
        self._apply_offering_changes()
        self.view = services.PersonView.of(pop, self.year)  # the persons on 31 Dec, for services, indicators, records
        changes = [
            services.TakeUpChange(t.service, t.factor, tuple(ORIGINS.index(o) for o in t.migration_background), t.min_age, t.max_age)
            for t in self.config.take_up_in_force(self.year)
        ]

        def serve(use: np.ndarray, wait: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """The year's service use from last year's, kept in the rows before the year's changes."""
            self.served = services.serve_year(
                self.catalogue,
                self.view,
                use,
                wait,
                pop.persons.draw,
                self.effective_capacity(),
                self.inputs.distance_km,
                self.inputs.nearest,
                changes,
                self.year,
                rows_before=rows,
            )
            return self.served.use, self.served.wait

        pop.align_service_use(serve)

    def record(self) -> None:
        """Hand the year's state and events to the recorder (31 Dec)."""
        served = self.served
        self.recorder.record(
            self.year,
            self.population,
            self.view.household_type_per_household,
            self.dwellings,
            self.rent,
            self.effective_capacity(),
            served.counts,
            served.unmet_groups,
            self.cohesion_rows,
            self.events,
        )

    def effective_capacity(self) -> np.ndarray:
        """Capacity per service and area in the services' units, volunteer places included."""
        units = np.array([t.units_per_user for t in self.catalogue.values()])[:, None]
        return self.capacity + self.volunteer_places * units

    def _apply_offering_changes(self) -> None:
        for o in self.config.offerings_in(self.year):
            i, a = self.service_names.index(o.service), self.area_names.index(o.area)
            if o.action in ("open", "expand"):
                self.capacity[i, a] += o.capacity
            elif o.action == "shrink":
                self.capacity[i, a] = max(0.0, self.capacity[i, a] - o.capacity)
            else:
                self.capacity[i, a] = 0.0

    def indicators(self) -> None:
        """Cohesion indicators of the year (simulation/cohesion.py) from the population, the year's
        events and its service use."""
        pop, c, events, view, service_counts = self.population, self.config.cohesion, self.events, self.view, self.served.counts
        p, h = pop.persons, pop.households
        zeros = np.zeros(len(self.area_names))
        limited = np.array([not t.unlimited for t in self.catalogue.values()])
        uses_vol = np.array([t.uses_volunteers for t in self.catalogue.values()])
        state = cohesion.YearState(
            year=self.year,
            area_names=self.area_names,
            sozialrathaus=self.inputs.area_sozialrathaus,
            person_area=view.area,
            age=p.age,
            migrant=p.origin != NONE,
            low_income=view.low_income,
            alone=view.alone,
            uses=self.served.uses,
            limited=limited,
            volunteer=self.volunteer,
            household_area=h.area,
            household_years=h.years,
            start_population=events.start_population if events is not None else zeros,
            moved_in=(events["immigrants"] + events["moves_in"]) if events is not None else zeros,
            moved_out=(events["emigrants"] + events["moves_out"]) if events is not None else zeros,
            displaced=events["displaced"] if events is not None else zeros,
            volunteer_hours=self.volunteer_hours,
            volunteer_demand=service_counts[uses_vol, :, 1].sum(axis=0),
            served=service_counts[limited, :, 2].sum(axis=0),
            demand=service_counts[limited, :, 1].sum(axis=0),
            weights=dict(c.weights),
            small_area_threshold=c.small_area_threshold,
            flows_known=events is not None,
        )
        self.cohesion_rows = cohesion.yearly_indicators(state)

    # ---- agents on demand and invariants ---------------------------------------------------
    @property
    def agents(self):
        """Mesa's AgentSet of all agents: one ``Household`` per current household (materialised now)."""
        self._sync_agents()
        return super().agents

    @property
    def agents_by_type(self):
        self._sync_agents()
        return super().agents_by_type

    @property
    def agent_types(self) -> list[type]:
        self._sync_agents()
        return super().agent_types

    def agent_of(self, hid: int) -> Household:
        """The Mesa agent of a household id."""
        self._sync_agents()
        return self._agents[int(hid)]

    def _sync_agents(self) -> None:
        """Bring the registered agents in line with the households: remove the agents of
        dissolved households, create (and register) agents for households without one."""
        if len(super().agents) != len(self._agents):  # an agent was removed through Mesa's own API
            registered = super().agents
            self._agents = {hid: agent for hid, agent in self._agents.items() if agent in registered}
        hids = self.population.households.hid
        known = np.fromiter(self._agents, np.int64, len(self._agents))
        for hid in known[~np.isin(known, hids)].tolist():
            self._agents.pop(hid).remove()
        for hid in hids[~np.isin(hids, known)].tolist():
            self._agents[hid] = Household(self, hid)

    def check(self) -> None:
        """Invariants after every step: state consistency, dwellings, population accounting."""
        pop = self.population
        try:
            pop.check()
        except AccountingError as exc:
            raise AccountingError(f"{self.year}: {exc}") from None
        households = pop.households_per_area()
        over = np.flatnonzero(households > self.dwellings)
        if len(over):
            a = over[0]
            raise AccountingError(f"{self.year}, {self.area_names[a]}: {households[a]} households but {self.dwellings[a]} dwellings")
        if self.events is None:
            return
        actual, expected = pop.persons_per_area(), self.events.expected_population()
        bad = np.flatnonzero(expected != actual)
        if len(bad):
            a = bad[0]
            raise AccountingError(
                f"{self.year}, {self.area_names[a]}: population {actual[a]} but the balancing equation gives {expected[a]}"
            )
        moved_in, moved_out = self.events["moves_in"].sum(), self.events["moves_out"].sum()
        if moved_in != moved_out:
            raise AccountingError(f"{self.year}: moves in ({moved_in}) differ from moves out ({moved_out})")

    def more_checks(self) -> None:
        """The costlier invariants (``--check-more``), after ``check``: every person's and household's
        codes and ranges (``Population.check_more``), no event count below zero, rents and
        dwellings, the service counts (eligible >= demand = served + unmet, unmet >= waiting, who
        bears unmet need adds up) and the places used at each offering within its capacity. Raises
        AccountingError naming the year, the area and the numbers."""
        where = f"{self.year}, {{}}"
        self.population.check_more(self.year, self.area_names)
        if self.events is not None:
            for event, counts in self.events.area.items():
                if (counts < 0).any():
                    a = int(np.flatnonzero(counts < 0)[0])
                    raise AccountingError(f"{where.format(self.area_names[a])}: {event} {counts[a]} is below zero")
        bad = np.flatnonzero(~np.isfinite(self.rent) | (self.rent <= 0) | (self.dwellings < 0))
        if len(bad):
            a = bad[0]
            raise AccountingError(f"{where.format(self.area_names[a])}: rent index {self.rent[a]}, {self.dwellings[a]} dwellings")
        counts = self.served.counts  # (services, areas, SERVICE_COUNTS)
        eligible, demand, served, unmet, waiting = np.moveaxis(counts, 2, 0)
        wrong = (counts < 0).any(axis=2) | (demand > eligible) | (demand != served + unmet) | (waiting > unmet)
        dimensions = [dimension for dimension, _ in UNMET_GROUPS]
        for dimension in dict.fromkeys(dimensions):  # each dimension's groups add up to the unmet
            first, last = dimensions.index(dimension), len(dimensions) - dimensions[::-1].index(dimension)
            wrong |= self.served.unmet_groups[:, :, first:last].sum(axis=2) != unmet
        if wrong.any():
            s, a = map(int, np.argwhere(wrong)[0])
            numbers = ", ".join(f"{name} {value}" for name, value in zip(SERVICE_COUNTS, counts[s, a]))
            raise AccountingError(f"{where.format(self.area_names[a])}, {self.service_names[s]}: {numbers}")
        self._check_places()

    def _check_places(self) -> None:
        """Persons using each offering (service and area) times the places each uses, against its capacity."""
        capacity, use = self.effective_capacity(), self.population.persons.use
        units = [t.units_per_user for t in self.catalogue.values()]
        for s, service in enumerate(self.catalogue.values()):
            if service.unlimited:
                continue
            used = np.bincount(use[use[:, s] >= 0, s], minlength=len(self.area_names)) * units[s]
            over = np.flatnonzero(used > capacity[s] + 1e-6)
            if len(over):
                a = over[0]
                raise AccountingError(
                    f"{self.year}, {self.area_names[a]}, {self.service_names[s]}: {used[a]:g} used at its offering, capacity {capacity[s, a]:g}"
                )
