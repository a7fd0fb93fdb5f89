"""The planner's report, parsed: what it shows follows from the scenario, German throughout in the
German report (labels, Babel number formats), every figure titled and labelled, bands with their
reliability, and a screenshot in headless Chromium that is not blank.

One small comparison is computed once (Sozialrathaus Gallus, 2023-2027, 3 replications): a family
centre in Gallus from 2025 (an offering) and higher take-up of senior outreach (a city-wide lever).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from babel.numbers import format_decimal

from simulation import ensemble, plots
from simulation.scenario import Offering, Scenario, TakeUpChange
from tests.conftest import ROOT

REPLICATIONS = 3
BASE = Scenario(name="basis", areas="sozialrathaus:Gallus", horizon=4, seed=5)
FAMILY = BASE.model_copy(
    update={
        "name": "familienzentrum",
        "description": "A family centre in Gallus from 2025.",
        "description_de": "Ein Familienzentrum in Gallus ab 2025.",
        "offerings": [Offering(service="family_centre", area="Gallus", year=2025, action="expand", capacity=60)],
    }
)
OUTREACH = BASE.model_copy(update={"name": "aufsuchend", "take_up": [TakeUpChange(service="senior_outreach", from_year=2025, factor=1.5)]})
SCENARIOS = [BASE, FAMILY, OUTREACH]


class Page(HTMLParser):
    """The visible text per section (without <code>, <script>, <style>), figures and links."""

    def __init__(self, page: str):
        super().__init__()
        self.sections: dict[str, list[str]] = {}
        self.section = None
        self.skip = 0
        self.images: list[dict] = []
        self.captions: list[str] = []
        self.links: list[str] = []
        self.lang = None
        self.title = ""
        self._in = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._in.append(tag)
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "section":
            self.section = a["id"]
            self.sections[self.section] = []
        if tag in ("code", "script", "style"):
            self.skip += 1
        if tag == "img":
            self.images.append(a)
        for key in ("src", "href"):
            if key in a and tag != "img":
                self.links.append(a[key])
        if tag == "figcaption":
            self.captions.append("")

    def handle_endtag(self, tag):
        if tag in ("code", "script", "style"):
            self.skip -= 1
        if tag == "section":
            self.section = None
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data):
        if self.skip:
            return
        if "h1" in self._in:
            self.title += data
        if "figcaption" in self._in:
            self.captions[-1] += data
        self.sections.setdefault(self.section or "head", []).append(data)

    def text(self, *sections: str) -> str:
        names = sections or tuple(self.sections)
        return " ".join(" ".join(self.sections.get(s, [])) for s in names)


@pytest.fixture(scope="module")
def comparison_dir(tmp_path_factory) -> Path:
    """The replications of the three scenarios (in this process) and the outputs of ``compare`` in German."""
    from simulation import cli

    out = tmp_path_factory.mktemp("compare")
    with ensemble.make_executor(workers=1) as executor:
        ensemble.run_replications([(s, 0) for s in SCENARIOS], BASE.seed, REPLICATIONS, None, out, executor)
    cli._write_ensemble_outputs(SCENARIOS, out, REPLICATIONS, True, "de")
    return out


@pytest.fixture(scope="module")
def german(comparison_dir) -> Page:
    return Page((comparison_dir / "report.html").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def english(comparison_dir, tmp_path_factory) -> Page:
    from simulation import report

    comparison = pd.read_parquet(comparison_dir / "comparison.parquet")
    summaries = {s.name: pd.read_parquet(comparison_dir / f"summary_{s.name}.parquet") for s in SCENARIOS}
    import json

    manifest = json.loads((comparison_dir / "manifest.json").read_text(encoding="utf-8"))
    folder = tmp_path_factory.mktemp("english")
    path = report.write_comparison_report(folder, comparison, summaries, SCENARIOS, manifest, "en", figures=False)
    return Page(path.read_text(encoding="utf-8"))


def raw_codes(frame: pd.DataFrame) -> set[str]:
    """Every code of the metrics that looks like a code (with _ . or =), and the names of the services and groups."""
    codes = set(frame["indicator"])
    for code in list(codes):
        codes.update(code.replace("=", ".").split("."))
    return {c for c in codes if re.search(r"[_.=]", c)}


def test_the_report_opens_with_the_scenarios_effects_chosen_by_their_levers(german):
    assert list(german.sections)[:3] == ["head", "compared", "effects"]
    effects = german.text("effects")
    # the family centre: its service with demand, capacity, served and unmet side by side, a sentence from the numbers
    assert "Familienzentrum / Frühe Hilfen" in effects
    assert "Ab 2025 im Stadtteil Gallus: „Familienzentrum / Frühe Hilfen“ wird um 60 Familien erweitert." in effects
    assert re.search(
        r"Stadtteil Gallus: Die Kapazität ist ab 2025 um 60 Familien höher\. Ab 2025 werden im Mittel \d+ Haushalte mehr versorgt", effects
    )
    for header in ("Nachfrage", "Kapazität (Familien)", "Versorgt", "Ungedeckter Bedarf"):
        assert header in effects
    # the take-up lever: unmet need rises, and the report says why
    assert "Aufsuchende Seniorenarbeit" in effects
    assert "weil mehr Menschen das Angebot suchen (höhere Inanspruchnahme laut Szenario)" in effects
    # nothing from a fixed list: the Kita is touched by neither scenario
    assert "Kinderbetreuung unter 3 Jahren" not in effects
    assert german.title.strip() == "Szenariovergleich: „familienzentrum“, „aufsuchend“"


def test_no_raw_codes_in_the_text(german, english, comparison_dir):
    codes = raw_codes(pd.read_parquet(comparison_dir / "comparison.parquet"))
    assert {"family_centre", "kita_u3", "german_mb", "single_parent", "persons_0_2", "unmet_by_group"} <= codes
    for page in (german, english):
        text = page.text()
        found = sorted(c for c in codes if re.search(rf"(?<![\w/]){re.escape(c)}(?![\w])", text))
        assert not found, found


NUMBER = re.compile(r"(?<![\w.,])[-+]?\d[\d.,]*(?<![.,])")


def test_every_number_is_in_the_readers_format(german, english, comparison_dir):
    def bad_german(token: str) -> bool:
        bare = token.lstrip("+-")
        if re.fullmatch(r"(19|20)\d\d", bare) or re.fullmatch(r"\d{1,2}\.\d{1,2}\.(\d{4})?", bare):
            return False  # a year, a date
        return not re.fullmatch(r"\d{1,3}(\.\d{3})*(,\d+)?", bare)

    text = re.sub(r"\b\d{5}-\d{4}\b", "", german.text())  # statistical table numbers (Destatis 12621-0001) are names
    assert not re.search(r"\de[-+]\d", text)
    bad = sorted({t for t in NUMBER.findall(text) if bad_german(t)})
    assert not bad, bad[:20]
    # the same value, by Babel, in both languages: demand for senior outreach with the scenario, in the district's table
    c = pd.read_parquet(comparison_dir / "comparison.parquet")
    row = c[(c["indicator"] == "senior_outreach.demand") & (c["level"] == "sozialrathaus") & (c["scenario"] == "aufsuchend")]
    value = float(row.loc[row["year"] == row["year"].max(), "value"].iloc[0])
    assert value > 999
    assert format_decimal(round(value), format="#,##0", locale="de_DE") in german.text("effects")
    assert format_decimal(round(value), format="#,##0", locale="en_GB") in english.text("effects")
    assert english.lang == "en" and "Unmet need" in english.text("effects") and "Ungedeckter" not in english.text()


def test_every_figure_is_embedded_titled_and_labelled(german, comparison_dir, monkeypatch, tmp_path):
    assert german.images and all(img["src"].startswith("data:image/png;base64,") and img["alt"] for img in german.images)
    assert all(link.startswith("#") for link in german.links)  # every asset local, no CDN
    assert len(german.captions) == len(german.images) and all(c.strip() for c in german.captions)
    # the figures themselves: a title, and labelled axes (maps: a labelled colour bar)
    from simulation import report

    figures = []
    real = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path, dpi=100: figures.append(fig) or real(fig, path, 40))
    comparison = pd.read_parquet(comparison_dir / "comparison.parquet")
    summaries = {s.name: pd.read_parquet(comparison_dir / f"summary_{s.name}.parquet") for s in SCENARIOS}
    manifest = {"replications": REPLICATIONS, "seed": 5, "years": [2023, 2027], "scenarios": [s.model_dump(mode="json") for s in SCENARIOS]}
    report.write_comparison_report(tmp_path, comparison, summaries, SCENARIOS, manifest, "de")
    kinds = set()
    for fig in figures:
        titles = [fig._suptitle.get_text() if fig._suptitle else ""] + [ax.get_title() for ax in fig.axes]
        assert any(t.strip() for t in titles)
        for ax in fig.axes:
            if not ax.get_visible() or not ax.axison or ax.get_label() == "<colorbar>":
                continue
            if ax.get_xticks().size == 0 and ax.get_yticks().size == 0:  # a map: its colour bar says what the colours mean
                bars = [other for other in fig.axes if other.get_label() == "<colorbar>"]
                assert bars and bars[0].get_ylabel().strip()
                kinds.add("map")
                continue
            assert ax.get_ylabel().strip() and ax.get_xlabel().strip(), ax.get_title()
            kinds.add("chart")
    assert kinds == {"map", "chart"}


def test_uncertainty_names_the_method_the_runs_and_warns_below_ten(german):
    text = german.text("uncertainty")
    assert "5. bis 95. Perzentil" in text and "3-mal" in text and "Mittelwert" in text
    assert "Mit nur 3 Läufen sind die Bänder nicht verlässlich" in german.text("head")


def test_groups_per_district_and_labels_that_match_the_rows(german):
    affected = german.text("affected")
    assert "Sozialrathausbezirk Gallus" in affected and "Alleinerziehende" in affected
    # one district: no rows claim to be the whole city
    assert "Frankfurt am Main" not in german.text("effects", "results", "affected", "areas")


def test_the_maps_show_the_stadtteile_of_the_chosen_indicators(german, comparison_dir):
    maps = sorted(p.name for p in comparison_dir.glob("map_*.png"))
    assert any("family_centre_unmet" in m for m in maps) and any("senior_outreach_unmet" in m for m in maps)
    areas = german.text("areas")
    assert "Familienzentrum / Frühe Hilfen: Ungedeckter Bedarf: Unterschied zur Basis" in areas
    assert "Ohne eigene Fläche in der Karte (Werte in der Tabelle): Bahnhofsviertel" in areas


def test_a_single_run_report_is_titled_by_its_scenario_and_fills_every_column(small_result, tmp_path):
    from simulation.report import write_run_report

    page = Page(write_run_report(tmp_path, small_result.tables, small_result.manifest, "de", figures=False).read_text(encoding="utf-8"))
    assert page.title.strip() == "Szenario „small“: Projektion 2023–2028"
    results = page.text("results")
    assert "Alle gerechneten Stadtteile" in results and "Frankfurt am Main" not in results  # 4 areas of 2 districts
    assert "Sozialrathausbezirk Ost" in page.text("affected") and "Sozialrathausbezirk Gallus" in page.text("affected")
    # every cell filled: base year, last year and change (the cohesion index is not defined in the base year: a dash)
    rows = re.findall(r"<tr>(.*?)</tr>", (tmp_path / "report.html").read_text(encoding="utf-8"), re.S)
    assert rows and not any(re.search(r"<td[^>]*>\s*</td>", r) for r in rows)
    assert "Nur ein Lauf" in page.text("head")


def test_cohesion_index_has_one_definition_in_every_year(small_result):
    c = small_result.tables["cohesion"]
    city = c[c["level"] == "city"].pivot_table(index="year", columns="indicator", values="value", dropna=False)
    assert np.isnan(city.loc[2023, "cohesion_index"])  # stability needs a year of moves: no index rather than another one
    parts = ["mixing", "stability", "service_reach", "volunteering", "no_isolation"]
    weights = city[[f"cohesion_weight_{p}" for p in parts]]
    assert np.allclose(weights.to_numpy(), 0.2)  # the same weights in every year, the base year included
    later = city.loc[2024:]
    assert np.allclose(sum(later[f"cohesion_weight_{p}"] * later[f"cohesion_part_{p}"] for p in parts), later["cohesion_index"])


def test_glossary_knows_every_code_assumption_and_unit(comparison_dir):
    from simulation.catalogue import load_catalogue
    from simulation.data import DEFAULT_DATA_DIR
    from simulation.glossary import ASSUMPTIONS_DE, UNITS, Glossary
    from simulation.runner import ASSUMPTIONS

    catalogue = load_catalogue(DEFAULT_DATA_DIR)
    codes = pd.read_parquet(comparison_dir / "comparison.parquet")[["table", "indicator"]].drop_duplicates()
    for lang in ("de", "en"):
        g = Glossary(lang, catalogue)
        labels = {g.term(t, i).label for t, i in codes.itertuples(index=False)}
        assert len(labels) > 200
    assert set(ASSUMPTIONS) <= set(ASSUMPTIONS_DE)
    assert {s.unit for s in catalogue.values()} <= set(UNITS)


def test_numbers_are_formatted_by_babel_for_each_language():
    from simulation.localise import Numbers

    de, en = Numbers("de"), Numbers("en")
    assert (de.value(111395), en.value(111395)) == ("111.395", "111,395")
    assert (de.value(0.8123, "index"), en.value(0.8123, "index")) == ("0,812", "0.812")
    assert de.signed(-6.56e-05, "index") == "0,000" and de.signed(19) == "+19" and de.signed(-0.25) == "-0,2"
    assert de.band(-20.85, -17.15) == "-21 bis -17" and en.band(17, 21) == "+17 to +21"
    assert de.fixed(0.0015, 4) == "0,0015" and de.factor(1.25) == "1,25" and de.value(float("nan")) == "–"


def test_run_with_replications_writes_the_report_in_the_chosen_language_and_logs_progress(tmp_path):
    small = tmp_path / "tiny.toml"
    small.write_text(f'extends = "{ROOT / "scenarios" / "baseline.toml"}"\nareas = ["Altstadt", "Innenstadt"]\nhorizon = 2\n')
    out = tmp_path / "ens"
    command = [
        sys.executable,
        "-m",
        "simulation",
        "run",
        str(small),
        "--replications",
        "2",
        "--workers",
        "1",
        "--lang",
        "en",
        "--out",
        str(out),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "replications: 1/2 finished" in proc.stderr and "replications: 2/2 finished" in proc.stderr  # no terminal: one line each
    page = Page((out / "report.html").read_text(encoding="utf-8"))
    assert page.lang == "en" and page.title.strip() == "Scenario 'tiny': projection 2023–2025"
    assert "with only 2 runs the bands are not reliable" in page.text("head")
    single = subprocess.run(
        [*command[:5], "--years", "1", "--no-figures", "--out", str(tmp_path / "one")], capture_output=True, text=True, timeout=300
    )
    assert single.returncode == 0, single.stderr
    assert "tiny: 2024 projected (1/1 years)" in single.stderr


CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on this machine (CI installs Debian's chromium in .ci/run)")
def test_the_german_report_renders_in_headless_chromium(comparison_dir, tmp_path):
    import matplotlib.image as mpimg

    shot = tmp_path / "shot.png"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,2400"]
    proc = subprocess.run([*command, f"--screenshot={shot}", (comparison_dir / "report.html").as_uri()], capture_output=True, timeout=120)
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    assert pixels.std() > 0.05  # text, tables and figures, not a blank page
    rows = (pixels.min(axis=(1, 2)) < 0.5).mean()  # rows holding dark pixels (text, lines)
    assert rows > 0.2
