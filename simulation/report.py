"""The planner's reports: self-contained HTML pages (figures embedded, no external assets), in
German or English, rendered from ``templates/report.html.j2`` with numbers and dates formatted by
Babel (``localise.Numbers``) and labels from the glossary (``glossary.Glossary``).

- ``write_comparison_report`` (``sozialraum compare``) opens with what the planner asked: per
  scenario its levers (what changed where and from when) and their effects on the services and
  indicators they touch, year by year, in sentences generated from the numbers, with a small chart
  per effect. What is shown follows from ``effects.analyse``, not from a fixed list.
- ``write_run_report`` (one run) and ``write_ensemble_report`` (``run --replications N``) report
  one scenario: key figures per district, area and group, its services side by side.

Section ids (stable for tests): compared, effects (comparisons), results, services (runs),
affected, areas, uncertainty, figures, glossary, assumptions.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Iterable

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from simulation import data, plots
from simulation.catalogue import load_catalogue
from simulation.effects import MEASURES, Lever, Run, ScenarioEffects, Series, Topic, Unit, analyse, area_differences, levers
from simulation.geography import GEOJSON
from simulation.glossary import Glossary, Term
from simulation.localise import Numbers
from simulation.scenario import Scenario
from simulation.vocabulary import CITY

MIN_RELIABLE_REPLICATIONS = 10
MAX_MAPS = 3  # per scenario
RUN_KEY_INDICATORS = [
    ("population", "persons"),
    ("population", "persons_0_2"),
    ("population", "persons_75plus"),
    ("population", "persons_migration_background"),
    ("households", "households"),
    ("housing", "dwellings"),
    ("housing", "displaced_households"),
    ("cohesion", "cohesion_index"),
    ("cohesion", "alone_75plus_no_contact"),
]
AREA_KEY_INDICATORS = [("population", "persons"), ("population", "persons_0_2"), ("population", "persons_75plus")]

TEXT = {
    "de": {
        "title_compare": "Szenariovergleich: {names}",
        "subtitle_compare": "Verglichen mit der Basis „{base}“ · {runs} je Szenario · {y0}–{y1} · erstellt am {date}",
        "title_run": "Szenario „{name}“: Projektion {y0}–{y1}",
        "subtitle_run": "{runs} · Startwert {seed} · erstellt am {date}",
        "runs": "{n} Läufe",
        "times": "{n}-mal",
        "once": "einmal",
        "one_run": "ein Lauf",
        "compared": "Was verglichen wurde",
        "run": "Was gerechnet wurde",
        "effects": "Was die Maßnahmen bewirken",
        "results": "Überblick je Sozialrathausbezirk",
        "services": "Angebote: Nachfrage, Kapazität, Versorgte und ungedeckter Bedarf",
        "affected": "Wer betroffen ist",
        "areas": "Ergebnisse je Stadtteil",
        "uncertainty": "Wie sicher sind die Ergebnisse?",
        "figures": "Weitere Abbildungen",
        "glossary": "Begriffe",
        "assumptions": "Annahmen und Datenquellen",
        "intro_compare": "Der Bericht vergleicht {n} Szenario(s) mit der Basis „{base}“, {y0}–{y1}. Jedes Szenario wurde {times} "
        "gerechnet (Startwert {seed}); Lauf i jedes Szenarios nutzt dieselben Zufallszahlen wie Lauf i der Basis, so dass "
        "Unterschiede auf die Maßnahme zurückgehen und nicht auf Zufall. Alle Werte sind Mittelwerte über die Läufe.",
        "intro_run": "Szenario „{name}“, {y0}–{y1}, {runs} mit Startwert {seed}, {where}. Alle Werte sind {mean}.",
        "mean_runs": "Mittelwerte über die Läufe",
        "mean_one": "Werte dieses einen Laufs",
        "whole_city": "ganze Stadt",
        "some_areas": "{n} Stadtteile ({districts})",
        "scenario": "Szenario „{name}“",
        "levers": "Was das Szenario gegenüber der Basis ändert:",
        "levers_run": "Maßnahmen dieses Szenarios:",
        "no_levers": "Keine Maßnahme gegenüber der Basis.",
        "no_levers_run": "Keine Maßnahme (Angebote, Inanspruchnahme, Wohnungsbau, Ehrenamt oder Zuwanderung) in diesem Szenario.",
        "no_effect": "Kein klarer Unterschied zur Basis in den gerechneten Jahren.",
        "side_effect": "Nicht direkt Ziel einer Maßnahme, aber klar verändert.",
        "other_effects": "Weitere klare Wirkungen",
        "open": "{when} {where}: neues Angebot „{service}“ ({capacity} {unit}).",
        "expand": "{when} {where}: „{service}“ wird um {capacity} {unit} erweitert.",
        "shrink": "{when} {where}: „{service}“ wird um {capacity} {unit} verkleinert.",
        "close": "{when} {where}: „{service}“ wird geschlossen.",
        "take_up": "{when} {where}: Die Inanspruchnahme von „{service}“ ist {factor}-mal so hoch wie in der Basis, für {who}.",
        "service_override": "„{service}“: geänderte Werte des Angebots ({fields}).",
        "housing": "{when} {where}: {dwellings} neue Wohnungen, verteilt auf {years} Jahr(e).",
        "volunteer_programme": "{when} {where}: Ehrenamtsprogramm, Engagement {factor}-mal so hoch, {hours} koordinierte Stunden im Jahr.",
        "in_migration": "{when}: geänderte Zuwanderung ({details}).",
        "other": "Geänderte Annahme: {field}.",
        "from_year": "Ab {year}",
        "all_groups": "alle Herkunftsgruppen",
        "ages_from": "ab {a} Jahren",
        "ages_to": "bis {b} Jahre",
        "ages_range": "im Alter von {a} bis {b} Jahren",
        "persons_per_year": "{n} Zuziehende im Jahr",
        "abroad": "Saldo mit dem Ausland {n} je 1.000 Einwohner",
        "origin_weights": "Gewichte nach Herkunft geändert",
        "family_weight": "Gewicht der Familien {n}",
        "in_area": "im Stadtteil {a}",
        "in_district": "im Sozialrathausbezirk {a}",
        "in_city": "in ganz Frankfurt",
        "in_run": "in allen gerechneten Stadtteilen",
        "area": "Stadtteil {a}",
        "district": "Sozialrathausbezirk {a}",
        "run_areas": "Alle gerechneten Stadtteile",
        "period_one": "im Jahr {y}",
        "period_range": "in den Jahren {y0}–{y1}",
        "period_from": "ab {y}",
        "band": "90-%-Bänder der Jahre: {band}",
        "no_band": "ohne Band: nur ein Lauf",
        "higher": "höher",
        "lower": "niedriger",
        "more": "mehr",
        "fewer": "weniger",
        "capacity_sentence": "Die Kapazität ist {period} um {n} {unit} {dir}.",
        "demand_sentence": "Die Nachfrage ist {period} im Mittel um {n} {unit} {dir} ({band}).",
        "served_sentence": "{period} werden im Mittel {n} {unit} {dir} versorgt ({band}).",
        "unmet_sentence": "Der ungedeckte Bedarf ist {period} im Mittel um {n} {unit} {dir} ({band}).",
        "fades": "Ab {y} ist kein klarer Unterschied mehr zu sehen.",
        "later": "{period} dagegen im Mittel {n} ({band}).",
        "why_none": "Der ungedeckte Bedarf steigt, weil mehr Menschen das Angebot suchen{reason}: Die Nachfrage wächst im Mittel um "
        "{demand}, die Zahl der Versorgten aber nicht.",
        "why": "Der ungedeckte Bedarf steigt, weil mehr Menschen das Angebot suchen{reason}: Die Nachfrage wächst im Mittel um {demand}, "
        "die Zahl der Versorgten nur um {served}.",
        "why_take_up": " (höhere Inanspruchnahme laut Szenario)",
        "unit_none": "Kein klarer Unterschied.",
        "indicator_sentence": "{label}: {period} im Mittel {signed} {unit} gegenüber der Basis ({band}).",
        "year": "Jahr",
        "measure_capacity": "Kapazität ({unit})",
        "capacity_users": "Kapazität (umgerechnet in Nutzende)",
        "service_table": "{service}, {unit}: Werte mit Szenario, darunter der Unterschied zur Basis",
        "more_units": "Dieselbe Tabelle für weitere Gebiete",
        "effect_chart": "{service}: Unterschied zur Basis",
        "effect_caption": "Mittelwert des Unterschieds je Jahr mit 90-%-Band (5. bis 95. Perzentil der gepaarten Unterschiede über {n} Läufe).",
        "effect_caption_one": "Unterschied je Jahr aus einem Lauf, ohne Band.",
        "indicator": "Kennzahl",
        "unit_col": "Gebiet",
        "period": "Zeitraum",
        "mean_difference": "Mittlerer Unterschied",
        "band_col": "90-%-Band",
        "baseline": "Basis",
        "with_scenario": "Mit Szenario",
        "difference": "Unterschied",
        "base_year": "Basisjahr {y}",
        "last_year": "Endjahr {y}",
        "change": "Veränderung",
        "band_last": "90-%-Band {y}",
        "results_caption": "Szenario „{name}“: Unterschied zur Basis (Mittelwert), darunter das 90-%-Band",
        "service": "Angebot",
        "group": "Gruppe",
        "affected_intro": "Ungedeckter Bedarf nach Gruppen, je Sozialrathausbezirk{city}, im Jahr des größten Unterschieds.",
        "affected_city": " und für alle gerechneten Stadtteile",
        "no_groups": "Keine Gruppe ist klar betroffen.",
        "map_title": "{label}: Unterschied zur Basis, {year}",
        "map_label": "Unterschied ({unit})",
        "map_caption_peak": "Szenario „{name}“, Jahr des größten Unterschieds. Grau: nicht gerechnete Stadtteile.",
        "map_caption_year": "Szenario „{name}“, gewähltes Jahr. Grau: nicht gerechnete Stadtteile.",
        "no_polygon": "Ohne eigene Fläche in der Karte (Werte in der Tabelle): {areas}.",
        "area_table": "Stadtteile mit klarem Unterschied im Jahr des größten Unterschieds",
        "no_area_effects": "In keinem Stadtteil ein klarer Unterschied.",
        "small": "kleiner Stadtteil: Werte unsicher",
        "uncertainty_compare": "Das Modell rechnet jede Zukunft {reps}-mal mit anderen Zufallszahlen. Tabellen, Sätze und Abbildungen zeigen "
        "durchgehend den Mittelwert über diese Läufe. Das Band ist das 90-%-Band der gepaarten Unterschiede: das 5. bis 95. Perzentil "
        "der Unterschiede Szenario − Basis, Lauf für Lauf. Als klarer Unterschied gilt ein Jahr, in dem das Band die Null nicht "
        "enthält und der Mittelwert mindestens ½ Person (bzw. Haushalt, Platz), 0,002 auf einem Index oder 0,1 bei einer Quote "
        "beträgt. Die Bänder erfassen den Zufall im Modell, nicht die Unsicherheit der Annahmen: Diese stehen im letzten Abschnitt "
        "und sollten mit Fachleuten geprüft werden.",
        "uncertainty_run": "Das Modell hat diese Zukunft {reps}-mal gerechnet. Tabellen und Abbildungen zeigen den Mittelwert über die Läufe "
        "und das 90-%-Band: das 5. bis 95. Perzentil der Läufe. Die Bänder erfassen den Zufall im Modell, nicht die Unsicherheit der "
        "Annahmen (letzter Abschnitt).",
        "uncertainty_one": "Dies ist ein einziger Lauf: Wie stark der Zufall die Werte verändert, lässt sich daraus nicht sagen. Für "
        "Bänder mindestens {min} Läufe rechnen (sozialraum run … --replications {min}) und Maßnahmen mit sozialraum compare vergleichen.",
        "small_text": "Stadtteile mit weniger als {small} Einwohnerinnen und Einwohnern sind markiert, weil dort wenige Haushalte die Werte stark verändern.",
        "warn_few": "Achtung: Mit nur {reps} Läufen sind die Bänder nicht verlässlich. Für belastbare Aussagen mindestens {min} Läufe rechnen.",
        "warn_one": "Achtung: Nur ein Lauf – ohne Bänder lässt sich nicht sagen, ob ein Unterschied Zufall ist. Mindestens {min} Läufe rechnen.",
        "fan_title": "{label}: Basis und Szenarien",
        "glossary_intro": "Was die Kennzahlen dieses Berichts messen und was ein höherer Wert bedeutet.",
        "assumptions_intro": "Annahmen aller Läufe (Quellen und Begründungen in den Szenariodateien):",
        "sources": "Gelesene Datendateien (Herkunft: calibration/data/PROVENANCE.md)",
        "service_levels": "Letztes Jahr ({y}), darunter die Veränderung seit dem Basisjahr ({y0})",
        "lever_years": "{service}, {unit}: Werte je Jahr",
        "group_table": "{unit}: ungedeckter Bedarf nach Gruppen",
        "none": "–",
        "fields": {
            "take_up": "Inanspruchnahme",
            "low_income_factor": "Faktor für geringes Einkommen",
            "units_per_user": "Einheiten je Nutzendem",
            "distance_decay_km": "Abnahme mit der Entfernung",
            "max_distance_km": "größte Entfernung",
            "base_coverage": "Versorgungsgrad im Basisjahr",
        },
        "sections": {
            "base_year": "Basisjahr",
            "horizon": "Zeitraum",
            "seed": "Startwert",
            "areas": "gerechnete Stadtteile",
            "data_dir": "Datenordner",
            "population": "Ausgangsbevölkerung",
            "mortality": "Sterblichkeit",
            "fertility": "Geburten",
            "households": "Haushaltsübergänge",
            "in_migration": "Zuwanderung",
            "out_migration": "Fortzüge",
            "mobility": "Umzüge in der Stadt",
            "housing_market": "Wohnungsmarkt",
            "volunteering": "Ehrenamt",
            "cohesion": "Zusammenhaltsindex",
            "income": "Einkommen",
        },
    },
    "en": {
        "title_compare": "Scenario comparison: {names}",
        "subtitle_compare": "Compared with the baseline '{base}' · {runs} per scenario · {y0}–{y1} · made on {date}",
        "title_run": "Scenario '{name}': projection {y0}–{y1}",
        "subtitle_run": "{runs} · seed {seed} · made on {date}",
        "runs": "{n} runs",
        "times": "{n} times",
        "once": "once",
        "one_run": "one run",
        "compared": "What was compared",
        "run": "What was run",
        "effects": "What the interventions do",
        "results": "Overview per Sozialrathaus district",
        "services": "Services: demand, capacity, served and unmet need",
        "affected": "Who is affected",
        "areas": "Results per area (Stadtteil)",
        "uncertainty": "How sure are the results?",
        "figures": "More figures",
        "glossary": "Terms",
        "assumptions": "Assumptions and data sources",
        "intro_compare": "This report compares {n} scenario(s) with the baseline '{base}', {y0}–{y1}. Each was run {times} (seed "
        "{seed}); run i of every scenario uses the same random numbers as run i of the baseline, so differences show the "
        "intervention, not chance. All values are means over the runs.",
        "intro_run": "Scenario '{name}', {y0}–{y1}, {runs} with seed {seed}, {where}. All values are {mean}.",
        "mean_runs": "means over the runs",
        "mean_one": "values of this one run",
        "whole_city": "the whole city",
        "some_areas": "{n} areas ({districts})",
        "scenario": "Scenario '{name}'",
        "levers": "What the scenario changes against the baseline:",
        "levers_run": "Interventions of this scenario:",
        "no_levers": "No intervention against the baseline.",
        "no_levers_run": "No intervention (services, take-up, housing, volunteering or in-migration) in this scenario.",
        "no_effect": "No clear difference from the baseline in the projected years.",
        "side_effect": "Not the aim of an intervention, but clearly changed.",
        "other_effects": "Other clear effects",
        "open": "{when} {where}: a new offering '{service}' with {capacity} {unit}.",
        "expand": "{when} {where}: '{service}' grows by {capacity} {unit}.",
        "shrink": "{when} {where}: '{service}' shrinks by {capacity} {unit}.",
        "close": "{when} {where}: '{service}' closes.",
        "take_up": "{when} {where}: take-up of '{service}' is {factor} times the baseline's, for {who}.",
        "service_override": "'{service}': changed values of the service ({fields}).",
        "housing": "{when} {where}: {dwellings} new dwellings, spread over {years} year(s).",
        "volunteer_programme": "{when} {where}: a volunteer programme, volunteering {factor} times as high, {hours} coordinated hours a year.",
        "in_migration": "{when}: changed in-migration ({details}).",
        "other": "Changed assumption: {field}.",
        "from_year": "From {year}",
        "all_groups": "all origin groups",
        "ages_from": "aged {a} and over",
        "ages_to": "aged up to {b}",
        "ages_range": "aged {a} to {b}",
        "persons_per_year": "{n} arrivals a year",
        "abroad": "net migration from abroad {n} per 1,000 residents",
        "origin_weights": "weights by origin changed",
        "family_weight": "weight of families {n}",
        "in_area": "in the area {a}",
        "in_district": "in the Sozialrathaus district {a}",
        "in_city": "in the whole city",
        "in_run": "in all simulated areas",
        "area": "Area {a}",
        "district": "Sozialrathaus district {a}",
        "run_areas": "All simulated areas",
        "period_one": "in {y}",
        "period_range": "in {y0}–{y1}",
        "period_from": "from {y}",
        "band": "90 % bands of the years: {band}",
        "no_band": "no band: one run only",
        "higher": "higher",
        "lower": "lower",
        "more": "more",
        "fewer": "fewer",
        "capacity_sentence": "Capacity is {dir} by {n} {unit} {period}.",
        "demand_sentence": "Demand is {dir} by {n} {unit} on average {period} ({band}).",
        "served_sentence": "{period}, on average {n} {dir} {unit} are served ({band}).",
        "unmet_sentence": "Unmet need is {dir} by {n} {unit} on average {period} ({band}).",
        "fades": "From {y} on there is no clear difference.",
        "later": "{period}, on the other hand, {n} on average ({band}).",
        "why_none": "Unmet need rises because more people seek the service{reason}: demand grows by {demand} on average, the "
        "number served does not.",
        "why": "Unmet need rises because more people seek the service{reason}: demand grows by {demand} on average, the number "
        "served by only {served}.",
        "why_take_up": " (higher take-up in the scenario)",
        "unit_none": "No clear difference.",
        "indicator_sentence": "{label}: {signed} {unit} against the baseline on average {period} ({band}).",
        "year": "Year",
        "measure_capacity": "Capacity ({unit})",
        "capacity_users": "Capacity (converted to users)",
        "service_table": "{service}, {unit}: values with the scenario, below them the difference from the baseline",
        "more_units": "The same table for other units",
        "effect_chart": "{service}: difference from the baseline",
        "effect_caption": "Mean difference per year with its 90 % band (5th to 95th percentile of the paired differences over {n} runs).",
        "effect_caption_one": "Difference per year from one run, no band.",
        "indicator": "Indicator",
        "unit_col": "Unit",
        "period": "Period",
        "mean_difference": "Mean difference",
        "band_col": "90 % band",
        "baseline": "Baseline",
        "with_scenario": "With scenario",
        "difference": "Difference",
        "base_year": "Base year {y}",
        "last_year": "Last year {y}",
        "change": "Change",
        "band_last": "90 % band {y}",
        "results_caption": "Scenario '{name}': difference from the baseline (mean), below it the 90 % band",
        "service": "Service",
        "group": "Group",
        "affected_intro": "Unmet need by group, per Sozialrathaus district{city}, in the year of the largest difference.",
        "affected_city": " and for all simulated areas",
        "no_groups": "No group is clearly affected.",
        "map_title": "{label}: difference from the baseline, {year}",
        "map_label": "Difference ({unit})",
        "map_caption_peak": "Scenario '{name}', year of the largest difference. Grey: areas not simulated.",
        "map_caption_year": "Scenario '{name}', chosen year. Grey: areas not simulated.",
        "no_polygon": "Without an area of their own on the map (values in the table): {areas}.",
        "area_table": "Areas with a clear difference in the year of the largest difference",
        "no_area_effects": "No area has a clear difference.",
        "small": "small area: figures uncertain",
        "uncertainty_compare": "The model computes every future {reps} times with different random numbers. Tables, sentences and figures "
        "show the mean over these runs throughout. The band is the 90 % band of the paired differences: the 5th to 95th percentile "
        "of the differences scenario − baseline, run by run. A difference counts as clear in a year when the band leaves out zero "
        "and the mean is at least half a person (or household, place), 0.002 on an index or 0.1 on a ratio. The bands cover "
        "chance in the model, not uncertainty in the assumptions: those are listed in the last section and should be checked "
        "with experts.",
        "uncertainty_run": "The model computed this future {reps} times. Tables and figures show the mean over the runs and the 90 % band: "
        "the 5th to 95th percentile of the runs. The bands cover chance in the model, not uncertainty in the assumptions (last section).",
        "uncertainty_one": "This is a single run: it cannot tell how much chance changes the values. For bands run at least {min} "
        "replications (sozialraum run … --replications {min}) and compare interventions with sozialraum compare.",
        "small_text": "Areas with fewer than {small} residents are flagged, because there a few households change the figures a lot.",
        "warn_few": "Caution: with only {reps} runs the bands are not reliable. Run at least {min} for robust statements.",
        "warn_one": "Caution: one run only – without bands it cannot be told whether a difference is chance. Run at least {min}.",
        "fan_title": "{label}: baseline and scenarios",
        "glossary_intro": "What the indicators of this report measure and what a higher value means.",
        "assumptions_intro": "Assumptions of every run (sources and reasons in the scenario files):",
        "sources": "Data files read (provenance: calibration/data/PROVENANCE.md)",
        "service_levels": "Last year ({y}), below it the change since the base year ({y0})",
        "lever_years": "{service}, {unit}: values per year",
        "group_table": "{unit}: unmet need by group",
        "none": "–",
        "fields": {
            "take_up": "take-up",
            "low_income_factor": "low-income factor",
            "units_per_user": "units per user",
            "distance_decay_km": "decay with distance",
            "max_distance_km": "largest distance",
            "base_coverage": "coverage in the base year",
        },
        "sections": {
            "base_year": "base year",
            "horizon": "period",
            "seed": "seed",
            "areas": "simulated areas",
            "data_dir": "data folder",
            "population": "base population",
            "mortality": "mortality",
            "fertility": "fertility",
            "households": "household transitions",
            "in_migration": "in-migration",
            "out_migration": "out-migration",
            "mobility": "moves within the city",
            "housing_market": "housing market",
            "volunteering": "volunteering",
            "cohesion": "cohesion index",
            "income": "income",
        },
    },
}


# ---- the page ---------------------------------------------------------------------------------
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("simulation", "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True)


def _render(path: Path, lang: str, title: str, subtitle: str, warnings: list[str], sections: list[dict], data: dict) -> Path:
    payload = Markup(json.dumps(data, ensure_ascii=False, default=str).replace("</", "<\\/"))
    page = (
        _environment()
        .get_template("report.html.j2")
        .render(lang=lang, title=title, subtitle=subtitle, warnings=warnings, sections=sections, data_json=payload)
    )
    Path(path).write_text(page, encoding="utf-8")
    return Path(path)


def _section(sid: str, heading: str, blocks: list[dict]) -> dict:
    return {"id": sid, "heading": heading, "blocks": blocks}


def _p(text: str, style: str = "") -> dict:
    return {"kind": "p", "text": text, "style": style}


def _table(header: list[str], rows: list[list], caption: str = "", text_columns: int = 1) -> dict:
    return {"kind": "table", "header": header, "rows": rows, "caption": caption, "text_columns": text_columns}


def _figure(picture: plots.Picture) -> dict:
    src = "data:image/png;base64," + base64.b64encode(Path(picture.path).read_bytes()).decode("ascii")
    return {"kind": "figure", "src": src, "title": picture.title, "caption": picture.caption}


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


class Context:
    """What every part of a report needs: language, number formats, glossary, the run's areas and
    how units are named (city rows of a run of some areas are "all simulated areas")."""

    def __init__(self, lang: str, scenario: Scenario, replications: int):
        self.lang, self.t, self.n = lang, TEXT[lang], replications
        self.fmt = Numbers(lang)
        data_dir = Path(scenario.data_dir) if scenario.data_dir else data.DEFAULT_DATA_DIR
        self.g = Glossary(lang, load_catalogue(data_dir))
        areas = data.load_areas(data_dir).frame
        self.numbers = dict(zip(areas["area"], areas["area_nr"].astype(int)))
        self.district_of = dict(zip(areas["area"], areas["sozialrathaus"]))
        self.boundaries = data_dir / GEOJSON
        self.whole_city = scenario.areas == "city"
        self.used: set[tuple[str, str]] = set()  # codes shown: the glossary section explains them

    def term(self, table: str, indicator: str) -> Term:
        """The glossary entry of a code; the glossary section lists every one the report used."""
        self.used.add((table, indicator))
        return self.g.term(table, indicator)

    def unit_name(self, unit: Unit) -> str:
        if unit.level == "area":
            return self.t["area"].format(a=unit.area)
        if unit.level == "sozialrathaus":
            return self.t["district"].format(a=unit.area)
        return CITY if self.whole_city else self.t["run_areas"]

    def unit_in(self, unit: Unit) -> str:
        if unit.level == "area":
            return self.t["in_area"].format(a=unit.area)
        if unit.level == "sozialrathaus":
            return self.t["in_district"].format(a=unit.area)
        return self.t["in_city"] if self.whole_city else self.t["in_run"]

    def band(self, low: float, high: float, family: str, signed: bool = True) -> str:
        """The 90 % band of a difference (signed) or a level; a dash for one run."""
        return self.fmt.band(low, high, family, signed) if self.n > 1 and not np.isnan(low) else self.t["none"]

    def times(self) -> str:
        return self.t["once"] if self.n == 1 else self.t["times"].format(n=self.n)

    def diff_cell(self, diff: float, low: float, high: float, family: str) -> dict:
        """A difference with its band below it (no band for one run)."""
        quiet = self.n == 1 or (diff == 0 and low == 0 and high == 0)
        return {"text": self.fmt.signed(diff, family), "note": "" if quiet else self.band(low, high, family)}

    def warnings(self) -> list[str]:
        if self.n == 1:
            return [self.t["warn_one"].format(min=MIN_RELIABLE_REPLICATIONS)]
        if self.n < MIN_RELIABLE_REPLICATIONS:
            return [self.t["warn_few"].format(reps=self.n, min=MIN_RELIABLE_REPLICATIONS)]
        return []

    def runs(self) -> str:
        return self.t["one_run"] if self.n == 1 else self.t["runs"].format(n=self.n)

    def today(self) -> str:
        return self.fmt.date(dt.date.today())


# ---- levers -------------------------------------------------------------------------------------
def _lever_text(ctx: Context, lever: Lever) -> str:
    t, fmt, g = ctx.t, ctx.fmt, ctx.g
    when = t["from_year"].format(year=lever.year) if lever.year else ""
    where = ctx.unit_in(Unit("area", lever.areas[0])) if lever.areas else ctx.unit_in(Unit("city", CITY))
    d = lever.detail
    if lever.kind == "offering":
        return t[d.action].format(
            when=when, where=where, service=g.service(d.service), capacity=fmt.factor(d.capacity), unit=g.service_unit(d.service)
        )
    if lever.kind == "take_up":
        groups = (
            t["all_groups"]
            if len(d.migration_background) == 3
            else ", ".join(g.group("migration_background", o) for o in d.migration_background)
        )
        if d.min_age > 0 and d.max_age < 120:
            groups += ", " + t["ages_range"].format(a=d.min_age, b=d.max_age)
        elif d.min_age > 0:
            groups += ", " + t["ages_from"].format(a=d.min_age)
        elif d.max_age < 120:
            groups += ", " + t["ages_to"].format(b=d.max_age)
        return t["take_up"].format(when=when, where=where, service=g.service(d.service), factor=fmt.factor(d.factor), who=groups)
    if lever.kind == "service":
        fields = ", ".join(t["fields"][k] for k in d.changes())
        return t["service_override"].format(service=g.service(lever.services[0]), fields=fields)
    if lever.kind == "housing":
        return t["housing"].format(when=when, where=where, dwellings=fmt.integer(d.dwellings), years=d.years)
    if lever.kind == "volunteer_programme":
        return t["volunteer_programme"].format(
            when=when, where=where, factor=fmt.factor(d.propensity_factor), hours=fmt.factor(d.coordination_hours)
        )
    if lever.kind == "in_migration":
        details = []
        if d.persons_per_year is not None:
            details.append(t["persons_per_year"].format(n=fmt.factor(d.persons_per_year)))
        if d.abroad_net_per_1000 is not None:
            details.append(t["abroad"].format(n=fmt.factor(d.abroad_net_per_1000)))
        if d.migration_background_weights is not None:
            details.append(t["origin_weights"])
        if d.family_weight is not None:
            details.append(t["family_weight"].format(n=fmt.factor(d.family_weight)))
        return t["in_migration"].format(when=when, details="; ".join(details))
    return t["other"].format(field=t["sections"].get(d, d))


def _own_levers(scenario: Scenario) -> list[Lever]:
    """The levers of a scenario on its own: against the same scenario without them."""
    bare = scenario.model_copy(
        update={
            "offerings": [],
            "take_up": [],
            "services": {},
            "housing": [],
            "volunteer_programmes": [],
            "in_migration": scenario.in_migration.model_copy(update={"changes": []}),
        }
    )
    return levers(bare, scenario)


def _description(ctx: Context, scenario: dict) -> str:
    return scenario.get("description_de" if ctx.lang == "de" else "description") or ""


# ---- effects of a comparison ------------------------------------------------------------------
def _period(ctx: Context, run: Run, last_year: int) -> str:
    if run.last == last_year and run.first < run.last:
        return ctx.t["period_from"].format(y=run.first)
    if run.first == run.last:
        return ctx.t["period_one"].format(y=run.first)
    return ctx.t["period_range"].format(y0=run.first, y1=run.last)


def _band_text(ctx: Context, run: Run, family: str = "count") -> str:
    return ctx.t["band"].format(band=ctx.fmt.band(run.low, run.high, family)) if ctx.n > 1 else ctx.t["no_band"]


def _describe(ctx: Context, series: Series, first: str, family: str = "count", **words) -> list[str]:
    """Sentences about a series: ``first`` (a TEXT key) for its first stretch of clear years, one
    clause per later stretch (at most two, e.g. when the sign turns) and, when the clear years end
    before the last year, that the difference fades."""
    t, last_year = ctx.t, int(series.years[-1])
    runs = series.runs()
    head = runs[0]
    up = head.mean > 0
    text = t[first].format(
        period=_period(ctx, head, last_year),
        n=ctx.fmt.value(abs(head.mean), family),
        signed=ctx.fmt.signed(head.mean, family),
        band=_band_text(ctx, head, family),
        dir=words.get("up" if up else "down", ""),
        **{k: v for k, v in words.items() if k not in ("up", "down")},
    )
    out = [_first_upper(" ".join(text.split()))]  # an empty word (no unit) leaves no double space
    for run in runs[1:3]:
        later = t["later"].format(
            period=_period(ctx, run, last_year), n=ctx.fmt.signed(run.mean, family), band=_band_text(ctx, run, family)
        )
        out.append(_first_upper(later))
    if runs[-1].last < last_year:
        out.append(t["fades"].format(y=runs[-1].last + 1))
    return out


def _service_sentences(ctx: Context, topic: Topic, unit: Unit, take_up_lever: bool) -> str:
    """What happened to one service in one unit, from the yearly differences: capacity, demand,
    served, unmet, and why unmet need rose when demand rose with it."""
    t, fmt, g, name = ctx.t, ctx.fmt, ctx.g, topic.indicator
    s = {m: topic.get(f"{name}.{m}", unit) for m in MEASURES}
    users = g.service_users(name)
    words = {
        "capacity": {"unit": g.service_unit(name), "up": t["higher"], "down": t["lower"]},
        "demand": {"unit": users, "up": t["higher"], "down": t["lower"]},
        "served": {"unit": users, "up": t["more"], "down": t["fewer"]},
        "unmet": {"unit": users, "up": t["higher"], "down": t["lower"]},
    }
    out = []
    for measure in MEASURES:
        series = s[measure]
        if series is not None and series.any_clear:
            out += _describe(ctx, series, f"{measure}_sentence", **words[measure])
    unmet, demand, served = s["unmet"], s["demand"], s["served"]
    if unmet is not None and demand is not None and unmet.any_clear and demand.any_clear:
        years = unmet.clear & demand.clear
        if years.any() and unmet.diff[years].mean() > 0 and demand.diff[years].mean() > 0:
            gained = served.diff[years].mean() if served is not None else 0.0
            reason = t["why_take_up"] if take_up_lever else ""
            if gained >= 0.5:
                out.append(t["why"].format(reason=reason, demand=fmt.value(demand.diff[years].mean()), served=fmt.value(gained)))
            else:
                out.append(t["why_none"].format(reason=reason, demand=fmt.value(demand.diff[years].mean())))
    return " ".join(dict.fromkeys(out)) if out else t["unit_none"]  # a fading told once, not per measure


def _indicator_sentence(ctx: Context, series: Series) -> str:
    term = ctx.term(series.table, series.indicator)
    unit = term.unit if term.family != "index" else ""
    return " ".join(_describe(ctx, series, "indicator_sentence", term.family, label=term.label, unit=unit))


def _table_years(years: np.ndarray, start: int | None) -> list[int]:
    """The years of a yearly table: all of them up to 15, else the base year, the five years from
    ``start`` (the lever's year) and every fifth year."""
    years = [int(y) for y in years]
    if len(years) <= 15:
        return years
    start = start or years[1]
    keep = {years[0], years[-1], *range(start - 1, start + 5), *years[::5]}
    return [y for y in years if y in keep]


def _service_table(ctx: Context, topic: Topic, unit: Unit, start: int | None) -> dict | None:
    """Demand, capacity, served and unmet side by side, year by year: the scenario's values with the difference below."""
    t, fmt, g, name = ctx.t, ctx.fmt, ctx.g, topic.indicator
    series = [topic.get(f"{name}.{m}", unit) for m in MEASURES]
    if any(s is None for s in series):
        return None
    for m in MEASURES:
        ctx.term("services", f"{name}.{m}")
    header = [t["year"], *(t["measure_capacity"].format(unit=g.service_unit(name)) if m == "capacity" else g.measure(m) for m in MEASURES)]
    rows = []
    for year in _table_years(series[0].years, start):
        i = series[0].at(year)
        rows.append([str(year), *({"text": fmt.value(s.value[i]), "note": fmt.signed(s.diff[i])} for s in series)])
    caption = t["service_table"].format(service=g.service(name), unit=ctx.unit_name(unit))
    return _table(header, rows, caption)


def _lines(ctx: Context, topic: Topic, unit: Unit) -> list[plots.Line]:
    """The lines of an effect panel: a service's measures that change, or the indicator."""
    out = []
    codes = [(f"{topic.indicator}.{m}", m) for m in MEASURES] if topic.is_service else [(topic.indicator, None)]
    for code, measure in codes:
        s = topic.get(code, unit)
        if s is None or not (np.abs(s.diff) > 0).any():
            continue
        label = ctx.g.measure(measure) if measure else ctx.term(topic.table, code).label
        colour = plots.MEASURE_COLOURS[measure] if measure else plots.OKABE_ITO[0]
        low, high = (s.low, s.high) if ctx.n > 1 else (s.diff, s.diff)
        out.append(plots.Line(label, colour, s.years, s.diff, low, high))
    return out


def _effect_picture(ctx: Context, topic: Topic, path: Path, scenario: str) -> plots.Picture | None:
    panels = [(ctx.unit_name(u), lines) for u in topic.units if (lines := _lines(ctx, topic, u))]
    if not panels:
        return None
    if topic.is_service:
        label, unit, family = ctx.g.service(topic.indicator), ctx.g.service_users(topic.indicator), "count"
    else:
        term = ctx.term(topic.table, topic.indicator)
        label, unit, family = term.label, term.unit, term.family
    title = f"{ctx.t['scenario'].format(name=scenario)} – {ctx.t['effect_chart'].format(service=label)}"
    picture = plots.effect_chart(panels, title, unit, family, path, ctx.fmt)
    caption = ctx.t["effect_caption"].format(n=ctx.n) if ctx.n > 1 else ctx.t["effect_caption_one"]
    return plots.Picture(picture.path, picture.title, caption)


def _slug(*parts: str) -> str:
    return "_".join("".join(ch if ch.isalnum() else "_" for ch in p) for p in parts)


def _effects_blocks(ctx: Context, effects: ScenarioEffects, scenario: dict, out: Path, figures: bool) -> list[dict]:
    t = ctx.t
    blocks: list[dict] = [{"kind": "h3", "text": t["scenario"].format(name=effects.name)}]
    description = _description(ctx, scenario)
    if description:
        blocks.append(_p(description, "lead"))
    lever_texts = [_lever_text(ctx, lever) for lever in effects.levers]
    blocks.append(_p(t["levers"] if lever_texts else t["no_levers"]))
    if lever_texts:
        blocks.append({"kind": "list", "items": lever_texts})
    if not effects.topics:
        blocks.append(_p(t["no_effect"]))
    take_up = {s for lever in effects.levers if lever.kind == "take_up" for s in lever.services}
    start = min((lever.year for lever in effects.levers if lever.year), default=None)
    services = [topic for topic in effects.topics if topic.is_service]
    for topic in services:
        blocks.append({"kind": "h4", "text": ctx.g.service(topic.indicator)})
        if not topic.from_lever:
            blocks.append(_p(t["side_effect"]))
        items = [f"{_first_upper(ctx.unit_name(u))}: {_service_sentences(ctx, topic, u, topic.indicator in take_up)}" for u in topic.units]
        blocks.append({"kind": "list", "items": items, "style": "effects"})
        if figures and (picture := _effect_picture(ctx, topic, out / f"effect_{_slug(effects.name, topic.indicator)}.png", effects.name)):
            blocks.append(_figure(picture))
        tables = [table for u in topic.units if (table := _service_table(ctx, topic, u, start))]
        if tables:
            blocks.append(tables[0])
        if len(tables) > 1:
            blocks.append({"kind": "details", "summary": t["more_units"], "blocks": tables[1:]})
    others = [topic for topic in effects.topics if not topic.is_service]
    if others:
        blocks.append({"kind": "h4", "text": t["other_effects"]})
        items = []
        for topic in others:
            for u in topic.units:
                s = topic.get(topic.indicator, u)
                if s is not None and s.any_clear:
                    items.append(f"{_first_upper(ctx.unit_name(u))} – {_indicator_sentence(ctx, s)}")
        blocks.append({"kind": "list", "items": items, "style": "effects"})
        for topic in others:
            if figures and (
                picture := _effect_picture(ctx, topic, out / f"effect_{_slug(effects.name, topic.indicator)}.png", effects.name)
            ):
                blocks.append(_figure(picture))
    return blocks


def _results_blocks(ctx: Context, effects: ScenarioEffects) -> list[dict]:
    """Per scenario: the indicators it touches, per district (and all areas), difference in chosen years."""
    t, fmt = ctx.t, ctx.fmt
    rows, years = [], None
    for topic in effects.topics:
        codes = [f"{topic.indicator}.served", f"{topic.indicator}.unmet"] if topic.is_service else [topic.indicator]
        for code in codes:
            term = ctx.term(topic.table, code)
            for unit in topic.units:
                s = topic.get(code, unit)
                if unit.level == "area" or s is None:
                    continue
                years = years or _table_years(s.years, None)[1:]
                last = len(s.years) - 1
                cells = [ctx.diff_cell(s.diff[s.at(y)], s.low[s.at(y)], s.high[s.at(y)], term.family) for y in years]
                rows.append([term.label, ctx.unit_name(unit), fmt.value(s.baseline[last], term.family), *cells])
    if not rows:
        return [{"kind": "h3", "text": t["scenario"].format(name=effects.name)}, _p(t["no_effect"])]
    header = [t["indicator"], t["unit_col"], f"{t['baseline']} {years[-1]}", *(str(y) for y in years)]
    return [
        {"kind": "h3", "text": t["scenario"].format(name=effects.name)},
        _table(header, rows, t["results_caption"].format(name=effects.name), 2),
    ]


def _affected_blocks(ctx: Context, effects: ScenarioEffects) -> list[dict]:
    t, fmt = ctx.t, ctx.fmt
    blocks: list[dict] = [{"kind": "h3", "text": t["scenario"].format(name=effects.name)}]
    if not effects.groups:
        return blocks + [_p(t["no_groups"])]
    order = {"sozialrathaus": 0, "city": 1}
    rows = []
    for s in sorted(effects.groups, key=lambda s: (order[s.unit.level], s.unit.area, s.indicator)):
        service, group, _ = s.indicator.split(".")
        dimension, name = group.split("=")
        ctx.term("services_unmet", s.indicator)
        i = s.at(s.peak_year())
        rows.append(
            [
                ctx.unit_name(s.unit),
                ctx.g.service(service),
                f"{ctx.g.group(dimension, name)} ({ctx.g.dimension(dimension)})",
                str(s.peak_year()),
                fmt.value(s.baseline[i]),
                fmt.value(s.value[i]),
                fmt.signed(s.diff[i]),
                ctx.band(s.low[i], s.high[i], "count"),
            ]
        )
    header = [t["unit_col"], t["service"], t["group"], t["year"], t["baseline"], t["with_scenario"], t["difference"], t["band_col"]]
    city = t["affected_city"] if any(s.unit.level == "city" for s in effects.groups) else ""
    return blocks + [_p(t["affected_intro"].format(city=city)), _table(header, rows, text_columns=3)]


def _areas_blocks(
    ctx: Context, rows: pd.DataFrame, effects: ScenarioEffects, small: set[str], out: Path, figures: bool, map_year: int | None
) -> list[dict]:
    """Per scenario: a map per chosen indicator and the areas with clear differences."""
    t, fmt = ctx.t, ctx.fmt
    blocks: list[dict] = [{"kind": "h3", "text": t["scenario"].format(name=effects.name)}]
    table_rows, missing = [], set()
    chosen = [(topic, f"{topic.indicator}.unmet" if topic.is_service else topic.indicator) for topic in effects.topics]
    for k, (topic, code) in enumerate(chosen):
        term = ctx.term(topic.table, code)
        year, values = area_differences(rows, topic.table, code, map_year)
        if values.empty:
            continue
        if figures and k < MAX_MAPS:
            picture, no_polygon = plots.area_map(
                values,
                ctx.numbers,
                ctx.boundaries,
                t["map_title"].format(label=term.label, year=year),
                t["map_label"].format(unit=term.unit),
                term.family,
                out / f"map_{_slug(effects.name, code)}_{year}.png",
                fmt,
                highlight=[u.area for u in topic.units if u.level == "area"],
            )
            caption = t["map_caption_year" if map_year else "map_caption_peak"].format(name=effects.name)
            blocks.append(_figure(plots.Picture(picture.path, picture.title, caption)))
            missing.update(no_polygon)
        for unit in [Unit("area", a) for a in values.index]:
            s = effects.comparison.series(topic.table, code, unit)
            if s is None or not s.clear[s.at(year)]:
                continue
            i = s.at(year)
            flag = t["small"] if unit.area in small else ""
            table_rows.append(
                [
                    {"text": unit.area, "flag": flag},
                    term.label,
                    str(year),
                    fmt.value(s.baseline[i], term.family),
                    fmt.value(s.value[i], term.family),
                    fmt.signed(s.diff[i], term.family),
                    ctx.band(s.low[i], s.high[i], term.family),
                ]
            )
    if missing:
        blocks.append(_p(t["no_polygon"].format(areas=", ".join(sorted(missing)))))
    header = [t["unit_col"], t["indicator"], t["year"], t["baseline"], t["with_scenario"], t["difference"], t["band_col"]]
    blocks.append(_table(header, table_rows, t["area_table"], 2) if table_rows else _p(t["no_area_effects"]))
    return blocks


def _fan_pictures(ctx: Context, summaries: dict[str, pd.DataFrame], items: Iterable[tuple[str, str, list[Unit]]], out: Path) -> list[dict]:
    """Levels over time of chosen indicators in chosen units: the baseline and every scenario."""
    blocks = []
    for table, indicator, units in items:
        term = ctx.term(table, indicator)
        rows = {name: summary[(summary["table"] == table) & (summary["indicator"] == indicator)] for name, summary in summaries.items()}
        panels = []
        for unit in units:
            lines = []
            for k, (name, summary) in enumerate(rows.items()):
                s = summary[(summary["level"] == unit.level) & (summary["area"] == unit.area)].sort_values("year")
                if len(s):
                    colour = plots.OKABE_ITO[k % len(plots.OKABE_ITO)]
                    lines.append(
                        plots.Line(
                            name, colour, s["year"].to_numpy(), s["mean"].to_numpy(float), s["p5"].to_numpy(float), s["p95"].to_numpy(float)
                        )
                    )
            if lines:
                panels.append((ctx.unit_name(unit), lines))
        if panels:
            title = ctx.t["fan_title"].format(label=term.label)
            picture = plots.fan_chart(panels, title, term.unit, term.family, out / f"fan_{_slug(indicator)}.png", ctx.fmt, ctx.n)
            blocks.append(_figure(picture))
    return blocks


def _district_units(ctx: Context, rows: pd.DataFrame) -> list[Unit]:
    units = [Unit("sozialrathaus", a) for a in sorted(set(rows.loc[rows["level"] == "sozialrathaus", "area"]))]
    return units + ([Unit("city", CITY)] if len(units) > 1 else [])


def _glossary_blocks(ctx: Context) -> list[dict]:
    return [_p(ctx.t["glossary_intro"]), {"kind": "terms", "items": ctx.g.entries(ctx.used)}]


def _assumptions_blocks(ctx: Context, manifest: dict) -> list[dict]:
    t = ctx.t
    return [
        _p(t["assumptions_intro"]),
        {"kind": "list", "items": [ctx.g.assumption(a) for a in manifest.get("assumptions", [])]},
        {"kind": "h3", "text": t["sources"]},
        {"kind": "code", "items": sorted(manifest.get("input_data_sha256", {}))},
    ]


def _uncertainty_blocks(ctx: Context, threshold: int, compare: bool) -> list[dict]:
    t = ctx.t
    if ctx.n == 1:
        text = t["uncertainty_one"].format(min=MIN_RELIABLE_REPLICATIONS)
    else:
        text = t["uncertainty_compare" if compare else "uncertainty_run"].format(reps=ctx.n)
    blocks = [_p(w, "warning") for w in ctx.warnings()]
    return blocks + [_p(text), _p(t["small_text"].format(small=ctx.fmt.integer(threshold)))]


def write_comparison_report(
    out: Path,
    comparison: pd.DataFrame,
    summaries: dict[str, pd.DataFrame],
    scenarios: list[Scenario],
    manifest: dict,
    lang: str = "de",
    figures: bool = True,
    map_year: int | None = None,
    path: Path | None = None,
) -> Path:
    """Write ``report.html`` of a comparison (figures into ``out``, embedded in the page)."""
    base, n = scenarios[0], int(manifest["replications"])
    ctx = Context(lang, base, n)
    t = ctx.t
    run_areas = sorted(set(comparison.loc[comparison["level"] == "area", "area"]))
    district_of = {a: ctx.district_of[a] for a in run_areas}
    analysed = [analyse(comparison[comparison["scenario"] == s.name], base, s, ctx.g, n, district_of) for s in scenarios[1:]]
    by_name = {s["name"]: s for s in manifest["scenarios"]}
    y0, y1 = manifest["years"]
    small = set(manifest.get("small_areas", []))

    compared = [_p(t["intro_compare"].format(n=len(analysed), base=base.name, y0=y0, y1=y1, times=ctx.times(), seed=manifest["seed"]))]
    effects_blocks, results, affected, areas = [], [], [], []
    for e in analysed:
        rows = comparison[comparison["scenario"] == e.name]
        effects_blocks += _effects_blocks(ctx, e, by_name[e.name], out, figures)
        results += _results_blocks(ctx, e)
        affected += _affected_blocks(ctx, e)
        areas += _areas_blocks(ctx, rows, e, small, out, figures, map_year)
    compared.append({"kind": "list", "items": [f"{s['name']}: {_description(ctx, s)}".rstrip(": ") for s in manifest["scenarios"]]})
    more: list[dict] = []
    if figures:
        units = _district_units(ctx, comparison)
        chosen = {}  # the levers' services: unmet need in the districts (and city) they touch, every scenario beside the baseline
        for e in analysed:
            for topic in e.topics:
                if topic.from_lever:
                    chosen.setdefault(("services", f"{topic.indicator}.unmet"), [u for u in topic.units if u.level != "area"] or units)
        items = [
            ("population", "persons", units),
            ("cohesion", "cohesion_index", units),
            *((tb, code, us) for (tb, code), us in chosen.items()),
        ]
        more = _fan_pictures(ctx, summaries, items, out)
        more.append(_figure(plots.pyramid_comparison(summaries, y1, out / "age_structure.png", ctx.fmt, ctx.unit_name(Unit("city", CITY)))))
    sections = [
        _section("compared", t["compared"], compared),
        _section("effects", t["effects"], effects_blocks),
        _section("results", t["results"], results),
        _section("affected", t["affected"], affected),
        _section("areas", t["areas"], areas),
        _section("uncertainty", t["uncertainty"], _uncertainty_blocks(ctx, manifest.get("small_area_threshold", 5000), True)),
        _section("figures", t["figures"], more),
        _section("glossary", t["glossary"], _glossary_blocks(ctx)),
        _section("assumptions", t["assumptions"], _assumptions_blocks(ctx, manifest)),
    ]
    names = ", ".join(f"„{s.name}“" if lang == "de" else f"'{s.name}'" for s in scenarios[1:])
    title = t["title_compare"].format(names=names)
    subtitle = t["subtitle_compare"].format(base=base.name, runs=ctx.runs(), y0=y0, y1=y1, date=ctx.today())
    data = {k: manifest[k] for k in ("seed", "replications", "years")}
    return _render(path or out / "report.html", lang, title, subtitle, ctx.warnings(), sections, data)


# ---- one scenario: a run or an ensemble ---------------------------------------------------------
class Levels:
    """The metrics of one scenario with mean and 90 % band (5th and 95th percentile; NaN for one
    run), looked up by (table, indicator, level, area)."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.first, self.last = int(frame["year"].min()), int(frame["year"].max())
        self.index = frame.set_index(["table", "indicator", "level", "area", "year"]).sort_index()

    def get(self, table: str, indicator: str, unit: Unit, year: int) -> tuple[float, float, float]:
        try:
            row = self.index.loc[(table, indicator, unit.level, unit.area, year)]
        except KeyError:
            return (np.nan, np.nan, np.nan)
        return float(row["mean"]), float(row["p5"]), float(row["p95"])

    def units(self, level: str) -> list[Unit]:
        return [Unit(level, a) for a in sorted(set(self.frame.loc[self.frame["level"] == level, "area"]))]


def _change_row(ctx: Context, levels: Levels, table: str, indicator: str, unit: Unit, flag: str = "") -> list:
    """Unit, indicator, base year, last year, change (and the last year's band for ensembles)."""
    term = ctx.term(table, indicator)
    a = levels.get(table, indicator, unit, levels.first)[0]
    b, low, high = levels.get(table, indicator, unit, levels.last)
    row = [{"text": ctx.unit_name(unit) if unit.level != "area" else unit.area, "flag": flag}, term.label]
    row += [ctx.fmt.value(a, term.family), ctx.fmt.value(b, term.family), ctx.fmt.signed(b - a, term.family)]
    return row + ([ctx.band(low, high, term.family, signed=False)] if ctx.n > 1 else [])


def _change_header(ctx: Context, levels: Levels, first: str) -> list[str]:
    t = ctx.t
    header = [first, t["indicator"], t["base_year"].format(y=levels.first), t["last_year"].format(y=levels.last), t["change"]]
    return header + ([t["band_last"].format(y=levels.last)] if ctx.n > 1 else [])


def _level_units(ctx: Context, levels: Levels) -> list[Unit]:
    districts = levels.units("sozialrathaus")
    return districts + (levels.units("city") if len(districts) > 1 else [])


def _services_blocks(ctx: Context, levels: Levels, own: list[Lever]) -> list[dict]:
    """Every service side by side per unit (last year, change since the base year), and the
    lever's services year by year in their areas."""
    t, fmt, g = ctx.t, ctx.fmt, ctx.g
    services = sorted({i.split(".")[0] for i in levels.frame.loc[levels.frame["table"] == "services", "indicator"]})
    blocks: list[dict] = []
    for k, unit in enumerate(reversed(_level_units(ctx, levels))):
        rows = []
        for name in services:
            cells = []
            for m in MEASURES:
                ctx.term("services", f"{name}.{m}")
                per_user = g.services[name].units_per_user if m == "capacity" else 1.0  # capacity in users, like the others
                a = levels.get("services", f"{name}.{m}", unit, levels.first)[0] / per_user
                b = levels.get("services", f"{name}.{m}", unit, levels.last)[0] / per_user
                cells.append({"text": fmt.value(b), "note": fmt.signed(b - a) if not np.isnan(b) else ""})
            rows.append([g.service(name), *cells])
        header = [t["service"], *(t["capacity_users"] if m == "capacity" else g.measure(m) for m in MEASURES)]
        caption = f"{ctx.unit_name(unit)}: {t['service_levels'].format(y=levels.last, y0=levels.first)}"
        table = _table(header, rows, caption)
        blocks.append(table if k == 0 else {"kind": "details", "summary": ctx.unit_name(unit), "blocks": [table]})
    for lever in own:
        for name in lever.services:
            for area in lever.areas or (CITY,):
                unit = Unit("area", area) if lever.areas else _level_units(ctx, levels)[-1]
                header = [
                    t["year"],
                    *(t["measure_capacity"].format(unit=g.service_unit(name)) if m == "capacity" else g.measure(m) for m in MEASURES),
                ]
                rows = []
                for year in _table_years(np.arange(levels.first, levels.last + 1), lever.year):
                    rows.append([str(year), *(fmt.value(levels.get("services", f"{name}.{m}", unit, year)[0]) for m in MEASURES)])
                blocks.append(_table(header, rows, t["lever_years"].format(service=g.service(name), unit=ctx.unit_name(unit))))
    return blocks


def _groups_blocks(ctx: Context, levels: Levels) -> list[dict]:
    """Unmet need by group per district (and all areas): base year, last year, change."""
    t = ctx.t
    frame = levels.frame
    blocks: list[dict] = []
    for unit in _level_units(ctx, levels):
        last = frame[
            (frame["table"] == "services_unmet")
            & (frame["level"] == unit.level)
            & (frame["area"] == unit.area)
            & (frame["year"] == levels.last)
        ]
        rows = []
        for code in last.loc[last["mean"] > 0, "indicator"]:
            service, group, _ = code.split(".")
            dimension, name = group.split("=")
            who = f"{ctx.g.group(dimension, name)} ({ctx.g.dimension(dimension)})"
            rows.append([ctx.g.service(service), who, *_change_row(ctx, levels, "services_unmet", code, unit)[2:]])
        header = [t["service"], t["group"], *_change_header(ctx, levels, "")[2:]]
        table = _table(header, rows, t["group_table"].format(unit=ctx.unit_name(unit)), text_columns=2)
        blocks.append({"kind": "details", "summary": ctx.unit_name(unit), "blocks": [table]} if blocks else table)
    return blocks


def _levels_report(path: Path, levels: Levels, scenario: dict, manifest: dict, figures: list[dict], ctx: Context, small: set[str]) -> Path:
    t = ctx.t
    sc = Scenario.model_validate({k: v for k, v in scenario.items()})
    own = _own_levers(sc)
    districts = sorted({ctx.district_of[u.area] for u in levels.units("area")})
    where = t["whole_city"] if ctx.whole_city else t["some_areas"].format(n=len(levels.units("area")), districts=", ".join(districts))
    intro = t["intro_run"].format(
        name=sc.name,
        y0=levels.first,
        y1=levels.last,
        runs=ctx.runs(),
        seed=manifest["seed"],
        where=where,
        mean=t["mean_runs" if ctx.n > 1 else "mean_one"],
    )
    compared = [_p(intro)]
    if _description(ctx, scenario):
        compared.append(_p(_description(ctx, scenario), "lead"))
    compared.append(_p(t["levers_run"] if own else t["no_levers_run"]))
    if own:
        compared.append({"kind": "list", "items": [_lever_text(ctx, lever) for lever in own]})
    lever_services = [("services", f"{s}.unmet") for lever in own for s in lever.services]
    key = list(dict.fromkeys(RUN_KEY_INDICATORS + lever_services))
    results = [_change_row(ctx, levels, table, indicator, unit) for unit in _level_units(ctx, levels) for table, indicator in key]
    area_rows = [
        _change_row(ctx, levels, table, indicator, unit, t["small"] if unit.area in small else "")
        for unit in levels.units("area")
        for table, indicator in AREA_KEY_INDICATORS + lever_services
    ]
    sections = [
        _section("compared", t["run"], compared),
        _section("results", t["results"], [_table(_change_header(ctx, levels, t["unit_col"]), results, text_columns=2)]),
        _section("services", t["services"], _services_blocks(ctx, levels, own)),
        _section("affected", t["affected"], _groups_blocks(ctx, levels)),
        _section("areas", t["areas"], [_table(_change_header(ctx, levels, t["unit_col"]), area_rows, text_columns=2)]),
        _section("uncertainty", t["uncertainty"], _uncertainty_blocks(ctx, sc.cohesion.small_area_threshold, False)),
        _section("figures", t["figures"], figures),
        _section("glossary", t["glossary"], _glossary_blocks(ctx)),
        _section("assumptions", t["assumptions"], _assumptions_blocks(ctx, manifest)),
    ]
    title = t["title_run"].format(name=sc.name, y0=levels.first, y1=levels.last)
    subtitle = t["subtitle_run"].format(runs=ctx.runs(), seed=manifest["seed"], date=ctx.today())
    data = {"seed": manifest["seed"], "replications": ctx.n, "years": [levels.first, levels.last]}
    return _render(path, ctx.lang, title, subtitle, ctx.warnings(), sections, data)


def write_run_report(folder: Path, tables: dict[str, pd.DataFrame], manifest: dict, lang: str = "de", figures: bool = True) -> Path:
    """Figures (if wanted) and ``report.html`` of one run, into ``folder``."""
    from simulation.tables import summary_metrics

    scenario = Scenario.model_validate(manifest["scenario"])
    ctx = Context(lang, scenario, 1)
    frame = summary_metrics(tables).rename(columns={"value": "mean"}).assign(p5=np.nan, p95=np.nan)
    blocks = [_figure(p) for p in plots.run_figures(tables, Path(folder), ctx.fmt, ctx.g)] if figures else []
    small = set(tables["areas"].loc[tables["areas"]["small_area"], "area"])
    return _levels_report(Path(folder) / "report.html", Levels(frame), manifest["scenario"], manifest, blocks, ctx, small)


def write_ensemble_report(
    out: Path, summary: pd.DataFrame, scenario: Scenario, manifest: dict, lang: str = "de", figures: bool = True, path: Path | None = None
) -> Path:
    """``report.html`` of an ensemble of one scenario (``run --replications N``), fan charts into ``out``."""
    n = int(manifest["replications"])
    ctx = Context(lang, scenario, n)
    levels = Levels(summary)
    blocks: list[dict] = []
    if figures:
        units = _level_units(ctx, levels)
        items = [("population", "persons", units), ("cohesion", "cohesion_index", units)]
        items += [("services", f"{s}.unmet", units) for lever in _own_levers(scenario) for s in lever.services]
        blocks = _fan_pictures(ctx, {scenario.name: summary}, items, out)
        city = ctx.unit_name(Unit("city", CITY))
        blocks.append(_figure(plots.pyramid_comparison({scenario.name: summary}, levels.last, out / "age_structure.png", ctx.fmt, city)))
    small = set(manifest.get("small_areas", []))
    return _levels_report(path or out / "report.html", levels, manifest["scenarios"][0], manifest, blocks, ctx, small)
