"""neworder reference of CityModel's demographic events, for benchmarking only.

A model written the way neworder's own ``people`` example is written: a ``neworder.Model`` on a
``neworder.LinearTimeline`` of yearly steps, the persons as rows of one pandas DataFrame
(index from ``neworder.df.unique_index``; columns age, sex, origin, hh = household id, role,
area), every random draw from the model's ``neworder.MonteCarlo`` stream (``mc.hazard`` for
Bernoulli trials, ``mc.sample`` for categorical draws, ``mc.ustream`` for uniforms), seeded
deterministically with the scenario's seed. A household is the set of persons sharing an
``hh`` id; its head's row carries the household's age group and area. The model reads only
plain inputs (numpy arrays, floats, dicts): ``reference_inputs`` builds them from the project
in one place, ``run_neworder`` runs the model on them and reports its timings.

Rules, per year, in CityModel's order (``p`` = person, ``h`` = household, group = adult age
group of the head: under 30, 30-64, 65+, as ``simulation.rates.adult_group``):
- ageing: every p one year older.
- deaths: p dies with min(1, death[sex, min(age, 100)] x mortality factor) (the year's life
  table); a household that loses its head gets the partner, else the oldest member, as head (a
  child who becomes head turns the remaining children into 'other'); a household without
  members no longer exists.
- births: every woman aged 12..55 gives birth with ASFR[age] x fertility factor; the baby is a
  boy with the year's share of boys; origin 'none' for a mother without migration background,
  else 'foreign' with the newborn foreign share, else 'german_mb'; it joins the mother's
  household and area, as 'child' if the mother is head or partner, else 'other'; it dies in its
  first year with death[sex, 0] x mortality factor (counted as birth and death).
- leave home: a 'child' aged >= leave_home_min_age leaves with leave_home_rate and heads a new
  one-person household in the same area.
- out-migration: h leaves the city with min(1, emigration_base x mobility_index[group]);
  emigration_base is CityModel's (scaled on the base population so that the expected persons
  leaving = out_migration.rate_per_1000 / 1000 x persons).
- in-migration: in_migration.persons_per_year (x the run's share of the city) persons arrive
  as copies (ages, sexes, origins, roles) of template households drawn with weight
  mobility_index[group] x migration_background_weights[origin of head] x family_weight (households with a
  member under 18), until the target is reached; each newcomer household goes to an area drawn
  in proportion to CityModel's newcomer weights. Since the weight depends only on (group,
  origin, with children), a template is drawn in two stages: the class with ``mc.sample``
  (weight x households in the class), then a household of the class uniformly (``mc.ustream``);
  this is the same distribution as one categorical draw over all households, which
  ``mc.sample`` (a linear scan of the cumulative weights per draw) would take seconds for.
- moves: h moves with min(1, move_rate x mobility_index[group]) to another area, drawn in
  proportion to the households living there at the start of the move event.

Simplifications against CityModel (and the plain Mesa reference):
- No dwellings: leaving home, newcomers and movers are never limited by free dwellings, so
  there are no unhoused immigrants and no mover stays for want of a dwelling; movers choose an
  area by its households (CityModel: by its free dwellings, which start as the same 2 % reserve
  everywhere; low-income movers weigh affordability). No housing event (new dwellings, rents,
  displacement), so no displaced emigrants or moves.
- No couple formation and no separation (not part of this reference's event list); no income
  class, no years at address, no services, volunteering, indicators or per-area records.
- Records: city-wide event counts only (births, deaths, emigrants and immigrants in persons,
  moves in persons moved, left home in persons). ``check()`` (run by neworder after every
  step, not timed) verifies one head and at most one partner per household and unique ids.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import neworder
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "baseline.toml"

# codes of the plain inputs (checked against simulation.vocabulary in reference_inputs)
FEMALE, MALE = 0, 1
NONE, GERMAN_MB, FOREIGN = 0, 1, 2
HEAD, PARTNER, CHILD, OTHER = 0, 1, 2, 3
MAX_AGE = 100  # rate tables end here; older ages use the last age
AGE_GROUP_EDGES = (30, 65)  # adult age groups of the mobility index: under 30, 30-64, 65+
DTYPES = {"age": np.int16, "sex": np.int8, "origin": np.int8, "hh": np.int64, "role": np.int8, "area": np.int16}
EVENTS = ("births", "deaths", "emigrants", "immigrants", "moves", "left_home")


def reference_inputs(years: int, scenario_path: str | Path = SCENARIO) -> dict:
    """Base population, rates and parameters of the next ``years`` years as plain numpy/dicts.

    The ONE place that reads the project: it builds a CityModel and copies what the neworder
    model needs out of it (no reference to the CityModel is kept): ``CityModel(scenario,
    load_inputs(scenario))``, with the rates and profiles on ``model.inputs``.
    """
    from mesa_reference import emigration_base, in_migration_volume

    from simulation import vocabulary
    from simulation.inputs import load_inputs
    from simulation.model import CityModel
    from simulation.rates import adult_group
    from simulation.scenario import load_scenario

    codes = (FEMALE, MALE, NONE, GERMAN_MB, FOREIGN, HEAD, PARTNER, CHILD, OTHER, MAX_AGE)
    if codes != (
        vocabulary.FEMALE,
        vocabulary.MALE,
        vocabulary.NONE,
        vocabulary.GERMAN_MB,
        vocabulary.FOREIGN,
        vocabulary.HEAD,
        vocabulary.PARTNER,
        vocabulary.CHILD,
        vocabulary.OTHER,
        vocabulary.MAX_AGE,
    ):
        raise RuntimeError("codes of simulation.vocabulary changed: update neworder_reference.py")
    if adult_group(np.array([29, 30, 64, 65])).tolist() != [0, 1, 1, 2]:
        raise RuntimeError("adult age groups of simulation.rates changed: update AGE_GROUP_EDGES")

    scenario = load_scenario(scenario_path)
    m = CityModel(scenario, load_inputs(scenario))
    rates = m.inputs  # rates_for, profiles and the city share
    s, p, h = m.config, m.population.persons, m.population.households
    base, share = int(m.year), float(rates.area_share_of_city)
    inputs = {
        "base_year": base,
        "seed": int(s.seed),
        "n_areas": len(m.area_names),
        "persons": {
            "age": p.age.copy(),
            "sex": p.sex.copy(),
            "origin": p.origin.copy(),
            "hh": h.hid[p.hh],
            "role": p.role.copy(),
            "area": h.area[p.hh],
        },
        "death": {},
        "fertility": {},
        "male_share": {},
        "in_migration": {},
        "newborn_foreign_share": float(rates.newborn_foreign_share),
        "mobility_index": np.asarray(rates.mobility_index, float).copy(),
        "emigration_base": emigration_base(m),
        "newcomer_weights": np.asarray(rates.newcomer_weights, float).copy(),
        "move_rate": float(s.mobility.move_rate),
        "leave_home_rate": float(s.households.leave_home_rate),
        "leave_home_min_age": int(s.households.leave_home_min_age),
    }
    for year in range(base + 1, base + years + 1):
        r = rates.rates_for(year)
        inputs["death"][year] = np.minimum(1.0, r.death.values * s.mortality.factor)
        inputs["fertility"][year] = r.fertility.values * s.fertility.factor
        inputs["male_share"][year] = float(r.male_share)
        year_in = s.in_migration_in(year)
        origins, family = year_in.migration_background_weights, year_in.family_weight
        inputs["in_migration"][year] = {
            "persons": in_migration_volume(m, year) * share,
            "family_weight": float(family),
            "migration_background_weights": np.array([origins[o] for o in vocabulary.ORIGINS], float),
        }
    return inputs


def _frame(index: np.ndarray, **columns) -> pd.DataFrame:
    """A persons DataFrame with the model's column types."""
    return pd.DataFrame({k: np.asarray(v).astype(DTYPES[k], copy=False) for k, v in columns.items()}, index=index)


