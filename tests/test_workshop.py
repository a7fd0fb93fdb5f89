"""The workshop page without a browser: levers and the schema, the saved scenario files, the
engine's common random numbers and the answers. The page in Chromium: test_workshop_browser.py."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
import typing
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from simulation.cli import app
from simulation.ensemble import InProcessExecutor
from simulation.errors import InputError
from simulation.experiment import _same
from simulation.glossary import Glossary
from simulation.inputs import load_inputs
from simulation.scenario import Offering, Scenario, load_scenario
from simulation.workshop import answers as A
from simulation.workshop import charts, store
from simulation.workshop import levers as L
from simulation.workshop.engine import KEY, MAX_RUNS, MAX_YEARS, Busy, Engine, compared
from tests.conftest import ROOT

YEARS, RUNS = 3, 2  # short runs: the tests check behaviour, not the projection


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(ROOT / "scenarios" / "baseline.toml", "sozialrathaus:Bockenheim", InProcessExecutor(), ROOT / "scenarios" / "workshop")


@pytest.fixture(scope="module")
def ctx(engine) -> L.Context:
    return engine.context(YEARS, RUNS)


def every_lever_moved(ctx: L.Context) -> dict:
    """Every intervention switched on, in different Stadtteile and years."""
    state = L.default_state(ctx)
    for i, group in enumerate(L.PLACED):
        state[f"{group}.area"] = ctx.areas[i % len(ctx.areas)]
        state[f"{group}.year"] = ctx.first_year + i
    state |= {"migration.year": ctx.first_year + 1, "migration.volume": 9000, "migration.families": 150}
    state |= {"kita.u3": 20, "kita.k36": 40, "family_centre.places": 50, "senior_meeting.places": 60}
    state |= {"volunteers.more": 25, "volunteers.hours": 2000, "dwellings.count": 500, "dwellings.years": 2}
    return state


def schema_bounds(model, attr: str) -> tuple[float, float, bool]:
    """(lowest, highest, lowest excluded) that the schema allows for a numeric field, from its
    own constraints (also inside ``X | None``)."""
    info = model.model_fields[attr]
    metadata = list(info.metadata)
    for arg in typing.get_args(info.annotation):
        for extra in typing.get_args(arg)[1:]:  # Annotated[float, FieldInfo(...)]
            metadata += getattr(extra, "metadata", [])
    low = next((m.ge for m in metadata if hasattr(m, "ge")), None)
    above = next((m.gt for m in metadata if hasattr(m, "gt")), None)
    high = next((m.le for m in metadata if hasattr(m, "le")), None)
    assert (low is not None or above is not None) and high is not None, f"{model.__name__}.{attr} has no bounds"
    return (low if low is not None else above), high, low is None


def test_every_lever_maps_to_a_schema_field_and_stays_in_its_range(ctx):
    sliders = L.levers(ctx)
    assert {lv.group for lv in sliders.values()} == set(L.GROUPS)
    for key, lever in sliders.items():
        assert lever.attr in lever.model.model_fields, key
        low, high, open_low = schema_bounds(lever.model, lever.attr)
        # places and dwellings at 0 mean "no entry": their smallest real value must be allowed
        off = open_low or (lever.model is Offering and lever.default == 0)
        for value in (lever.low + lever.step, lever.high) if off else (lever.low, lever.default, lever.high):
            field = lever.field_value(value, ctx)
            assert low <= field <= high and not (open_low and field == low), (key, value, field, (low, high))
        assert lever.page_value(lever.field_value(lever.high, ctx), ctx) == lever.high
    for group, (model, attr) in L.YEAR_FIELD.items():
        assert attr in model.model_fields, group
    for group, (model, attr) in L.AREA_FIELD.items():
        assert attr in model.model_fields and group in L.PLACED, group
    # the years on the page are exactly the years the scenario accepts
    state = every_lever_moved(ctx) | {f"{g}.year": ctx.last_year for g in L.GROUPS}
    L.scenario_of(state, ctx)
    with pytest.raises(ValidationError):
        L.scenario_of(state | {"kita.year": ctx.last_year + 1}, ctx)
    assert ctx.first_year == ctx.base.base_year + 1


def test_levers_become_scenario_entries_and_read_back(engine, ctx):
    assert L.scenario_of(L.default_state(ctx), ctx).model_dump(exclude={"name"}) == ctx.base.model_dump(exclude={"name"})
    state = every_lever_moved(ctx)
    scenario = L.scenario_of(state, ctx)
    engine.check(scenario)  # the areas, services and sizes load_inputs checks
    change = scenario.in_migration.changes[-1]
    assert change.persons_per_year * ctx.share_of_city == pytest.approx(9000, abs=0.1)  # the page shows the district
    assert change.family_weight == 1.5
    assert {(o.service, o.area, o.capacity) for o in scenario.offerings} == {
        ("kita_u3", ctx.areas[0], 20),
        ("kita_3_6", ctx.areas[0], 40),
        ("family_centre", ctx.areas[1], 50),
        ("senior_meeting", ctx.areas[2], 60),
    }
    assert scenario.volunteer_programmes[0].propensity_factor == 1.25 and scenario.housing[0].dwellings == 500
    back, extra = L.state_of(scenario, ctx)
    assert back == state and extra == []
    assert L.changed(state, ctx) == list(L.GROUPS) and L.changed(L.default_state(ctx), ctx) == []


def test_lever_scenarios_run_on_the_baseline_inputs(engine, ctx):
    """The engine runs every lever scenario on the district's inputs: the levers must not change them."""
    scenario = L.scenario_of(every_lever_moved(ctx), ctx)
    assert _same(load_inputs(scenario), engine.inputs)


