"""CityModel: Mesa model of Frankfurt's households, one step = one year.

Household state lives in numpy columns (``simulation.population``); every household is also a
``Household`` Mesa agent registered with the model, which reads its row. Events run vectorised
over the columns in the order of ``step()``. Every random draw uses ``model.rng``.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mesa
import numpy as np
import pandas as pd

from simulation import base_population, catalogue, cohesion, data, geography, rates
from simulation import population
from simulation.errors import AccountingError, InputError
from simulation.processes import fertility, households as hh_events, migration, mobility, mortality
from simulation.processes import housing as housing_events, services as svc, volunteering as vol
from simulation.records import YearRecorder
from simulation.scenario import Scenario, check_references
from simulation.synthesis import HouseholdFacts, SynthesisInputs, parent_weight_from_asfr, synthesize
from simulation.vocabulary import HOUSEHOLD_TYPES, INCOME_CLASSES, LOW, NONE, ORIGINS, SEXES

# event families with their own random stream (order fixed: it is part of the seed derivation)
MESA_STREAM = 1_000  # spawn key of the Mesa model's own generator
EVENT_STREAMS = ("synthesis", "deaths", "births", "households", "out_migration", "in_migration", "moves", "housing")


@contextmanager
def paused_cyclic_gc():
    """Pause Python's cyclic garbage collector for a block, then collect once.

    Half a million long-lived agents make every full collection walk them all (measured: a
    quarter of a 25-year run); the yearly events create no reference cycles, so nothing is
    lost by collecting once at the end. Memory freed by reference counting is unaffected.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect(1)


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
        pop = self.model.population
        members = self.members
        roles = np.bincount(pop.persons.role[members], minlength=4)
        return HOUSEHOLD_TYPES[population.household_type_of(roles)[0]]

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
        return pd.DataFrame({
            "age": p.age[m], "sex": np.array(SEXES)[p.sex[m]],
            "migration_background": np.array(ORIGINS)[p.origin[m]],
            "role": np.array(["head", "partner", "child", "other"])[p.role[m]],
        })


@dataclass
class YearRates:
    death: rates.RateTable
    fertility: rates.RateTable
    male_share: float


def select_areas(spec: str | list[str], areas: data.AreaTable, where: str | None = None) -> list[str]:
    """'city', 'sozialrathaus:NAME' or a list of Stadtteil names -> the area names of the run."""
    names = areas.names
    if spec == "city":
        return names
    if isinstance(spec, str) and spec.startswith("sozialrathaus:"):
        srh = spec.split(":", 1)[1]
        chosen = [a for a, s in areas.sozialrathaus_of().items() if s == srh]
        if not chosen:
            allowed = ", ".join(sorted(set(areas.sozialrathaus_of().values())))
            raise InputError(where, "areas", f"unknown Sozialrathaus '{srh}'", f"sozialrathaus:NAME with NAME one of {allowed}")
        return chosen
    if isinstance(spec, list):
        unknown = [a for a in spec if a not in names]
        if unknown or not spec:
            raise InputError(where, "areas", f"unknown area '{unknown[0]}'" if unknown else "empty area list", "Stadtteil names: " + ", ".join(names))
        return [a for a in names if a in spec]
    raise InputError(where, "areas", f"cannot read {spec!r}", "'city', 'sozialrathaus:NAME' or a list of Stadtteil names")


