"""Helpers shared by the event processes (processes never import one another, only this)."""

from __future__ import annotations

import numpy as np
from numba import njit

from simulation.population import Population, unsigned


def free_dwellings(dwellings: np.ndarray, pop: Population) -> np.ndarray:
    """Dwellings per area not occupied by a household (negative where over-occupied)."""
    return dwellings - pop.households_per_area()


@njit(cache=True)
def persons_by(hh: np.ndarray, household_key: np.ndarray, person_key: np.ndarray, n_household_keys: int, n_person_keys: int) -> np.ndarray:
    """Persons per (key of their household, their own key), shape (n_household_keys,
    n_person_keys): e.g. residents per area and origin group, or per household class and single
    age. ``hh``: each person's household row; ``household_key``: per household row;
    ``person_key``: per person, the last key counting every key above it (an open age). Persons
    of households with a key of ``n_household_keys`` or more are not counted."""
    # rows and keys are never negative: read unsigned, the lookups need no check for a negative index
    hh, household_key, person_key = unsigned(hh), unsigned(household_key), unsigned(person_key)
    counts = np.zeros((n_household_keys, n_person_keys), np.int64)
    last = n_person_keys - 1
    for i in range(len(hh)):
        key = household_key[hh[i]]
        if key < n_household_keys:
            counts[key, min(person_key[i], last)] += 1
    return counts


@njit(cache=True)
def households_with_member(hh: np.ndarray, age: np.ndarray, lo: int, hi: int, n_households: int) -> np.ndarray:
    """Per household (uint8): has a member aged lo to hi."""
    has = np.zeros(n_households, np.uint8)
    if hi < lo or lo > 32767:  # an empty range, or one above every age (ages are int16)
        return has
    hh = unsigned(hh)  # rows are never negative: the lookup needs no check for a negative index
    # ages are never negative: below lo, age - lo wraps around to above 32767 >= width
    width = np.uint16(min(hi - lo, 32767))
    for i in range(len(hh)):
        # branchless (members of an age range are scattered over the rows: a branch mispredicts)
        has[hh[i]] |= np.uint8(np.uint16(age[i] - lo) <= width)
    return has