def test_baseline_against_itself_differs_by_exactly_zero_and_a_kita_adds_its_places(engine, ctx):
    base = engine.baseline(YEARS, RUNS)
    same_left, same_right = engine.pair(ctx.base, L.scenario_of(L.default_state(ctx), ctx, name="other"), YEARS, RUNS)
    rows = compared(same_left, same_right, "services", "sozialrathaus", "Bockenheim")
    assert (rows["diff_mean"].fillna(0) == 0).all() and (rows["diff_high"].fillna(0) == 0).all()
    state = L.default_state(ctx) | {"kita.u3": 30, "kita.area": "Rödelheim", "kita.year": ctx.first_year}
    left, right = engine.pair(ctx.base, L.scenario_of(state, ctx), YEARS, RUNS)
    assert left.values.equals(base.values)  # cached: the same replications
    last = right.last_year
    area = compared(left, right, "services", "area", "Rödelheim", last).set_index("indicator")
    assert area.at["kita_u3.capacity", "diff_mean"] == pytest.approx(30)
    assert area.at["kita_u3.capacity", "diff_low"] == pytest.approx(30)  # in every replication
    district = compared(left, right, "services", "sozialrathaus", "Bockenheim", last).set_index("indicator")
    assert district.at["kita_u3.unmet", "diff_high"] <= 0 < district.at["kita_u3.served", "diff_low"]
    assert district.at["kita_3_6.capacity", "diff_mean"] == 0


def test_answers_are_labelled_rounded_and_explained(engine, ctx):
    state = L.default_state(ctx) | {"senior_meeting.places": 100}
    left, right = engine.pair(ctx.base, L.scenario_of(state, ctx), YEARS, RUNS)
    for lang, word in (("de", "Einwohnerinnen und Einwohner"), ("en", "Residents")):
        a = A.answers(left, right, engine.unit, Glossary(lang, engine.inputs.catalogue), "senior_meeting", ("cohesion", "cohesion_index"))
        assert a.key["label"].iloc[0] == word and a.n == RUNS and a.year == ctx.base.base_year + YEARS
        assert list(a.ages["label"]) == ["0–2", "3–5", "6–9", "10–17", "18–29", "30–64", "65–74", "75+"]
        assert a.ages["left_mean"].sum() == pytest.approx(a.key["left_mean"].iloc[0])  # the age groups add up to the residents
        labels = [
            *a.services["label"],
            *a.unmet_ages["label"],
            *a.cohesion_table["label"],
            *(r for f in a.unmet.values() for r in f["label"]),
        ]
        assert not [label for label in labels if re.search(r"_|^[a-z0-9]+(\.[a-z0-9=]+)+$", label)]  # no raw codes
        assert a.cohesion_table["higher"].str.len().gt(3).all()  # every indicator says what a higher value means
        assert set(a.areas["area"]) == set(ctx.areas) and len(a.series) == YEARS + 1
        places = a.services.set_index(a.services["label"].str.replace("\n", " "))
        meeting = Glossary(lang, engine.inputs.catalogue).service("senior_meeting")
        assert places.at[meeting, "right_places"] - places.at[meeting, "left_places"] == pytest.approx(100)
    assert A.sensible(81_234) == 81_200 and A.sensible(438) == 438 and A.sensible(0.7812, "index") == 0.7812
    assert A.verdict(-12, -3, "count", "de") == "Die Richtung ist sicher."
    assert A.verdict(-2, 5, "count", "en") == "This may be chance."
    assert A.verdict(-0.0002, 0.0003, "index", "de") == "Kein erkennbarer Unterschied."