class DemographyModel(neworder.Model):
    """The persons of the city as DataFrame rows; one step = one year (see the module docstring)."""

    def __init__(self, inputs: dict, years: int):
        base = inputs["base_year"]
        seed = int(inputs["seed"])
        super().__init__(neworder.LinearTimeline(base, base + years, years), lambda: seed)
        self.inputs = inputs
        cols = inputs["persons"]
        # household ids from the same generator as person ids, so new households never clash
        ids, row = np.unique(cols["hh"], return_inverse=True)
        hh = neworder.df.unique_index(len(ids))[row]
        self.population = _frame(
            neworder.df.unique_index(len(hh)),
            age=cols["age"],
            sex=cols["sex"],
            origin=cols["origin"],
            hh=hh,
            role=cols["role"],
            area=cols["area"],
        )
        self.year = base
        self.counts: dict[str, int] = {}
        self.history: dict[int, dict[str, int]] = {}
        self.year_s: list[float] = []
        self.persons = [len(self.population)]
        self.households = [int((self.population.role == HEAD).sum())]

    # ---- the year ------------------------------------------------------------------------------
    def step(self) -> None:
        t0 = time.perf_counter()
        self.year = round(self.timeline.time) + 1  # the step from t to t+1 simulates year t+1
        self.counts = dict.fromkeys(EVENTS, 0)
        self.ageing()
        self.deaths()
        self.births()
        self.leave_home()
        self.out_migration()
        self.in_migration()
        self.moves()
        self.year_s.append(time.perf_counter() - t0)
        self.history[self.year] = self.counts

    def check(self) -> bool:
        """One head and at most one partner per household, unique person ids (not timed)."""
        pop = self.population
        heads = pop.hh[pop.role == HEAD]
        ok = pop.index.is_unique and heads.is_unique and pop.hh[pop.role == PARTNER].is_unique and bool(pop.hh.isin(heads).all())
        if not ok:
            neworder.log(f"check failed in {self.year}: households without exactly one head or with two partners")
        self.persons.append(len(pop))
        self.households.append(len(heads))
        return ok

    def finalise(self) -> None:
        pass

    # ---- events -----------------------------------------------------------------------------------
    def ageing(self) -> None:
        self.population["age"] += 1

    def deaths(self) -> None:
        pop = self.population
        q = self.inputs["death"][self.year][pop.sex.to_numpy(), np.minimum(pop.age.to_numpy(), MAX_AGE)]
        dies = self.mc.hazard(q) == 1
        self.counts["deaths"] += int(dies.sum())
        self.population = pop[~dies]
        self._repair_heads()

    def _repair_heads(self) -> None:
        """Households whose head died: the partner, else the oldest member, becomes head."""
        pop = self.population
        orphaned = pop[~pop.hh.isin(pop.hh[pop.role == HEAD])]
        if orphaned.empty:
            return
        rank = (orphaned.role == PARTNER).astype(np.int64) * 1000 + orphaned.age
        new_heads = orphaned.assign(rank=rank).sort_values(["hh", "rank"], ascending=[True, False]).drop_duplicates("hh")
        child_heads = new_heads.hh[new_heads.role == CHILD]
        pop.loc[new_heads.index, "role"] = HEAD
        pop.loc[pop.hh.isin(child_heads) & (pop.role == CHILD), "role"] = OTHER  # siblings of the new head

    def births(self) -> None:
        pop, year, inp = self.population, self.year, self.inputs
        women = pop[(pop.sex == FEMALE) & (pop.age >= 12) & (pop.age <= 55)]
        mothers = women[self.mc.hazard(inp["fertility"][year][women.age.to_numpy()]) == 1]
        n = len(mothers)
        if n == 0:
            return
        sex = self.mc.hazard(inp["male_share"][year], n).astype(np.int8)  # 1 = MALE
        foreign = self.mc.hazard(inp["newborn_foreign_share"], n) == 1
        origin = np.where(mothers.origin.to_numpy() != NONE, np.where(foreign, FOREIGN, GERMAN_MB), NONE)
        role = np.where(mothers.role.isin((HEAD, PARTNER)).to_numpy(), CHILD, OTHER)
        dies = self.mc.hazard(inp["death"][year][sex, 0]) == 1
        self.counts["births"] += n
        self.counts["deaths"] += int(dies.sum())
        keep = ~dies
        newborns = _frame(
            neworder.df.unique_index(int(keep.sum())),
            age=np.zeros(int(keep.sum())),
            sex=sex[keep],
            origin=origin[keep],
            hh=mothers.hh.to_numpy()[keep],
            role=role[keep],
            area=mothers.area.to_numpy()[keep],
        )
        self.population = pd.concat((pop, newborns))

    def leave_home(self) -> None:
        pop, inp = self.population, self.inputs
        candidates = pop.index[(pop.role == CHILD) & (pop.age >= inp["leave_home_min_age"])]
        leavers = candidates[self.mc.hazard(inp["leave_home_rate"], len(candidates)) == 1]
        pop.loc[leavers, "hh"] = neworder.df.unique_index(len(leavers))
        pop.loc[leavers, "role"] = HEAD
        self.counts["left_home"] += len(leavers)

    def _heads(self) -> tuple[pd.DataFrame, np.ndarray]:
        """The head rows (one per household) and their adult age group."""
        heads = self.population[self.population.role == HEAD]
        return heads, np.digitize(heads.age.to_numpy(), AGE_GROUP_EDGES)

    def out_migration(self) -> None:
        pop, inp = self.population, self.inputs
        heads, group = self._heads()
        leaving = heads.hh[self.mc.hazard(np.minimum(1.0, inp["emigration_base"] * inp["mobility_index"][group])) == 1]
        gone = pop.hh.isin(leaving).to_numpy()
        self.counts["emigrants"] += int(gone.sum())
        self.population = pop[~gone]

    def in_migration(self) -> None:
        pop, inp = self.population, self.inputs
        spec = inp["in_migration"][self.year]
        target = round(spec["persons"])
        if target <= 0 or pop.empty:
            return
        heads, group = self._heads()
        size = heads.hh.map(pop.hh.value_counts()).to_numpy()
        with_children = heads.hh.isin(pop.hh[pop.age < 18]).to_numpy()
        # template classes: (group, origin of head, with children); weight depends only on the class
        cls = (group * 3 + heads.origin.to_numpy()) * 2 + with_children
        n_cls = 3 * 3 * 2
        k = np.arange(n_cls)
        g, o, c = k // 6, (k // 2) % 3, k % 2
        weight = inp["mobility_index"][g] * spec["migration_background_weights"][o] * np.where(c == 1, spec["family_weight"], 1.0)
        households = np.bincount(cls, minlength=n_cls)
        persons = np.bincount(cls, weights=size, minlength=n_cls)
        mean_size = (weight * persons).sum() / (weight * households).sum()
        n_draw = int(target / mean_size * 1.2) + 10
        drawn_cls = self.mc.sample(n_draw, weight * households / (weight * households).sum())
        by_cls = np.argsort(cls, kind="stable")
        first = np.cumsum(households) - households
        draws = by_cls[first[drawn_cls] + (self.mc.ustream(n_draw) * households[drawn_cls]).astype(np.int64)]
        templates = draws[: int(np.searchsorted(np.cumsum(size[draws]), target)) + 1]
        dest = self.mc.sample(len(templates), inp["newcomer_weights"] / inp["newcomer_weights"].sum())
        drawn = pd.DataFrame({"hh": heads.hh.to_numpy()[templates], "new_hh": neworder.df.unique_index(len(templates)), "new_area": dest})
        members = pop.loc[pop.hh.isin(drawn.hh), ["hh", "age", "sex", "origin", "role"]]
        copies = drawn.merge(members, on="hh")  # a household drawn twice is copied twice
        newcomers = _frame(
            neworder.df.unique_index(len(copies)),
            age=copies.age,
            sex=copies.sex,
            origin=copies.origin,
            hh=copies.new_hh,
            role=copies.role,
            area=copies.new_area,
        )
        self.counts["immigrants"] += len(newcomers)
        self.population = pd.concat((pop, newcomers))

    def moves(self) -> None:
        pop, inp = self.population, self.inputs
        heads, group = self._heads()
        movers = heads[self.mc.hazard(np.minimum(1.0, inp["move_rate"] * inp["mobility_index"][group])) == 1]
        weight = np.bincount(heads.area.to_numpy(), minlength=inp["n_areas"]).astype(float)
        origin = movers.area.to_numpy()
        dest = np.empty(len(movers), np.int64)
        for area in np.unique(origin):  # another area, in proportion to its households
            w = weight.copy()
            w[area] = 0.0
            here = origin == area
            dest[here] = self.mc.sample(int(here.sum()), w / w.sum())
        new_area = pd.Series(dest.astype(DTYPES["area"]), index=movers.hh.to_numpy())
        moving = pop.hh.isin(new_area.index)
        pop.loc[moving, "area"] = pop.hh[moving].map(new_area).to_numpy()
        self.counts["moves"] += int(moving.sum())


