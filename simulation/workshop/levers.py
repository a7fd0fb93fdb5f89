"""The workshop's levers and the scenario fields they set.

A lever state is a flat dict of plain values (``"kita.u3": 20``, ``"kita.area": "Bockenheim"``),
easy to keep per browser session and to compare. ``scenario_of(state, context)`` turns it into a
validated :class:`~simulation.scenario.Scenario` (the district baseline plus list entries for
every intervention that is switched on); ``state_of(scenario, context)`` reads a saved scenario
back into a state, so a saved file can be reopened and changed.

Every numeric lever names the schema field it sets (``model`` and ``attr``) and how its value on
the page becomes the field's value (``field_value``): in-migration is shown as persons a year
arriving in the district and written as ``in_migration.changes[].persons_per_year`` for the whole
city (the model scales it by the district's share of the city); the share of young families is a
percentage of today's and becomes ``family_weight``; the volunteer programme's extra engagement
in per cent becomes ``propensity_factor``. The ranges stay inside the schema's bounds
(``tests/test_workshop.py`` checks each against the field's own limits).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from simulation.errors import InputError
from simulation.scenario import HousingProject, InMigrationChange, Offering, Scenario, VolunteerProgramme

# the interventions, in the order of the page; each has a Stadtteil and a year except migration
GROUPS = ("migration", "kita", "family_centre", "senior_meeting", "volunteers", "dwellings")
PLACED = ("kita", "family_centre", "senior_meeting", "volunteers", "dwellings")  # groups with a Stadtteil
# the service each place lever opens (offerings[].service)
OFFERED = {"kita.u3": "kita_u3", "kita.k36": "kita_3_6", "family_centre.places": "family_centre", "senior_meeting.places": "senior_meeting"}
# the table each group writes: its "from year" and (PLACED groups) its Stadtteil are fields of it
TABLE = {
    "migration": InMigrationChange,
    "kita": Offering,
    "family_centre": Offering,
    "senior_meeting": Offering,
    "volunteers": VolunteerProgramme,
    "dwellings": HousingProject,
}
YEAR_FIELD = {g: (model, "from_year" if model is InMigrationChange else "year") for g, model in TABLE.items()}
AREA_FIELD = {g: (TABLE[g], "area") for g in PLACED}


@dataclass(frozen=True)
class Context:
    """What the levers need to know about the page's district: its baseline scenario, its
    Stadtteile, its share of the city's residents and the baseline's arrivals a year."""

    base: Scenario
    areas: tuple[str, ...]
    share_of_city: float
    arrivals: int  # persons a year moving into the district in the baseline (mean), rounded

    @property
    def first_year(self) -> int:
        return self.base.base_year + 1

    @property
    def last_year(self) -> int:
        return self.base.base_year + self.base.horizon


@dataclass(frozen=True)
class Lever:
    """A slider: its page value is an integer from ``low`` to ``high``; ``default`` means "no change".

    The field's value is ``offset + factor * value`` (divided by the district's share of the city
    when ``per_district`` is set: the page shows the district, the field counts the city)."""

    key: str
    model: type[BaseModel]
    attr: str
    low: int
    high: int
    step: int
    default: int
    offset: float = 0.0
    factor: float = 1.0
    per_district: bool = False

    @property
    def group(self) -> str:
        return self.key.split(".")[0]

    def field_value(self, value: int, context: Context) -> float:
        out = self.offset + self.factor * value
        return out / context.share_of_city if self.per_district else out

    def page_value(self, field: float, context: Context) -> int:
        """The inverse of ``field_value``, rounded to the lever's step and kept in its range."""
        raw = (field * context.share_of_city if self.per_district else field) - self.offset
        value = round(raw / self.factor / self.step) * self.step
        return int(min(max(value, self.low), self.high))