@njit(cache=True)
def pairwise_sum(x: np.ndarray) -> float:
    """The sum of ``x`` as numpy's ``sum`` adds it up (pairwise summation: below 8 entries one by
    one; up to 128 in eight running sums over the entries, combined pairwise, then the rest one
    by one; longer ones split in two halves of a multiple of 8), to the last bit."""
    n = len(x)
    if n < 8:
        total = 0.0
        for i in range(n):
            total += x[i]
        return total
    if n > 128:
        half = n // 2 - (n // 2) % 8
        return pairwise_sum(x[:half]) + pairwise_sum(x[half:])
    r0, r1, r2, r3, r4, r5, r6, r7 = x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]
    i = 8
    while i < n - n % 8:
        r0 += x[i]
        r1 += x[i + 1]
        r2 += x[i + 2]
        r3 += x[i + 3]
        r4 += x[i + 4]
        r5 += x[i + 5]
        r6 += x[i + 6]
        r7 += x[i + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for k in range(i, n):
        total += x[k]
    return total


def first_k_per_group(group: np.ndarray, order: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Positions of the first ``k[g]`` entries of every group ``g``, taking entries in ``order``.

    ``group``: the group of each entry (an area: 0 <= group < len(k) <= MAX_AREAS); ``order``:
    positions in the order in which entries come (a random permutation, or a ranking by
    priority); ``k``: places per group. Returns the accepted positions, grouped by group and in
    ``order`` within a group.
    """
    return _first_k(np.asarray(group), np.asarray(order), np.asarray(k))


@njit(cache=True)
def _first_k(group: np.ndarray, order: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``first_k_per_group``: one pass in ``order`` to accept, one to place the accepted."""
    taken = np.zeros(len(k), np.int64)
    accepted = np.zeros(len(order), np.bool_)
    for j in range(len(order)):
        g = group[order[j]]
        if taken[g] < k[g]:
            accepted[j] = True
            taken[g] += 1
    cursor = np.cumsum(taken) - taken  # where each group's accepted go
    out = np.empty(taken.sum(), np.int64)
    for j in range(len(order)):
        if accepted[j]:
            g = group[order[j]]
            out[cursor[g]] = order[j]
            cursor[g] += 1
    return out


ROUNDS = 6


def allocate_dwellings(
    weights: np.ndarray, capacity: np.ndarray, n: int, rng: np.random.Generator, own: np.ndarray | None = None
) -> np.ndarray:
    """Destination area per household, or -1 (no dwelling found); used by moves.

    Each household draws an area with probability proportional to ``weights`` among areas with
    free dwellings (and not its own area, for moves), admitted as in ``admit_in_rounds``.
    """

    def draw(free: np.ndarray, waiting: np.ndarray):
        w = np.where(free > 0, weights, 0.0)
        if w.sum() <= 0:
            return None
        return rng.choice(len(w), size=len(waiting), p=w / w.sum()), np.ones(len(waiting), bool)

    return admit_in_rounds(capacity, n, draw, rng, own)


def admit_in_rounds(capacity: np.ndarray, n: int, draw, rng: np.random.Generator, own: np.ndarray | None = None) -> np.ndarray:
    """Destination area per household, or -1: the capacity rule of every dwelling search.

    Each round ``draw(free, waiting)`` gives every household still waiting an area (and whether it
    could draw one at all), or None when nothing is on offer. Areas accept applicants in random
    order up to their free dwellings (never a mover's own area ``own``); the rejected draw again
    among the dwellings still free, for ``ROUNDS`` rounds. Who is left gets -1.
    """
    dest = np.full(n, -1, np.int64)
    free = np.asarray(capacity, np.int64).clip(min=0).copy()
    waiting = np.arange(n)
    for _ in range(ROUNDS):
        drawn = draw(free, waiting) if len(waiting) else None
        if drawn is None:
            break
        waiting = _admit(rng.permutation(len(waiting)), *drawn, waiting, own, free, dest)
    return dest


@njit(cache=True)
def _admit(
    order: np.ndarray,
    choice: np.ndarray,
    possible: np.ndarray,
    waiting: np.ndarray,
    own: np.ndarray | None,
    free: np.ndarray,
    dest: np.ndarray,
) -> np.ndarray:
    """One round of ``admit_in_rounds``: the applicants (``waiting``, each with its drawn area
    ``choice`` if ``possible`` and not its ``own``) come in ``order`` (a random permutation of
    their positions), and an area accepts them while it has ``free`` dwellings; writes ``dest``
    and ``free``, returns those still waiting, in their order."""
    for j in order:
        a = choice[j]
        if possible[j] and (own is None or a != own[waiting[j]]) and free[a] > 0:
            dest[waiting[j]] = a
            free[a] -= 1
    rest = np.empty(len(waiting), np.int64)
    n = 0
    for w in waiting:
        if dest[w] < 0:
            rest[n] = w
            n += 1
    return rest[:n]


# ---- fixed per-person random numbers (services, volunteering) ----
GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # hash_step adds (part + 1) x this
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


@njit(cache=True)
def mix_one(x):
    """splitmix64 finaliser (a bijection on 64-bit integers with good avalanche) of one hash
    state, in compiled code (uint64 arithmetic wraps around, as it should here)."""
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


@njit(cache=True)
def unit_one(z):
    """``unit_uniform`` of one hash state, in compiled code."""
    return np.float64(z >> _S11) / 9007199254740992.0


def mix(z: np.ndarray) -> np.ndarray:
    """``mix_one`` of every entry of the uint64 array z, in numpy; overwrites z. It defines the
    fixed numbers (``fixed_uniform``) that the compiled passes compute with ``mix_one``, written
    apart from it so that tests can compare the two. (Integer overflow in array operations wraps
    around silently, as it should here.)"""
    t = np.right_shift(z, _S30, out=np.empty_like(z))
    z ^= t
    z *= _M1
    np.right_shift(z, _S27, out=t)
    z ^= t
    z *= _M2
    np.right_shift(z, _S31, out=t)
    z ^= t
    return z


def key_step(part: int) -> np.uint64:
    """What ``hash_step`` adds to the state for a key part."""
    return np.uint64((part + 1) * int(GOLDEN) % 2**64)


def hash_step(z: np.ndarray, part: int) -> np.ndarray:
    """The hash state after one more key part (a new array)."""
    return mix(np.add(z, key_step(part), out=np.empty_like(z, np.uint64)))


def unit_uniform(z: np.ndarray) -> np.ndarray:
    """Hash states -> uniform numbers in [0, 1) (53 bits)."""
    return (z >> _S11).astype(np.float64) / float(2**53)


def fixed_uniform(draw: np.ndarray, *key: int) -> np.ndarray:
    """A uniform number in [0, 1) per person for the given key (service, year, round...),
    derived from the person's fixed draw: the same person and key always give the same number,
    whatever else happens in the run."""
    z = draw.astype(np.uint64)
    for part in key:
        z = hash_step(z, part)
    return unit_uniform(z)


def below_threshold(p: np.ndarray) -> np.ndarray:
    """Integer thresholds of probabilities: the uniform number unit_uniform(z) = m / 2**53 (m = z >>
    11) is below p exactly when m < ceil(clip(p, 0, 1) 2**53), compared as integers (p 2**53 is
    exact, and p = 1 gives 2**53, above every m)."""
    return np.ceil(np.clip(p, 0.0, 1.0) * 2.0**53).astype(np.uint64)