def run_neworder(inputs: dict, years: int) -> dict:
    """Build the model from ``inputs`` (set-up) and run it for ``years`` years with ``neworder.run``.

    Simulation seconds are the wall time of the ``step()`` calls; ``run_s`` adds neworder's loop
    and the untimed ``check()`` after every step. Peak RSS is the process's high-water mark.
    """
    t0 = time.perf_counter()
    model = DemographyModel(inputs, years)
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ok = neworder.run(model)
    run_s = time.perf_counter() - t0
    if not ok:
        raise RuntimeError("the neworder model's check() failed")
    simulation_s = sum(model.year_s)
    return {
        "years": years,
        "setup_s": setup_s,
        "simulation_s": simulation_s,
        "per_year_s": simulation_s / max(years, 1),
        "year_s": model.year_s,
        "run_s": run_s,
        "persons": model.persons,
        "households": model.households,
        "events": model.history,
        "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "neworder_version": neworder.__version__,
        "seed": int(inputs["seed"]),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the neworder reference on the baseline city and print its figures.")
    parser.add_argument("--years", type=int, default=2)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    inputs = reference_inputs(args.years)
    print(f"inputs built in {time.perf_counter() - t0:.1f} s")
    print(json.dumps(run_neworder(inputs, args.years), indent=2))


if __name__ == "__main__":
    main()