def test_charts_are_pictures_and_areas_without_a_polygon_are_listed(engine, ctx):
    left = engine.baseline(YEARS, RUNS)
    a = A.answers(left, left, engine.unit, Glossary("de", engine.inputs.catalogue), "kita_u3", ("services", "kita_u3.unmet"))
    names = ("Basis", "Szenario")
    pictures = [charts.age_chart(a, names), charts.services_chart(a, names), charts.unmet_chart(a, names, "Kita")]
    pictures += [charts.unmet_ages_chart(a, names), charts.cohesion_chart(a, names), charts.series_chart(a, names)]
    png, missing = charts.map_chart(a, names, engine.inputs.data_dir)
    assert all(p.startswith(b"\x89PNG") and len(p) > 5000 for p in [*pictures, png]) and missing == []
    # Bahnhofsviertel shares the polygon of Gutleutviertel in the boundaries file
    gallus = dataclasses.replace(
        a, areas=pd.DataFrame({"area": ["Bahnhofsviertel", "Gutleutviertel"], "left_mean": [1.0, 2.0], "right_mean": [1.0, 3.0]})
    )
    assert charts.map_chart(gallus, names, engine.inputs.data_dir)[1] == ["Bahnhofsviertel"]


@pytest.mark.parametrize(
    ("typed", "name"),
    [("Mehr Kitas für Rödelheim", "Mehr-Kitas-für-Rödelheim"), ("  Grün_2030!  ", "Grün_2030"), ("Ärger? Nein.", "Ärger-Nein")],
)
def test_names_keep_letters_with_umlauts_digits_and_dashes(typed, name):
    assert store.safe_name(typed) == name


@pytest.mark.parametrize(
    ("typed", "reason"), [("../baseline", "path"), ("a/b", "path"), ("a\\b", "path"), ("", "empty"), ("?!", "characters")]
)
def test_names_that_could_leave_the_folder_are_refused(typed, reason):
    with pytest.raises(store.BadName) as refused:
        store.safe_name(typed)
    assert refused.value.reason == reason


def note(title: str) -> store.Note:
    return store.Note(title, "Familienzentrum Rödelheim, Elternbeirat", "Wartelisten abbauen.\nZweite Zeile", "2025-03-14T18:30")