class CityModel(mesa.Model):
    """Households of the selected social areas, projected year by year from the scenario."""

    def __init__(self, scenario: Scenario, seed: int | np.random.SeedSequence | None = None, scenario_path: str | None = None,
                 check_every_step: bool = True):
        seed = scenario.seed if seed is None else seed
        # an ensemble passes a child SeedSequence per replication; a single run an integer
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        # Mesa's own generator (agent shuffles) gets a stream of its own, like every event family
        super().__init__(rng=np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + (MESA_STREAM,))))
        self.seed_sequence = ss
        self.config = scenario
        self.seed = seed if not isinstance(seed, np.random.SeedSequence) else {"entropy": ss.entropy, "spawn_key": list(ss.spawn_key)}
        self.check_every_step = check_every_step
        self.data_dir = Path(scenario.data_dir) if scenario.data_dir else data.DEFAULT_DATA_DIR
        area_table = data.load_areas(self.data_dir)
        self.area_names = select_areas(scenario.areas, area_table, scenario_path)
        if len(self.area_names) > population.MAX_AREAS:
            raise InputError(scenario_path, "areas", f"{len(self.area_names)} areas", f"at most {population.MAX_AREAS}")
        srh = area_table.sozialrathaus_of()
        self.area_sozialrathaus = [srh[a] for a in self.area_names]
        self.year = scenario.base_year
        self._inputs = rates.load_rate_inputs(self.data_dir)
        self._build_population(scenario_path)
        self._build_parameters()
        self._build_services(scenario_path)
        self.recorder = YearRecorder(self)
        self._agents: dict[int, Household] = {}  # household id -> its Mesa agent
        self._registered_up_to = 0  # households with a smaller id have their agent
        self._sync_agents()
        self.check()
        self.volunteering()  # base-year volunteering and service use, so the base year is
        self.services()  # recorded like any other
        self.recorder.record_state()
        self.indicators(flows_known=False)

    # ---- set-up --------------------------------------------------------------------------
    def _build_population(self, scenario_path: str | None = None) -> None:
        s = self.config
        extract = Path(s.population.register_extract) if s.population.register_extract else None
        all_areas = data.load_areas(self.data_dir).names
        cells, self.population_method = base_population.person_cells(s.population.source, self.data_dir, s.base_year, all_areas, extract,
                                                                      scenario_path)
        self.city_base_persons = city_total(cells, s, self.data_dir, all_areas, scenario_path)
        cells = cells[cells["area"].isin(self.area_names)]
        if cells["persons"].sum() == 0:
            raise InputError(None, "areas", "the selected areas have no residents in the base data")
        asfr = self._inputs["asfr"]
        base_asfr = rates.fertility_rates(asfr, rates.asfr_year(asfr, s.base_year)).values * 1000.0
        facts = HouseholdFacts.from_table(data.household_facts(self.data_dir), _mid_2022_population(self.data_dir))
        inputs = SynthesisInputs(
            facts=facts,
            parent_weight=parent_weight_from_asfr(base_asfr),
            duration=self._inputs["duration"],
            low_income_share=data.benefit_share(self.data_dir),
            low_income_relative_risk=tuple(s.income.relative_risk[o] for o in ORIGINS),
            leave_home_rate=s.households.leave_home_rate,
            leave_home_min_age=s.households.leave_home_min_age,
        )
        self.population = synthesize(cells, self.area_names, inputs, self.stream("synthesis"))
        self.household_facts = facts

    def _build_parameters(self) -> None:
        s = self.config
        duration = self._inputs["duration"]
        self.mobility_index = rates.mobility_index(duration)
        self.newcomer_weights = rates.newcomer_area_weights(duration, self.area_names)
        self.newborn_foreign_share = rates.newborn_foreign_share(self._inputs["cells_2012"])
        self.single_parent_mother_share = self.household_facts.single_parent_mother_share
        self.emigration_base = migration.emigration_scale(self.population, self.mobility_index, s.out_migration.rate_per_1000 / 1000.0)
        self.area_share_of_city = self.population.persons_per_area().sum() / self.city_base_persons
        households = np.bincount(self.population.households.area, minlength=len(self.area_names))
        self.dwellings = np.ceil(households / (1.0 - s.housing_market.vacancy_reserve)).astype(np.int64)
        self._year_rates: dict[int, YearRates] = {}

    def _build_services(self, scenario_path: str | None) -> None:
        """Catalogue, distances, base-year arrival years and capacities (see simulation/catalogue.py)."""
        s, pop = self.config, self.population
        base = catalogue.load_catalogue(self.data_dir)
        check_references(s, list(base), self.area_names, scenario_path)
        self.catalogue = catalogue.with_overrides(base, {k: v.changes() for k, v in s.services.items()})
        self.service_names = list(self.catalogue)
        n = len(pop.persons)
        # base population: arrival in the city approximated by the household's years at address
        years_here = np.minimum(pop.households.years[pop.persons.hh].astype(np.int64), pop.persons.age)
        pop.persons.arrival = (s.base_year - years_here).astype(np.int16)
        pop.persons.use = np.full((n, len(self.service_names)), -1, np.int8)
        pop.persons.wait = np.zeros((n, len(self.service_names)), np.int8)
        numbers = data.load_areas(self.data_dir).frame.set_index("area").loc[self.area_names, "area_nr"].tolist()
        self.distance_km = geography.distance_matrix(self.data_dir, numbers)
        self.nearest = {name: svc.nearest_areas(self.distance_km, t.max_distance_km) for name, t in self.catalogue.items()}
        view = svc.PersonView.of(pop, self.year)
        area_table = catalogue.area_capacity_table(self.data_dir)
        n_areas = len(self.area_names)
        self.capacity = np.zeros((len(self.service_names), n_areas))
        for i, (name, service) in enumerate(self.catalogue.items()):
            rows = np.flatnonzero(svc.eligible(service, view))
            eligible = np.bincount(view.area[rows], minlength=n_areas).astype(float)
            demand = np.bincount(view.area[rows], weights=svc.take_up_probability(service, view, rows), minlength=n_areas)
            weights = catalogue.children_2012(service, self._inputs["cells_2012"], self.area_names)
            self.capacity[i] = catalogue.base_capacities(service, self.area_names, eligible, demand, self.area_share_of_city, area_table, weights)
        # volunteer time goes to the services that use volunteers, by their base-year places
        uses = np.array([t.uses_volunteers for t in self.catalogue.values()])[:, None]
        places = np.where(uses, self.capacity / np.array([t.units_per_user for t in self.catalogue.values()])[:, None], 0.0)
        totals = places.sum(axis=0)
        self.volunteer_split = np.divide(places, totals, out=np.zeros_like(places), where=totals > 0)
        self.volunteer_places = np.zeros_like(self.capacity)
        self.rent = np.ones(n_areas)  # rent index per area, 1 in the base year (no rent levels in the data)

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

    def rates_for(self, year: int) -> YearRates:
        if year not in self._year_rates:
            s, life, asfr = self.config, self._inputs["life"], self._inputs["asfr"]
            period = rates.nearest_life_table_period(life, year) if s.mortality.life_table == "auto" else s.mortality.life_table
            fert_year = rates.asfr_year(asfr, year if s.fertility.asfr_year == "auto" else s.fertility.asfr_year)
            self._year_rates[year] = YearRates(
                death=rates.death_probabilities(life, period),
                fertility=rates.fertility_rates(asfr, fert_year),
                male_share=rates.male_birth_share(self._inputs["births"], year),
            )
        return self._year_rates[year]

    # ---- the event calendar -----------------------------------------------------------------
    def step(self) -> None:
        self.year += 1
        self.recorder.start_year()
        self.ageing()
        self.deaths()
        self.births()
        self.household_transitions()
        self.out_migration()
        self.in_migration()
        self.moves()
        self.housing()
        self.volunteering()
        self.services()
        self._sync_agents()
        self.recorder.finish_year()
        self.indicators()
        if self.check_every_step:
            self.check()

    def run(self, years: int | None = None, progress=None) -> None:
        with paused_cyclic_gc():
            for _ in range(years if years is not None else self.config.horizon):
                self.step()
                if progress is not None:
                    progress(self.year)

    # ---- events ----------------------------------------------------------------------------
    def ageing(self) -> None:
        """Everyone is one year older on 31 Dec; every household one more year at its address."""
        self.population.persons.age += 1
        self.population.households.years += 1

    def deaths(self) -> None:
        pop = self.population
        dead = mortality.draw_deaths(pop, self.rates_for(self.year).death, self.config.mortality.factor, self.stream("deaths"))
        self.recorder.count("deaths", pop.person_area()[dead])
        self.recorder.count_city("widowed", mortality.count_widowed(pop, dead))
        pop.remove_persons(dead)

    def births(self) -> None:
        pop, r, s = self.population, self.rates_for(self.year), self.config
        infant = r.death.values[:, 0] * s.mortality.factor
        rng = self.stream("births")
        born = fertility.draw_births(pop, r.fertility, s.fertility.factor, r.male_share, self.newborn_foreign_share, infant, rng)
        area = pop.person_area()[born.mother]
        self.recorder.count("births", area)
        self.recorder.count("deaths", area[born.dies])
        keep = ~born.dies
        n = int(keep.sum())
        pop.add_persons(np.zeros(n, np.int16), born.sex[keep], born.origin[keep], pop.persons.hh[born.mother[keep]], born.role[keep],
                        np.full(n, self.year, np.int16), rng.integers(0, 2**32, n, dtype=np.uint32))

    def household_transitions(self) -> None:
        s, pop, rng = self.config.households, self.population, self.stream("households")
        self.recorder.count_city("left_home", hh_events.leave_home(pop, s.leave_home_rate, s.leave_home_min_age, self.dwellings, rng))
        self.recorder.count_city("couples_formed", hh_events.form_couples(pop, s.couple_formation_rate, s.couple_max_age, s.couple_max_age_gap, rng))
        self.recorder.count_city("separations", hh_events.separate(pop, s.separation_rate, self.single_parent_mother_share, self.dwellings, rng))

    def out_migration(self) -> None:
        pop = self.population
        leaving = migration.draw_emigrants(pop, self.emigration_base, self.mobility_index, self.stream("out_migration"))
        self.recorder.count("emigrants", pop.person_area()[leaving[pop.persons.hh]])
        pop.remove_households(leaving)

    def in_migration(self) -> None:
        pop = self.population
        volume, origins, family = self.config.in_migration_in(self.year)
        volume *= self.area_share_of_city
        origin_weights = np.array([origins[o] for o in ORIGINS])
        # newcomers cannot take the fluctuation reserve: those free dwellings are what keeps
        # moves inside the city going in a tight market (moves may use every free dwelling)
        usable = np.floor(self.dwellings * (1.0 - self.config.housing_market.vacancy_reserve)).astype(np.int64)
        capacity = usable - np.bincount(pop.households.area, minlength=len(self.dwellings))
        rows, unhoused = migration.immigrate(pop, volume, self.mobility_index, origin_weights, family, self.newcomer_weights, capacity, self.year, self.stream("in_migration"))
        arrived = np.isin(pop.persons.hh, rows)
        self.recorder.count("immigrants", pop.person_area()[arrived])
        self.recorder.count_city("unhoused_immigrants", unhoused)

    def moves(self) -> None:
        pop = self.population
        rng = self.stream("moves")
        movers = mobility.draw_movers(pop, self.config.mobility.move_rate, self.mobility_index, rng)
        low = pop.households.income[movers] == LOW
        afford = housing_events.affordable_weights(np.ones_like(self.rent), self.rent, self.config.housing_market.affordability_sensitivity)
        for group, preference in ((movers[~low], None), (movers[low], afford)):
            rows, origin = mobility.relocate(pop, group, self.dwellings, rng, preference=preference)
            self._count_moves(rows, origin)

    def _count_moves(self, rows: np.ndarray, origin: np.ndarray) -> None:
        size = self.population.size()[rows]
        self.recorder.count("moves_out", origin, weights=size)
        self.recorder.count("moves_in", self.population.households.area[rows], weights=size)

    def services(self) -> None:
        """Offering changes of the year, then demand and allocation of every service."""
        self._apply_offering_changes()
        pop = self.population
        view = svc.PersonView.of(pop, self.year)
        p = pop.persons
        for i, (name, service) in enumerate(self.catalogue.items()):
            rows = np.flatnonzero(svc.eligible(service, view))
            factor = self._take_up_factor(name, view, rows)
            seeks = svc.fixed_uniform(p.draw[rows], i) < svc.take_up_probability(service, view, rows, factor)
            seekers = rows[seeks]
            previous = p.use[seekers, i].astype(np.int64)
            waited = p.wait[seekers, i]
            if service.unlimited:  # an entitlement: everybody is served where they live
                served = view.area[seekers].copy()
            else:
                slots = np.floor(self.effective_capacity(i) / service.units_per_user)
                draws, year = p.draw[seekers], self.year
                served = svc.allocate(view.area[seekers], previous, waited, slots, self.distance_km, self.nearest[name],
                                      service.distance_decay_km, lambda rows, k, d=draws, i=i, y=year: svc.fixed_uniform(d[rows], i, y, k))
            unmet = seekers[served < 0]
            self.recorder.record_service(i, view, rows, seekers, served, unmet, waited[served < 0])
            p.use[:, i] = -1
            p.use[seekers, i] = served
            new_wait = np.zeros(len(p), np.int8)
            new_wait[unmet] = np.minimum(p.wait[unmet, i].astype(np.int16) + 1, 127)
            p.wait[:, i] = new_wait

    def effective_capacity(self, i: int) -> np.ndarray:
        """Capacity of service i per area in its units, volunteer places included."""
        return self.capacity[i] + self.volunteer_places[i] * self.catalogue[self.service_names[i]].units_per_user

    def _apply_offering_changes(self) -> None:
        for o in self.config.offerings:
            if o.year != self.year:
                continue
            i, a = self.service_names.index(o.service), self.area_names.index(o.area)
            if o.action in ("open", "expand"):
                self.capacity[i, a] += o.capacity
            elif o.action == "shrink":
                self.capacity[i, a] = max(0.0, self.capacity[i, a] - o.capacity)
            else:
                self.capacity[i, a] = 0.0

    def _take_up_factor(self, name: str, view: "svc.PersonView", rows: np.ndarray) -> np.ndarray:
        """Product of the scenario's take-up changes in force for these persons (1 where none)."""
        factor = np.ones(len(rows))
        service = self.catalogue[name]
        origin = view.head_origin[rows] if service.level == "household" else view.origin[rows]
        for t in self.config.take_up:
            if t.service == name and t.from_year <= self.year:
                hit = np.isin(origin, [ORIGINS.index(o) for o in t.migration_background])
                in_range = (view.age >= t.min_age) & (view.age <= t.max_age)
                if service.level == "household":  # the household has a member of that age
                    in_range = (np.bincount(view.hh[in_range], minlength=view.n_households) > 0)[view.hh]
                hit &= in_range[rows]
                factor[hit] *= t.factor
        return factor

    def housing(self) -> None:
        """New dwellings (completions and projects), rents, displacement (processes/housing.py)."""
        m, pop = self.config.housing_market, self.population
        completions = m.new_dwellings_per_year * self.area_share_of_city
        added, effect = housing_events.project_dwellings(self.config.housing, self.year, self.area_names, m.newbuild_rent_effect)
        spread = base_population.split_integer(np.array([int(round(completions))]), self.dwellings[None, :].astype(float))[0]
        self.dwellings += spread + added
        households = np.bincount(pop.households.area, minlength=len(self.dwellings))
        old = self.rent.copy()
        self.rent = housing_events.update_rents(old, self.dwellings, households, added, effect, m.rent_growth,
                                                m.rent_vacancy_elasticity, m.vacancy_reserve)
        excess = np.maximum(0.0, self.rent / old - 1.0 - m.rent_growth)
        rng = self.stream("housing")
        displaced = housing_events.draw_displaced(pop, excess, m.displacement_rate, rng)
        self.recorder.count("displaced", pop.households.area[displaced])
        leaving = displaced[rng.random(len(displaced)) < m.displacement_leave_city_share]
        staying = np.setdiff1d(displaced, leaving)
        rows, origin = housing_events.relocate_displaced(pop, staying, self.dwellings, self.rent, m.affordability_sensitivity, rng)
        self._count_moves(rows, origin)
        gone = np.zeros(len(pop.households), bool)
        gone[leaving] = True
        self.recorder.count("emigrants", pop.person_area()[gone[pop.persons.hh]])
        pop.remove_households(gone)

    def volunteering(self) -> None:
        """Who volunteers this year and the service places volunteer time adds (processes/volunteering.py)."""
        v, pop = self.config.volunteering, self.population
        factor = np.ones(len(self.area_names))
        coordination = np.zeros(len(self.area_names))
        for prog in self.config.volunteer_programmes:
            if prog.year <= self.year:
                a = self.area_names.index(prog.area)
                factor[a] *= prog.propensity_factor
                coordination[a] += prog.coordination_hours
        relative = np.array([v.relative_propensity[o] for o in ORIGINS])
        area = pop.person_area()
        p = pop.persons
        self.volunteer = vol.volunteers(p.age, p.origin, area, p.draw, v.share, relative, factor, v.min_age)
        count = np.bincount(area[self.volunteer], minlength=len(self.area_names))
        self.volunteer_hours = count * v.hours_per_volunteer * v.social_services_share + coordination
        self.volunteer_places = vol.volunteer_places(self.volunteer_hours, self.volunteer_split, v.hours_per_place)

    def indicators(self, flows_known: bool = True) -> None:
        """Cohesion indicators of the year (simulation/cohesion.py), kept by the recorder."""
        pop, c = self.population, self.config.cohesion
        p, h = pop.persons, pop.households
        year = self.year
        events = self.recorder.events.get(year)
        zeros = np.zeros(len(self.area_names))
        service_counts = self.recorder.services[year]
        limited = np.array([not self.catalogue[n].unlimited for n in self.service_names])
        uses_vol = np.array([self.catalogue[n].uses_volunteers for n in self.service_names])
        state = cohesion.YearState(
            year=year, area_names=self.area_names, sozialrathaus=self.area_sozialrathaus, person_area=pop.person_area(),
            age=p.age, migrant=p.origin != NONE, low_income=(h.income == LOW)[p.hh], alone=(pop.size() == 1)[p.hh],
            use=p.use, limited=limited, volunteer=self.volunteer, household_area=h.area, household_years=h.years,
            start_population=self.recorder.start_population if events is not None else zeros,
            moved_in=(events["immigrants"] + events["moves_in"]) if events is not None else zeros,
            moved_out=(events["emigrants"] + events["moves_out"]) if events is not None else zeros,
            displaced=events["displaced"] if events is not None else zeros,
            volunteer_hours=self.volunteer_hours, volunteer_demand=service_counts[uses_vol, :, 1].sum(axis=0),
            served=service_counts[limited, :, 2].sum(axis=0), demand=service_counts[limited, :, 1].sum(axis=0),
            weights=dict(c.weights), small_area_threshold=c.small_area_threshold,
            flows_known=flows_known,
        )
        self.recorder.cohesion[year] = cohesion.yearly_indicators(state)

    # ---- agents and invariants -----------------------------------------------------------
    def agent_of(self, hid: int) -> Household:
        """The Mesa agent of a household id."""
        return self._agents[int(hid)]

    def _sync_agents(self) -> None:
        """Deregister agents of dissolved households; register agents for new households."""
        pop = self.population
        agents = self._agents
        for hids in pop.removed_hids:
            for hid in hids.tolist():
                agent = agents.pop(hid, None)
                if agent is not None:  # households founded and dissolved within one year never had one
                    agent.remove()
        pop.removed_hids.clear()
        h = pop.households
        # new households are appended with larger ids, so those without an agent form a suffix
        first_new = int(np.searchsorted(h.hid, self._registered_up_to))
        for hid in h.hid[first_new:].tolist():
            agents[hid] = Household(self, hid)
        if len(h):
            self._registered_up_to = int(h.hid[-1]) + 1

    def check(self) -> None:
        """Invariants after every step: state consistency, agents = households, accounting."""
        self.population.check()
        n_agents = len(self.agents)
        if n_agents != len(self.population.households):
            raise AccountingError(f"{n_agents} Household agents for {len(self.population.households)} households")
        over = self.population.households.area.size and np.bincount(self.population.households.area, minlength=len(self.dwellings)) > self.dwellings
        if np.any(over):
            raise AccountingError(f"more households than dwellings in {[self.area_names[i] for i in np.flatnonzero(over)]}")
        self.recorder.check_accounting()