def volume_lever(context: Context) -> Lever:
    """Arrivals a year in the district: from none to three times the baseline's."""
    step = 100
    high = max(step, int(3 * context.arrivals) // step * step)
    return Lever("migration.volume", InMigrationChange, "persons_per_year", 0, high, step, context.arrivals, per_district=True)


FIXED_LEVERS = (
    # young families among the newcomers, in per cent of today's weight (100 = as today)
    Lever("migration.families", InMigrationChange, "family_weight", 25, 300, 25, 100, factor=0.01),
    Lever("kita.u3", Offering, "capacity", 0, 150, 5, 0),
    Lever("kita.k36", Offering, "capacity", 0, 200, 5, 0),
    Lever("family_centre.places", Offering, "capacity", 0, 300, 10, 0),
    Lever("senior_meeting.places", Offering, "capacity", 0, 300, 10, 0),
    # more people volunteer in the Stadtteil, in per cent (propensity x 1.0 .. 2.0)
    Lever("volunteers.more", VolunteerProgramme, "propensity_factor", 0, 100, 5, 0, offset=1.0, factor=0.01),
    Lever("volunteers.hours", VolunteerProgramme, "coordination_hours", 0, 10_000, 250, 0),
    Lever("dwellings.count", HousingProject, "dwellings", 0, 3_000, 50, 0),
    Lever("dwellings.years", HousingProject, "years", 1, 10, 1, 3),
)


def levers(context: Context) -> dict[str, Lever]:
    """Every slider of the page by key, in the page's order."""
    out = {lever.key: lever for lever in (volume_lever(context), *FIXED_LEVERS)}
    return dict(sorted(out.items(), key=lambda kv: GROUPS.index(kv[1].group)))


def default_area(context: Context) -> str:
    """The district's namesake Stadtteil if it has one (Bockenheim), else its first."""
    district = context.base.areas.split(":", 1)[-1] if isinstance(context.base.areas, str) else ""
    return district if district in context.areas else context.areas[0]


def default_state(context: Context) -> dict:
    """No intervention: every lever at its default, interventions placed in the namesake
    Stadtteil three years after the base year."""
    state: dict = {key: lever.default for key, lever in levers(context).items()}
    year = min(context.base.base_year + 3, context.last_year)
    for group in GROUPS:
        state[f"{group}.year"] = year
    for group in PLACED:
        state[f"{group}.area"] = default_area(context)
    return state


def bounded(state: dict, context: Context) -> dict:
    """The lever state a request may hold, whatever a browser sent: every lever of the page (a
    missing one at its default, an unknown key dropped), each slider clamped to its range, each
    "from year" to the scenario's years; a Stadtteil outside the district or a value that is no
    number is refused (InputError)."""
    out = default_state(context)
    sliders = levers(context)
    for key, default in out.items():
        value = state.get(key, default)
        if key.endswith(".area"):
            if value not in context.areas:
                raise InputError(None, key, f"{str(value)[:60]!r} is not a Stadtteil of the district", ", ".join(context.areas))
            out[key] = value
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:  # NaN too
            raise InputError(None, key, f"{str(value)[:60]!r} is not a number")
        low, high = (sliders[key].low, sliders[key].high) if key in sliders else (context.first_year, context.last_year)
        out[key] = int(round(min(max(value, low), high)))  # infinities too
    return out


def changed(state: dict, context: Context) -> list[str]:
    """The groups whose levers differ from "no change" (the page lists them)."""
    defaults = default_state(context)
    sliders = levers(context)
    return [g for g in GROUPS if any(state.get(k, v) != v for k, v in defaults.items() if k in sliders and k.startswith(g + "."))]


def _entries(state: dict, context: Context) -> dict[str, list[dict]]:
    """The scenario list entries the state switches on: {field: [entry, ...]}."""
    sliders = levers(context)

    def value(key: str) -> float:
        return sliders[key].field_value(state[key], context)

    out: dict[str, list[dict]] = {"in_migration.changes": [], "offerings": [], "volunteer_programmes": [], "housing": []}
    change: dict = {}
    if state["migration.volume"] != sliders["migration.volume"].default:
        change["persons_per_year"] = round(value("migration.volume"), 1)
    if state["migration.families"] != sliders["migration.families"].default:
        change["family_weight"] = value("migration.families")
    if change:
        out["in_migration.changes"].append({"from_year": state["migration.year"], **change})
    for key, service in OFFERED.items():
        if state[key] > 0:
            group = key.split(".")[0]
            out["offerings"].append(
                {
                    "service": service,
                    "area": state[f"{group}.area"],
                    "year": state[f"{group}.year"],
                    "action": "open",
                    "capacity": value(key),
                }
            )
    if state["volunteers.more"] > 0 or state["volunteers.hours"] > 0:
        out["volunteer_programmes"].append(
            {
                "area": state["volunteers.area"],
                "year": state["volunteers.year"],
                "propensity_factor": value("volunteers.more"),
                "coordination_hours": value("volunteers.hours"),
            }
        )
    if state["dwellings.count"] > 0:
        out["housing"].append(
            {
                "area": state["dwellings.area"],
                "year": state["dwellings.year"],
                "dwellings": int(value("dwellings.count")),
                "years": int(value("dwellings.years")),
            }
        )
    return out


def scenario_of(state: dict, context: Context, name: str = "workshop") -> Scenario:
    """The district baseline with the state's interventions (validated by the schema)."""
    raw = context.base.model_dump(mode="json")
    raw["name"] = name
    for field, entries in _entries(state, context).items():
        if field == "in_migration.changes":
            raw["in_migration"]["changes"] = raw["in_migration"]["changes"] + entries
        else:
            raw[field] = raw[field] + entries
    scenario = Scenario.model_validate(raw)
    scenario._source = context.base.source
    return scenario


def scenario_tables(state: dict, context: Context) -> dict[str, list[dict]]:
    """The list entries a saved scenario file holds (the same as ``scenario_of`` adds)."""
    return {field: entries for field, entries in _entries(state, context).items() if entries}


def state_of(scenario: Scenario, context: Context) -> tuple[dict, list[str]]:
    """The lever state of a scenario of this district, and what the page cannot show of it (fields
    of the scenario beyond the levers: more than one entry per intervention, other changes)."""
    state = default_state(context)
    sliders = levers(context)
    extra: list[str] = []
    changes = scenario.in_migration.changes
    if changes:
        first = changes[0]
        state["migration.year"] = first.from_year
        if first.persons_per_year is not None:
            state["migration.volume"] = sliders["migration.volume"].page_value(first.persons_per_year, context)
        if first.family_weight is not None:
            state["migration.families"] = sliders["migration.families"].page_value(first.family_weight, context)
        extra += ["in_migration.changes"] if len(changes) > 1 or first.abroad_net_per_1000 is not None else []
    seen: set[str] = set()
    for offering in scenario.offerings:
        key = next((k for k, s in OFFERED.items() if s == offering.service), None)
        if key is None or key in seen or offering.action != "open":
            extra.append(f"offerings ({offering.service}, {offering.area})")
            continue
        seen.add(key)
        group = key.split(".")[0]
        state[key] = sliders[key].page_value(offering.capacity, context)
        state[f"{group}.area"], state[f"{group}.year"] = offering.area, offering.year
    for field, group, values in (
        ("volunteer_programmes", "volunteers", {"volunteers.more": "propensity_factor", "volunteers.hours": "coordination_hours"}),
        ("housing", "dwellings", {"dwellings.count": "dwellings", "dwellings.years": "years"}),
    ):
        entries = getattr(scenario, field)
        if entries:
            entry = entries[0]
            state[f"{group}.area"], state[f"{group}.year"] = entry.area, entry.year
            for key, attr in values.items():
                state[key] = sliders[key].page_value(getattr(entry, attr), context)
            extra += [field] if len(entries) > 1 else []
    base = context.base
    for field in ("take_up", "services"):
        if getattr(scenario, field) != getattr(base, field):
            extra.append(field)
    return state, extra
