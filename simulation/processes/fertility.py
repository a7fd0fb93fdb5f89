"""Births: women bear a child with the age-specific fertility rate of the year.

Rule: Bernoulli(ASFR(age) x factor) for every woman (Destatis 12612-0008, year-of-birth
method, so the age is the one reached in the year). The newborn joins the mother's household
(as child of its head or partner, else as 'other'); sex from the share of boys among German
births (12612-0001); origin: 'none' for a mother without migration background, otherwise
'foreign' with the 2012 share of foreigners among young children with migration background,
else 'german_mb'. Newborns then die in their first year with 1 - L(0)/l(0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.population import Population
from simulation.rates import RateTable
from simulation.vocabulary import CHILD, FEMALE, FOREIGN, GERMAN_MB, HEAD, NONE, OTHER, PARTNER

FIRST_AGE, LAST_AGE = 12, 55  # ages at which women bear children


@dataclass(frozen=True)
class Newborns:
    mother: np.ndarray  # person rows
    sex: np.ndarray
    origin: np.ndarray
    role: np.ndarray
    dies: np.ndarray  # dies before 31 Dec
    draw: np.ndarray  # fixed random number of each surviving newborn (uint32)


def draw_births(
    pop: Population,
    asfr: RateTable,
    factor: float,
    male_share: float,
    foreign_share: float,
    infant_death: np.ndarray,
    rng: np.random.Generator,
) -> Newborns:
    p = pop.persons
    women = np.flatnonzero((p.sex == FEMALE) & (p.age >= FIRST_AGE) & (p.age <= LAST_AGE))
    chance = asfr.lookup(np.arange(LAST_AGE + 1)) * factor  # by age
    mothers = women.compress(rng.random(len(women)) < chance.take(p.age.take(women)))
    n = len(mothers)
    sex = (rng.random(n) < male_share).astype(np.int8)
    migrant_mother = p.origin[mothers] != NONE
    foreign = rng.random(n) < foreign_share
    origin = np.where(migrant_mother, np.where(foreign, FOREIGN, GERMAN_MB), NONE).astype(np.int8)
    parent = np.isin(p.role[mothers], (HEAD, PARTNER))
    role = np.where(parent, CHILD, OTHER).astype(np.int8)
    dies = rng.random(n) < infant_death[sex]
    draw = rng.integers(0, 2**32, int((~dies).sum()), dtype=np.uint32)
    return Newborns(mothers, sex, origin, role, dies, draw)