def city_total(cells: pd.DataFrame, scenario: Scenario, data_dir: Path, all_areas: list[str], where: str | None) -> int:
    """Residents of the whole city in the base year: the cells' total when they cover every area,
    else the register total of the base date (a partial register extract)."""
    if set(cells["area"]) >= set(all_areas):
        return int(cells["persons"].sum())
    totals = data.register_totals(data_dir)
    key = f"{scenario.base_year}-12-31"
    if key not in totals.index:
        raise InputError(where, "population.register_extract", f"covers only some areas and there is no city total for {key}",
                         "an extract of all areas, or a base year with a register total")
    return int(totals[key])


def check_inputs(scenario: Scenario, where: str | None = None) -> list[str]:
    """Every check a run makes before simulating (areas, data files, references, base population);
    returns the run's areas. Raises InputError."""
    data_dir = Path(scenario.data_dir) if scenario.data_dir else data.DEFAULT_DATA_DIR
    areas = select_areas(scenario.areas, data.load_areas(data_dir), where)
    check_references(scenario, list(catalogue.load_catalogue(data_dir)), areas, where)
    all_areas = data.load_areas(data_dir).names
    extract = Path(scenario.population.register_extract) if scenario.population.register_extract else None
    cells, _ = base_population.person_cells(scenario.population.source, data_dir, scenario.base_year, all_areas, extract, where)
    city_total(cells, scenario, data_dir, all_areas, where)
    if not cells[cells["area"].isin(areas)]["persons"].sum():
        raise InputError(where, "areas", "the selected areas have no residents in the base data")
    geography.distance_matrix(data_dir, data.load_areas(data_dir).frame.set_index("area").loc[areas, "area_nr"].tolist())
    return areas


def _mid_2022_population(data_dir: Path) -> float:
    """Residents on 30 June 2022 (mean of the register totals on 31 Dec 2021 and 2022)."""
    totals = data.register_totals(data_dir)
    return (totals["2021-12-31"] + totals["2022-12-31"]) / 2.0