def test_a_saved_scenario_is_validated_compared_and_its_note_is_in_the_report(ctx, tmp_path):
    folder = tmp_path / "workshop"
    state = L.default_state(ctx) | {"kita.u3": 25, "kita.k36": 40, "kita.area": "Hausen", "migration.families": 150}
    path = store.save(folder, state, ctx, note("Mehr Kitas für Hausen"), set())
    assert path == (folder / "Mehr-Kitas-für-Hausen.toml").resolve()
    saved = load_scenario(path)
    assert saved.model_dump(exclude={"name", "description", "description_de"}) == L.scenario_of(state, ctx).model_dump(
        exclude={"name", "description", "description_de"}
    )
    assert (
        "Mehr Kitas für Hausen" in saved.description_de
        and "Elternbeirat" in saved.description_de
        and "14. März 2025" in saved.description_de
    )
    assert store.read_note(path) == note("Mehr Kitas für Hausen")
    assert [s.note.title for s in store.saved(folder, ctx.base.areas)] == ["Mehr Kitas für Hausen"]
    runner = CliRunner()
    checked = runner.invoke(app, ["validate", str(path)])
    assert checked.exit_code == 0, checked.output
    out = tmp_path / "compared"
    args = ["compare", str(ROOT / "scenarios" / "bockenheim.toml"), str(path), "--replications", "1", "--horizon", "3"]
    done = runner.invoke(app, [*args, "--workers", "1", "--no-figures", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "Mehr Kitas für Hausen" in (out / "report.html").read_text(encoding="utf-8")


def test_saving_never_overwrites_another_sessions_file(ctx, tmp_path):
    mine, theirs = set(), set()
    first = store.save(tmp_path, L.default_state(ctx) | {"kita.u3": 10}, ctx, note("Plan A"), mine)
    mine.add(first)
    second = store.save(tmp_path, L.default_state(ctx) | {"senior_meeting.places": 20}, ctx, note("Plan A"), theirs)
    assert (first.name, second.name) == ("Plan-A.toml", "Plan-A-2.toml")
    again = store.save(tmp_path, L.default_state(ctx) | {"kita.u3": 15}, ctx, note("Plan A"), mine)  # my own file: updated
    assert again == first and load_scenario(first).offerings[0].capacity == 15
    assert load_scenario(second).offerings[0].service == "senior_meeting"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Plan-A-2.toml", "Plan-A.toml"]  # no temporary files left


def test_the_workshop_command_refuses_a_district_that_does_not_exist():
    result = CliRunner().invoke(app, ["workshop", "--area", "sozialrathaus:Atlantis", "--port", "0"])
    assert result.exit_code == 2 and "Atlantis" in result.output


def test_default_scenario_of_the_page_is_the_baseline_of_the_district(ctx):
    assert isinstance(ctx.base, Scenario) and ctx.base.areas == "sozialrathaus:Bockenheim"
    assert L.default_area(ctx) == "Bockenheim" and ctx.arrivals > 1000 and 0 < ctx.share_of_city < 1
    assert Path(ctx.base.source).name == "baseline.toml"


def test_every_word_of_the_page_exists_in_german_and_english():
    from simulation.workshop.app import TAB_TITLES
    from simulation.workshop.texts import TEXTS

    assert TEXTS["de"].keys() == TEXTS["en"].keys() and len(TAB_TITLES["de"]) == len(TAB_TITLES["en"])
    assert all(f"{g}_help" in TEXTS["de"] for g in L.GROUPS) and all(lever.key in TEXTS["de"] for lever in L.FIXED_LEVERS)


def test_a_request_is_held_to_the_caps_whatever_a_browser_sent(engine, ctx):
    """The engine, not the widgets, holds a request to the horizon, the runs, the district and the
    levers' ranges: a browser session can send any value for any widget."""
    assert engine.max_years == min(MAX_YEARS, ctx.base.horizon) and engine.max_runs == MAX_RUNS
    assert engine.bounded(10**6, 10**6) == (engine.max_years, MAX_RUNS) and engine.bounded(-3, 0) == (1, 1)
    sliders = L.levers(ctx)
    sent = L.default_state(ctx) | {"kita.u3": 10**9, "kita.k36": -40, "kita.year": 3000, "migration.volume": float("inf")}
    sent |= {"volunteers.hours": 1e300, "volunteers.more": 2.4, "dwellings.years": 0, "somebody's.key": "x"}
    scenario = engine.lever_scenario(sent)
    assert [(o.service, o.capacity, o.year) for o in scenario.offerings] == [("kita_u3", sliders["kita.u3"].high, ctx.last_year)]
    assert scenario.in_migration.changes[-1].persons_per_year * ctx.share_of_city == pytest.approx(
        sliders["migration.volume"].high, abs=0.1
    )
    programme = scenario.volunteer_programmes[0]
    assert (programme.coordination_hours, programme.propensity_factor) == (sliders["volunteers.hours"].high, 1.02)
    assert scenario.housing == [] and L.bounded(sent, ctx).keys() == L.default_state(ctx).keys()
    for bad in ({"kita.area": "Atlantis"}, {"kita.u3": "viele"}, {"kita.u3": float("nan")}, {"kita.u3": True}, {"kita.year": None}):
        with pytest.raises(InputError):
            engine.lever_scenario(L.default_state(ctx) | bad)
    with pytest.raises(InputError, match="not this page's district"):
        engine.pair(ctx.base, ctx.base.model_copy(update={"areas": "city"}), YEARS, RUNS)
    for elsewhere in (ROOT / "scenarios" / "baseline.toml", engine.folder / ".." / "baseline.toml", engine.folder / "notes.txt"):
        with pytest.raises(InputError, match="not a scenario saved on this page"):
            engine.saved_scenario(elsewhere)


ROW = pd.Series([1.0], index=pd.MultiIndex.from_tuples([("population", 2026, "area", "Bockenheim", "persons")], names=KEY))


class Gate(Executor):
    """Holds every replication until the test lets one finish (or opens the gate for good);
    records what was submitted and the most that were running at once."""

    def __init__(self):
        self.submitted: list[tuple[str, int, int]] = []  # (scenario JSON, replication, years)
        self.running: list[Future] = []
        self.most = 0
        self.opened = False
        self.lock = threading.Lock()

    def submit(self, fn, base_json, scenario_json, seed, index, years):
        future: Future = Future()
        with self.lock:
            self.submitted.append((scenario_json, index, years))
            self.running.append(future)
            self.most = max(self.most, len(self.running))
        if self.opened:
            self.finish_one()
        return future

    def finish_one(self) -> None:
        with self.lock:
            future = self.running.pop(0) if self.running else None
        if future is not None:
            future.set_result(ROW)

    def open(self) -> None:
        """Let everything finish from now on (so that no request is left waiting when a test fails)."""
        self.opened = True
        while self.running:
            self.finish_one()


def until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_the_queue_is_bounded_a_newer_request_supersedes_and_first_rounds_go_first(ctx, tmp_path):
    gate = Gate()
    engine = Engine(ROOT / "scenarios" / "baseline.toml", "sozialrathaus:Bockenheim", gate, tmp_path, max_waiting=11)
    engine.workers = 2
    s1, s2, s3, s4 = (L.scenario_of(L.default_state(ctx) | {"kita.u3": places}, ctx) for places in (10, 20, 30, 40))
    pool = ThreadPoolExecutor(8)
    try:
        first = pool.submit(engine.pair, ctx.base, s1, 3, 4, session="A", turn=1)
        until(lambda: engine.waiting() == (6, 2))  # 8 replications asked for: one per worker runs, 6 wait
        newer = pool.submit(engine.pair, ctx.base, s2, 3, 4, session="A", turn=3)
        assert first.result(timeout=10) is None  # superseded by the session's newer request
        until(lambda: engine.waiting() == (7, 2))  # s1's replications 1-3 are dropped; baseline 1-3 and s2 0-3 wait
        assert pool.submit(engine.pair, ctx.base, s3, 3, 4, session="A", turn=2).result(timeout=5) is None  # an older one, late
        assert engine.waiting() == (7, 2) and not newer.done()
        other = pool.submit(engine.pair, ctx.base, s3, 3, 4, session="B")
        until(lambda: engine.waiting() == (11, 2))
        refused = pool.submit(engine.pair, ctx.base, s4, 3, 4, session="C")
        with pytest.raises(Busy):  # 4 more would make 15 waiting, more than 11
            refused.result(timeout=5)
        joined = pool.submit(engine.pair, ctx.base, s2, 3, 4, session="D")  # nothing new to wait for: accepted
        until(lambda: gate.finish_one() or all(f.done() for f in (newer, other, joined)))
        assert newer.result()[1].n == other.result()[1].n == joined.result()[1].n == 4
        capped = pool.submit(engine.pair, ctx.base, ctx.base, 10**6, 10**6)
        until(lambda: gate.finish_one() or capped.done())
    finally:
        gate.open()
        pool.shutdown()
    assert capped.result()[0].n == MAX_RUNS and capped.result()[0].key[1] == engine.max_years
    lever_runs = gate.submitted[:13]
    assert gate.most == 2 and len(lever_runs) == 13  # baseline 0-3, s1 0 (already running), s2 0-3, s3 0-3
    assert [i for scenario, i, _ in lever_runs if scenario == s1.model_dump_json()] == [0]
    assert [i for _, i, _ in lever_runs] == sorted(i for _, i, _ in lever_runs)  # every request's first round first
    assert sorted((i, years) for _, i, years in gate.submitted[13:]) == [(i, engine.max_years) for i in range(MAX_RUNS)]
    engine.pair(ctx.base, s2, 3, 4)  # cached: nothing runs again
    assert len(gate.submitted) == 13 + MAX_RUNS and engine.waiting() == (0, 0)
