"""Population synthesis: persons from the base-year cells, grouped into households.

Persons are the base cells exactly (area, single age, sex, origin). Households are formed per
area from the city's household statistics of 30 June 2022 (``frankfurt_households_2022.csv``);
per-person figures refer to the statistics' own population (persons in private households,
221,064 living alone = 28.6 % of them, so 772,951 persons in 415,326 households):

1. Families with minors: children under 18 per family = 130,814 / 78,723; one-child families
   39,748 of 78,723; among larger families the number of children beyond two follows a
   geometric shape whose mean matches the data (shape assumed). Children of an area are grouped
   into families by age plus a random jitter of up to ``SIBLING_SPREAD`` years, within two
   strata (without / with migration background) so that parents and children share it.
   Single parents: 11,686 of the 39,748 one-child families and 6,268 of the 38,975 larger ones
   (17,954 of 78,723), 90.9 % mothers; the rest are couples.
   Parents are drawn without replacement from the area's adults of the stratum with weight
   proportional to having a child under 18 at that age (sum of the base year's ASFR over the
   last 18 years), then paired with the families by rank of age (oldest child to oldest parent).
2. Young adults still living with their parents, as the leave-home event leaves them: of the
   area's own cohort (mean persons per year of age 12-17) a share (1 - leave_home_rate) **
   (a - min_age + 1) is still at home at age a (scenario assumption); they join a household of
   their area whose head is 18 to 45 years older, households with minors weighted
   ``AT_HOME_FAMILY_WEIGHT`` (fitted), after all households are formed.
3. People living alone: 28.6 % of the population; their age split (<=34, 35-44, 45-64, 65+)
   gives the number living alone by age band; flat within a band, rising with widowhood in the
   oldest (see ``_alone_probability``).
4. Remaining adults: a share lives in 'other' multi-person households (flat shares; mean size
   from the size distribution, Poisson shape assumed), the rest pair up as couples by rank of
   age within the area; who finds no partner of the other sex in the area lives in an 'other'
   household too. The share is set so that the city has the data's households per person
   (415,326 per 772,951).
5. Income class: households receive minimum-income benefits ('low') with a probability
   proportional to a relative risk by the head's origin group (scenario assumption), scaled so
   that the share of persons equals the city's 11.6 % (31 Dec 2022).
6. Years at address: from the share of adults with residence duration < 5 and >= 15 years
   per area and age group (Stadtteil profile 2012).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulation import population
from simulation.vocabulary import CHILD, FEMALE, HEAD, LOW, MALE, MAX_AGE, NONE, NOT_LOW, ORIGINS, OTHER, PARTNER

SIBLING_SPREAD = 6  # years of jitter when grouping children into families; an assumption
# Young adults still at home go, per household, AT_HOME_FAMILY_WEIGHT times as often into a
# household with minors (as older siblings) as into one without. FITTED to the household sizes
# of 30 June 2022 (two-, three-, four-plus-person households): 1 puts too many into couples
# without minors (3-person households +21 %, 2-person -12 %); 5 brings each within 2 %. See
# scenarios/baseline.toml [households].
AT_HOME_FAMILY_WEIGHT = 5.0


@dataclass(frozen=True)
class HouseholdFacts:
    """City household statistics used by the synthesiser (from frankfurt_households_2022.csv).

    Per-person figures refer to the statistics' own population: the persons in private households
    (main and secondary residence), 221,064 / 28.6 % = 772,951 on 30 June 2022, which is
    ``register_ratio`` (1.6 %) more than the register's residents with main residence.
    """

    children_per_family: float
    one_child_share: float
    extra_child_ratio: float  # r of the geometric tail P(k = 2 + j) ~ r**j
    single_parent_share: float
    single_parent_share_one_child: float  # among families with one minor
    single_parent_share_more_children: float  # among families with two or more
    single_parent_mother_share: float
    alone_share_of_persons: float
    alone_age_shares: dict  # band -> share of persons living alone
    households_per_person: float
    other_mean_size: float
    register_ratio: float  # persons in the household statistics / register residents (mid-2022)

    @classmethod
    def from_table(cls, facts: dict, population_mid_2022: float) -> "HouseholdFacts":
        f = {k[1]: v for k, v in facts.items() if k[0] == "2022-06-30"}
        families = f["families_with_minors"]
        minors = f["minor_children_in_families"]
        one_child = f["one_child_families"]
        mean_tail = (minors - one_child) / (families - one_child)  # mean children in 2+ families
        r = (mean_tail - 2.0) / (mean_tail - 1.0)
        alone = f["one_person_households"]
        persons = alone / (f["one_person_share_of_population_pct"] / 100.0)
        family_persons = minors + 2 * f["couple_families_with_minors"] + f["single_parent_households"]
        rest_persons = persons - alone - family_persons
        # two-person households without minors are taken to be couples (assumption); the other
        # multi-person households without minors are 'other'
        two_person_families = f["one_child_single_parent_families"]
        couples = f["two_person_households"] - two_person_families
        other_households = f["private_households"] - alone - families - couples
        other_persons = rest_persons - 2 * couples
        return cls(
            children_per_family=minors / families,
            one_child_share=one_child / families,
            extra_child_ratio=r,
            single_parent_share=f["single_parent_households"] / families,
            single_parent_share_one_child=f["one_child_single_parent_families"] / one_child,
            single_parent_share_more_children=(f["single_parent_households"] - f["one_child_single_parent_families"])
            / (families - one_child),
            single_parent_mother_share=f["single_parents_mothers_pct"] / 100.0,
            alone_share_of_persons=alone / persons,
            alone_age_shares={
                (18, 34): f["one_person_share_age_to_34_pct"] / 100.0,
                (35, 44): f["one_person_share_age_35_44_pct"] / 100.0,
                (45, 64): f["one_person_share_age_45_64_pct"] / 100.0,
                (65, 200): f["one_person_share_age_65_plus_pct"] / 100.0,
            },
            households_per_person=f["private_households"] / persons,
            other_mean_size=other_persons / other_households,
            register_ratio=persons / population_mid_2022,
        )


@dataclass(frozen=True)
class SynthesisInputs:
    facts: HouseholdFacts
    parent_weight: np.ndarray  # by age 0..MAX_AGE: relative chance of having a child under 18
    duration: pd.DataFrame  # area, age_group, lt5, ge15, persons (adults)
    low_income_share: float  # share of persons in low-income households
    low_income_relative_risk: tuple[float, float, float]  # by head origin none/german_mb/foreign
    low_income_area_risk: np.ndarray  # by area (``area_income_risk``)
    leave_home_rate: float  # annual hazard of leaving the parental home (scenario assumption)
    leave_home_min_age: int
    survivors: np.ndarray  # (sex, age) survivors l(x) of the base year's life table, city mortality factor applied


def parent_weight_from_asfr(asfr_per_1000: np.ndarray) -> np.ndarray:
    """w(x) = sum of ASFR over ages x-17..x: chance that a woman of age x has a child under 18."""
    w = np.zeros(MAX_AGE + 1)
    for x in range(MAX_AGE + 1):
        lo = max(0, x - 17)
        w[x] = asfr_per_1000[lo : x + 1].sum()
    return w


def _expand_cells(cells: pd.DataFrame, area_names: list[str]) -> dict[str, np.ndarray]:
    reps = cells["persons"].to_numpy()
    area_index = {a: i for i, a in enumerate(area_names)}
    return {
        "area": np.repeat(cells["area"].map(area_index).to_numpy(), reps).astype(np.int16),
        "age": np.repeat(cells["age"].to_numpy(), reps).astype(np.int16),
        "sex": np.repeat((cells["sex"] == "male").to_numpy(), reps).astype(np.int8),
        "origin": np.repeat(cells["origin"].map({o: i for i, o in enumerate(ORIGINS)}).to_numpy(), reps).astype(np.int8),
    }


def _weighted_sample(rng, pool: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """k items of ``pool`` without replacement, chance proportional to weights (all if k >= len)."""
    positive = weights > 0
    pool, weights = pool[positive], weights[positive]
    if k >= len(pool):
        return pool
    if k <= 0:
        return pool[:0]
    # Efraimidis-Spirakis keys: one uniform draw per candidate
    keys = np.log(rng.random(len(pool))) / weights
    return pool[np.argpartition(-keys, k - 1)[:k]]


def _family_sizes(rng, n_children: int, facts: HouseholdFacts) -> np.ndarray:
    """Numbers of children per family that add up to n_children exactly."""
    if n_children == 0:
        return np.zeros(0, np.int64)
    draws = np.where(rng.random(n_children) < facts.one_child_share, 1, 2 + rng.geometric(1 - facts.extra_child_ratio, n_children) - 1)
    total = np.cumsum(draws)
    n = int(np.searchsorted(total, n_children) + 1)
    sizes = draws[:n].copy()
    sizes[-1] -= total[n - 1] - n_children
    return sizes


class _Builder:
    """Collects households and member roles while the synthesiser assigns persons."""

    def __init__(self, n_persons: int):
        self.hh = np.full(n_persons, -1, np.int32)
        self.role = np.full(n_persons, OTHER, np.int8)
        self.area: list[int] = []

    def new(self, area: int, n: int) -> np.ndarray:
        start = len(self.area)
        self.area.extend([area] * n)
        return np.arange(start, start + n)

    def put(self, persons: np.ndarray, households: np.ndarray, role: int) -> None:
        self.hh[persons] = households
        self.role[persons] = role


def synthesize(cells: pd.DataFrame, area_names: list[str], inputs: SynthesisInputs, rng: np.random.Generator) -> population.Population:
    """Build the base-year population from person cells (see module docstring for the rules)."""
    people = _expand_cells(cells, area_names)
    n = len(people["age"])
    b = _Builder(n)
    facts = inputs.facts
    age, sex, origin, area = people["age"], people["sex"], people["origin"], people["area"]
    adult = age >= 18
    migrant = origin != NONE
    pw = inputs.parent_weight

    for a in range(len(area_names)):
        in_area = area == a
        free_adults = in_area & adult
        for stratum in (False, True):
            kids = np.flatnonzero(in_area & ~adult & (migrant == stratum))
            if len(kids) == 0:
                continue
            sizes = _family_sizes(rng, len(kids), facts)
            jitter = age[kids] + rng.random(len(kids)) * SIBLING_SPREAD
            kids = kids[np.argsort(-jitter, kind="stable")]
            fam = b.new(a, len(sizes))
            fam_of_kid = np.repeat(fam, sizes)
            b.put(kids, fam_of_kid, CHILD)
            eldest_age = age[kids[np.concatenate([[0], np.cumsum(sizes)[:-1]])]]
            single = rng.random(len(sizes)) < np.where(
                sizes == 1, facts.single_parent_share_one_child, facts.single_parent_share_more_children
            )
            mother_led = ~single | (rng.random(len(sizes)) < facts.single_parent_mother_share)
            for parent_sex, need, role in ((FEMALE, mother_led, HEAD), (MALE, ~mother_led, HEAD), (MALE, mother_led & ~single, PARTNER)):
                fams = np.flatnonzero(need)
                chosen = _pick_parents(rng, free_adults, migrant, stratum, sex, parent_sex, age, pw, len(fams))
                fams = fams[np.argsort(eldest_age[fams], kind="stable")][: len(chosen)]
                chosen = chosen[np.argsort(age[chosen], kind="stable")]
                b.put(chosen, fam[fams], role)
                free_adults[chosen] = False
    at_home = _still_at_home(rng, age, area, adult & (b.hh == -1), inputs.leave_home_rate, inputs.leave_home_min_age, len(area_names))
    free = adult & (b.hh == -1) & ~at_home
    alone = free & (rng.random(n) < _alone_probability(age, sex, free, facts, inputs.survivors)[sex, age])
    rest = free & ~alone
    surplus = _sex_surplus(area, sex, rest, len(area_names))
    share = _other_share(facts, n, len(b.area), int(alone.sum()), int(rest.sum()), int(surplus.sum()))
    for a in range(len(area_names)):
        in_area = area == a
        _form_adult_households(
            rng, b, a, np.flatnonzero(alone & in_area), np.flatnonzero(rest & in_area), age, sex, share, facts.other_mean_size
        )
    _join_parents(rng, b, np.flatnonzero(at_home), age, area, AT_HOME_FAMILY_WEIGHT)
    assert (b.hh >= 0).all(), "every person is placed in a household"
    return _assemble(people, b, inputs, area_names, rng)


def _still_at_home(rng, age: np.ndarray, area: np.ndarray, candidates: np.ndarray, rate: float, min_age: int, n_areas: int) -> np.ndarray:
    """Adults who still live with their parents, as the leave-home event would leave them.

    Every minor lives with a parent; from ``min_age`` on a child leaves with ``rate`` a year. So of
    a cohort of the area's own children, (1 - rate) ** (a - min_age + 1) are still at home at age
    a. The cohort is the area's mean number of persons per year of age in the six years below
    ``min_age``; young adults beyond it (in-migrants to the city) live on their own. Chance for a
    candidate of age a: expected number at home / candidates of that age and area (at most 1).
    """
    ages = MAX_AGE + 1
    cohort = np.bincount(area[(age >= min_age - 6) & (age < min_age)], minlength=n_areas) / 6.0
    years_exposed = np.maximum(np.arange(ages) - min_age + 1, 0)
    expected = cohort[:, None] * np.where(np.arange(ages) >= min_age, (1.0 - rate) ** years_exposed, 0.0)[None, :]
    key = area.astype(np.int64) * ages + age
    available = np.bincount(key[candidates], minlength=n_areas * ages).reshape(n_areas, ages)
    chance = np.divide(expected, available, out=np.zeros_like(expected), where=available > 0).clip(max=1.0).ravel()
    return candidates & (rng.random(len(age)) < chance[key])


def _join_parents(rng, b: _Builder, young: np.ndarray, age: np.ndarray, area: np.ndarray, family_weight: float) -> None:
    """Put each young adult as 'child' into a family or couple household of the area whose head is
    18-45 years older, households with minors weighted ``family_weight`` against 1 for the others;
    with none, the person lives alone."""
    placed = np.flatnonzero(b.hh >= 0)
    hh_area = np.asarray(b.area, np.int64)
    head_age = np.zeros(len(hh_area), np.int64)
    heads = placed[b.role[placed] == HEAD]
    head_age[b.hh[heads]] = age[heads]
    shared = np.zeros(len(hh_area), bool)  # flat shares and people living alone take no children
    shared[b.hh[placed[b.role[placed] == OTHER]]] = True
    shared |= np.bincount(b.hh[placed], minlength=len(hh_area)) == 1
    minors = np.bincount(b.hh[placed[age[placed] < 18]], minlength=len(hh_area)) > 0
    weight = np.where(minors, family_weight, 1.0)
    for a in np.unique(area[young]):
        mine = young[area[young] == a]
        cand = np.flatnonzero((hh_area == a) & ~shared & (head_age > 0))
        cand = cand[np.argsort(head_age[cand], kind="stable")]
        lo = np.searchsorted(head_age[cand], age[mine].astype(np.int64) + 18, side="left")
        hi = np.searchsorted(head_age[cand], age[mine].astype(np.int64) + 45, side="right")
        ok = hi > lo
        cum = np.concatenate([[0.0], np.cumsum(weight[cand])])
        target = cum[lo] + rng.random(len(mine)) * (cum[hi] - cum[lo])
        pick = np.clip(np.searchsorted(cum, target, side="right") - 1, lo, np.maximum(hi - 1, lo))
        b.put(mine[ok], cand[pick[ok]], CHILD)
        b.put(mine[~ok], b.new(int(a), int((~ok).sum())), HEAD)


def _pick_parents(rng, free_adults, migrant, stratum, sex, parent_sex, age, pw, k):
    if k == 0:
        return np.zeros(0, np.int64)
    pool = np.flatnonzero(free_adults & (sex == parent_sex) & (migrant == stratum))
    chosen = _weighted_sample(rng, pool, pw[age[pool]], k)
    if len(chosen) < k:  # too few parents in the stratum: borrow from the other one
        other = np.flatnonzero(free_adults & (sex == parent_sex) & (migrant != stratum))
        chosen = np.concatenate([chosen, _weighted_sample(rng, other, pw[age[other]], k - len(chosen))])
    return chosen


def _alone_probability(
    age: np.ndarray, sex: np.ndarray, free: np.ndarray, facts: HouseholdFacts, partner_survival: np.ndarray
) -> np.ndarray:
    """Probability of living alone by sex and single age (shape (2, MAX_AGE + 1)) for adults not
    in a family.

    Persons alone in a band = share of persons alone x the band's share of them x population. In
    the bands below the oldest the chance is flat: that number / the band's adults not already
    placed. In the oldest band (65+) living alone grows with widowhood: chance(sex, a) =
    c + beta x w(sex, a), c the chance of the band below, w = 1 - l(a) / l(first age of the band)
    with l the survivors of the other sex in the base year's life table (``partner_survival``):
    the chance that a partner of the same age has died since; beta sets the band's number. The
    same life table then widows the couples of the projection (processes/mortality.py), so the
    base year's mix of old people living alone and in couples is one the projection keeps,
    instead of drifting from it in the first years.
    """
    total_alone = facts.alone_share_of_persons * len(age)
    n_ages = MAX_AGE + 1
    free_by = np.stack([np.bincount(age[free & (sex == s)], minlength=n_ages) for s in (FEMALE, MALE)]).astype(float)
    prob = np.zeros((2, n_ages))
    bands = sorted(facts.alone_age_shares.items())
    for i, ((lo, hi), share) in enumerate(bands):
        hi = min(hi, MAX_AGE)
        target = total_alone * share
        counts = free_by[:, lo : hi + 1]
        if counts.sum() == 0:
            continue
        if i < len(bands) - 1 or lo == 0:
            prob[:, lo : hi + 1] = min(1.0, target / counts.sum())
            continue
        partner = partner_survival[::-1, lo : hi + 1]  # the other sex's survivors
        widowed = np.clip(1.0 - partner / partner[:, :1], 0.0, 1.0)
        c = prob[:, lo - 1 : lo] if lo > 0 else np.zeros((2, 1))
        lo_beta, hi_beta = -1.0, 1.0 / max(float(widowed.max()), 1e-9) + 1.0
        for _ in range(60):
            beta = 0.5 * (lo_beta + hi_beta)
            if (counts * np.clip(c + beta * widowed, 0.0, 1.0)).sum() < target:
                lo_beta = beta
            else:
                hi_beta = beta
        prob[:, lo : hi + 1] = np.clip(c + 0.5 * (lo_beta + hi_beta) * widowed, 0.0, 1.0)
    return prob


def _sex_surplus(area: np.ndarray, sex: np.ndarray, persons: np.ndarray, n_areas: int) -> np.ndarray:
    """Per area: persons of the larger sex among ``persons`` (a mask) who find no partner of the other."""
    women = np.bincount(area[persons & (sex == FEMALE)], minlength=n_areas)
    men = np.bincount(area[persons & (sex == MALE)], minlength=n_areas)
    return np.abs(women - men)


def _other_share(facts: HouseholdFacts, persons: int, households_so_far: int, singles: int, rest: int, surplus: int) -> float:
    """Share of the remaining adults (beyond those without a partner of the other sex in their
    area, who live in 'other' households anyway) who live in 'other' households; the rest live as
    couples.

    Chosen so that the city has the data's households per person: with x persons in 'other'
    households of mean size m and the rest in couples, x/m + (rest - x)/2 households are needed
    on top of the families and people living alone.
    """
    if rest <= surplus:
        return 0.0
    needed = facts.households_per_person * persons - households_so_far - singles
    x = (rest / 2.0 - needed) / (0.5 - 1.0 / facts.other_mean_size)
    return float(np.clip((x - surplus) / (rest - surplus), 0.0, 1.0))


def _group_sizes(rng, n: int, mean: float) -> np.ndarray:
    """Sizes of 'other' households: 3 + Poisson(mean - 3) (2 + Poisson(mean - 2) for a mean below
    3), cut so that they add up to n."""
    if n == 0:
        return np.zeros(0, np.int64)
    least = 3 if mean >= 3.0 else 2
    sizes = least + rng.poisson(max(mean - least, 0.0), n)
    total = np.cumsum(sizes)
    k = int(np.searchsorted(total, n)) + 1
    sizes = sizes[:k].copy()
    sizes[-1] -= total[k - 1] - n
    if k > 1 and sizes[-1] < 2:  # no one-person remainder: add it to the previous household
        sizes[-2] += sizes[-1]
        sizes = sizes[:-1]
    return sizes


def _form_adult_households(
    rng, b: _Builder, area: int, singles: np.ndarray, rest: np.ndarray, age, sex, other_share: float, other_mean_size: float
) -> None:
    """People living alone, couples paired by rank of age, and 'other' households (flat shares):
    a share of ``rest`` and whoever finds no partner of the other sex in the area (a lone
    remainder lives alone)."""
    in_other = rng.random(len(rest)) < other_share
    pairable = rest[~in_other]
    women = rng.permutation(pairable[sex[pairable] == FEMALE])
    men = rng.permutation(pairable[sex[pairable] == MALE])
    k = min(len(women), len(men))
    w, m = women[:k], men[:k]
    w, m = w[np.argsort(age[w], kind="stable")], m[np.argsort(age[m], kind="stable")]
    couples = b.new(area, k)
    b.put(m, couples, HEAD)
    b.put(w, couples, PARTNER)
    others = rng.permutation(np.concatenate([rest[in_other], women[k:], men[k:]]))
    if len(others) == 1:
        singles = np.concatenate([singles, others])
    elif len(others):
        sizes = _group_sizes(rng, len(others), other_mean_size)
        b.put(others, np.repeat(b.new(area, len(sizes)), sizes), OTHER)
        b.role[others[np.concatenate([[0], np.cumsum(sizes)[:-1]])]] = HEAD
    b.put(singles, b.new(area, len(singles)), HEAD)


def _assemble(people: dict, b: _Builder, inputs: SynthesisInputs, area_names: list[str], rng) -> population.Population:
    n_hh = len(b.area)
    persons = population.empty_persons(len(b.hh))
    persons.age[:], persons.sex[:], persons.origin[:], persons.hh[:], persons.role[:] = (
        people["age"],
        people["sex"],
        people["origin"],
        b.hh,
        b.role,
    )
    persons.draw[:] = rng.integers(0, 2**32, len(b.hh), dtype=np.uint32)
    households = population.empty_households(n_hh)
    households.hid[:] = np.arange(n_hh)
    households.area[:] = b.area
    pop = population.Population(persons=persons, households=households, n_areas=len(area_names), next_pid=len(b.hh), next_hid=n_hh)
    # families whose parents could not be found (too few adults of that age in the area)
    # get the oldest child as head, like a household whose head died
    pop._repair_heads()
    # persons ordered by household for locality
    pop.order_persons_by_household()
    head = pop.head_row()
    head_origin = pop.persons.origin[head]
    pop.households.income[:] = assign_income(
        rng,
        pop.size(),
        head_origin,
        inputs.low_income_share,
        inputs.low_income_relative_risk,
        inputs.low_income_area_risk[pop.households.area],
    )
    pop.households.years[:] = draw_years_at_address(rng, pop.persons.age[head], pop.households.area, inputs.duration, area_names)
    return pop


def area_income_risk(
    persons_by_origin: pd.DataFrame, living_space: pd.Series, observed: dict[str, float], relative_risk
) -> tuple[pd.Series, float]:
    """Relative risk of low income by Stadtteil: (living space per resident) ** -b, normalised to a
    person-weighted mean of 1 (crowding goes with poverty: less space per person, more
    households on minimum income).

    b is set so that two Stadtteile of ``observed`` (SGB II recipients per 1,000 inhabitants: the
    lowest and the highest of the city) differ as observed once the origin mix of their residents
    (``persons_by_origin``: area x origin, risk ``relative_risk`` by origin) is taken into account:
    ratio = origin ratio x (space ratio) ** b. As they are the city's extremes, no Stadtteil's
    risk (origin mix included) goes beyond theirs: the power law would otherwise carry the most
    crowded Stadtteil (Griesheim, 28.5 m2) to twice Fechenheim's share. Without two such areas
    in the data: b = 0 (the risk differs by origin only). Returns (risk per area of
    ``living_space``, b)."""
    names = [a for a in observed if a in persons_by_origin.index and a in living_space.index]
    risk = pd.Series(1.0, index=living_space.index)
    b = 0.0
    if len(names) >= 2:
        low, high = min(names, key=observed.get), max(names, key=observed.get)
        rr = np.asarray(relative_risk, float)
        by_origin = persons_by_origin.reindex(living_space.index).fillna(0.0)
        origin_risk = pd.Series(
            (by_origin.to_numpy(float) @ rr) / np.maximum(by_origin.sum(axis=1).to_numpy(float), 1.0), index=living_space.index
        )
        wanted = np.log(observed[high] / observed[low]) - np.log(origin_risk[high] / origin_risk[low])
        b = max(0.0, float(wanted / np.log(living_space[low] / living_space[high])))
        combined = origin_risk * living_space.astype(float) ** -b
        combined = combined.clip(combined[low], combined[high])
        risk = combined / origin_risk.where(origin_risk > 0, 1.0)
    weight = persons_by_origin.sum(axis=1).reindex(living_space.index).fillna(0.0).to_numpy(float)
    return risk / (float(risk.to_numpy() @ weight) / max(weight.sum(), 1e-12)), b


def assign_income(rng, size: np.ndarray, head_origin: np.ndarray, share: float, relative_risk, area_risk: np.ndarray) -> np.ndarray:
    """'low' with probability min(1, alpha * rr[origin] * area_risk); alpha solves sum(size * p) = share * persons."""
    rr = np.asarray(relative_risk, float)[head_origin] * area_risk
    target = share * size.sum()
    lo, hi = 0.0, 1.0 / max(rr.min(), 1e-9)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if (size * np.minimum(1.0, mid * rr)).sum() < target:
            lo = mid
        else:
            hi = mid
    p = np.minimum(1.0, 0.5 * (lo + hi) * rr)
    return np.where(rng.random(len(size)) < p, LOW, NOT_LOW).astype(np.int8)


def draw_years_at_address(rng, head_age: np.ndarray, area: np.ndarray, duration: pd.DataFrame, area_names: list[str]) -> np.ndarray:
    """Years at address from the area's shares of adults living there < 5, 5-14 and >= 15 years."""
    groups = {"18-29": (18, 29), "30-64": (30, 64), "65+": (65, 10_000)}
    p_lt5 = np.zeros((len(area_names), 3))
    p_ge15 = np.zeros((len(area_names), 3))
    for g, group in enumerate(groups):
        sub = duration[duration["age_group"] == group].set_index("area")
        for a, name in enumerate(area_names):
            p_lt5[a, g] = sub.loc[name, "lt5"] / sub.loc[name, "persons"]
            p_ge15[a, g] = sub.loc[name, "ge15"] / sub.loc[name, "persons"]
    g_index = np.digitize(np.maximum(head_age, 18), [30, 65])
    u = rng.random(len(head_age))
    lt5 = u < p_lt5[area, g_index]
    ge15 = u >= 1.0 - p_ge15[area, g_index]
    years = np.where(lt5, rng.integers(0, 5, len(u)), rng.integers(5, 15, len(u)))
    longest = np.maximum(head_age.astype(np.int64) - 18, 15)
    years = np.where(ge15, 15 + (rng.random(len(u)) * (longest - 14)).astype(np.int64), years)
    return years.astype(np.int16)
