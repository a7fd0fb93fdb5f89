"""The planner's report: one self-contained HTML file (figures embedded), German or English.

Sections (ids stable for tests): compared, results, affected, areas, uncertainty, assumptions.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from simulation.vocabulary import CITY

TEXT = {
    "de": {
        "title": "Szenariovergleich für die Sozialräume Frankfurts",
        "compared": "Was verglichen wurde",
        "results": "Wichtigste Ergebnisse je Sozialrathausbezirk",
        "affected": "Wer betroffen ist",
        "areas": "Ergebnisse je Stadtteil",
        "uncertainty": "Wie sicher sind die Ergebnisse?",
        "assumptions": "Annahmen und Datenquellen",
        "figures": "Abbildungen",
        "scenario": "Szenario",
        "value": "Mit Szenario",
        "baseline": "Basis",
        "difference": "Unterschied",
        "band": "90-%-Band des Unterschieds",
        "indicator": "Kennzahl",
        "district": "Bezirk",
        "area": "Stadtteil",
        "year": "Jahr",
        "small": "kleiner Stadtteil: Werte unsicher",
        "intro": "Der Bericht vergleicht {n} Szenario(s) mit der Basis. Jedes Szenario wurde {reps}-mal mit verschiedenen Zufallszahlen "
        "gerechnet (Startwert {seed}, {y0}–{y1}); Lauf i jedes Szenarios nutzt dieselben Zufallszahlen wie Lauf i der Basis, "
        "so dass Unterschiede auf die Maßnahme zurückgehen und nicht auf Zufall.",
        "uncertainty_text": "Das Modell rechnet jede Zukunft {reps}-mal. Die Tabellen zeigen den Mittelwert und das Band, in dem 90 % der "
        "gepaarten Unterschiede liegen (5. bis 95. Perzentil). Liegt die Null im Band, ist der Effekt nicht sicher von "
        "null verschieden. Die Bänder erfassen den Zufall im Modell, nicht die Unsicherheit der Annahmen: "
        "diese stehen im letzten Abschnitt und sollten mit Fachleuten geprüft werden. Stadtteile mit weniger als "
        "{small} Einwohnerinnen und Einwohnern sind markiert, weil dort wenige Haushalte die Werte stark verändern.",
        "groups": {
            "young_families": "Junge Familien",
            "older_people": "Ältere Menschen",
            "migrants": "Menschen mit Migrationsgeschichte",
            "low_income": "Haushalte mit geringem Einkommen",
        },
        "sources": "Datenquellen (calibration/data/PROVENANCE.md)",
        "description": "Beschreibung",
    },
    "en": {
        "title": "Scenario comparison for Frankfurt's social areas",
        "compared": "What was compared",
        "results": "Key results per Sozialrathaus district",
        "affected": "Who is affected",
        "areas": "Results per area (Stadtteil)",
        "uncertainty": "How sure are the results?",
        "assumptions": "Assumptions and data sources",
        "figures": "Figures",
        "scenario": "Scenario",
        "value": "With scenario",
        "baseline": "Baseline",
        "difference": "Difference",
        "band": "90 % band of the difference",
        "indicator": "Indicator",
        "district": "District",
        "area": "Area",
        "year": "Year",
        "small": "small area: figures uncertain",
        "intro": "This report compares {n} scenario(s) with the baseline. Each was run {reps} times with different random numbers "
        "(seed {seed}, {y0}-{y1}); run i of every scenario uses the same random numbers as run i of the baseline, so "
        "differences show the intervention, not chance.",
        "uncertainty_text": "The model computes every future {reps} times. Tables show the mean and the band holding 90 % of the paired "
        "differences (5th to 95th percentile). If the band includes zero, the effect is not clearly different "
        "from zero. The bands cover chance in the model, not uncertainty in the assumptions: those are listed in "
        "the last section and should be checked with experts. Areas with fewer than {small} residents are "
        "flagged, because there a few households change the figures a lot.",
        "groups": {
            "young_families": "Young families",
            "older_people": "Older people",
            "migrants": "Residents with a migration history",
            "low_income": "Low-income households",
        },
        "sources": "Data sources (calibration/data/PROVENANCE.md)",
        "description": "Description",
    },
}

KEY_INDICATORS = [
    ("population", "persons"),
    ("population", "persons_0_2"),
    ("population", "persons_75plus"),
    ("households", "households"),
    ("services", "kita_u3.unmet"),
    ("services", "kita_3_6.unmet"),
    ("services", "senior_outreach.unmet"),
    ("services", "integration_course.unmet"),
    ("housing", "displaced_households"),
    ("cohesion", "cohesion_index"),
    ("cohesion", "alone_75plus_no_contact"),
]
AFFECTED = {
    "young_families": [
        ("population", "persons_0_2"),
        ("services", "kita_u3.unmet"),
        ("services", "kita_3_6.unmet"),
        ("services", "family_centre.unmet"),
    ],
    "older_people": [
        ("population", "persons_75plus"),
        ("services", "senior_meeting.unmet"),
        ("services", "senior_outreach.unmet"),
        ("cohesion", "alone_75plus_no_contact"),
    ],
    "migrants": [
        ("population", "persons_migration_background"),
        ("services", "integration_course.unmet"),
        ("cohesion", "dissimilarity_migration"),
        ("cohesion", "service_mixing_migration"),
    ],
    "low_income": [
        ("housing", "displaced_households"),
        ("services", "social_counselling.unmet"),
        ("cohesion", "dissimilarity_income"),
        ("cohesion", "service_mixing_income"),
    ],
}


CSS = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:nth-child(-n+3),th{text-align:left}img{max-width:100%}"
    ".small{color:#a33}figure{margin:1em 0}"
)


def _document(lang: str, title: str, sections: list[tuple[str, str, str]], extra: str = "") -> str:
    """A complete HTML page: (id, heading, inner html) per section."""
    body = "\n".join(f'<section id="{sid}"><h2>{html.escape(heading)}</h2>{inner}</section>' for sid, heading, inner in sections)
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head>\n<body>\n<h1>{html.escape(title)}</h1>\n{body}\n{extra}\n</body></html>\n"
    )


def _assumptions(manifest: dict, t: dict) -> str:
    """Assumptions of the run and the input files it read."""
    items = "".join(f"<li>{html.escape(a)}</li>" for a in manifest.get("assumptions", []))
    files = "".join(f"<li><code>{html.escape(name)}</code></li>" for name in sorted(manifest.get("input_data_sha256", {})))
    return f"<ul>{items}</ul><h3>{html.escape(t['sources'])}</h3><ul>{files}</ul>"


def _fmt(x: float) -> str:
    if pd.isna(x):
        return "–"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.3g}"


def _table(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pick(comp: pd.DataFrame, table: str, indicator: str, level: str, year: int) -> pd.DataFrame:
    return comp[(comp["table"] == table) & (comp["indicator"] == indicator) & (comp["level"] == level) & (comp["year"] == year)]


def _rows(comp: pd.DataFrame, items, level: str, year: int, t: dict) -> list[list[str]]:
    rows = []
    for scenario in comp["scenario"].unique():
        sub = comp[comp["scenario"] == scenario]
        for table, indicator in items:
            for r in _pick(sub, table, indicator, level, year).itertuples():
                rows.append(
                    [
                        html.escape(scenario),
                        html.escape(r.area),
                        html.escape(indicator),
                        _fmt(r.baseline),
                        _fmt(r.value),
                        _fmt(r.difference),
                        f"{_fmt(r.difference_p5)} … {_fmt(r.difference_p95)}",
                    ]
                )
    return rows


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(path.stem)}</figcaption></figure>'


def write_report(path: Path, comparison: pd.DataFrame, manifest: dict, figures: list[Path], lang: str = "de") -> Path:
    """Write the self-contained HTML report."""
    t = TEXT[lang]
    year = int(comparison["year"].max())
    header = [t["scenario"], t["area"], t["indicator"], t["baseline"], t["value"], t["difference"], t["band"]]
    scen = manifest["scenarios"]
    intro = t["intro"].format(
        n=len(scen) - 1, reps=manifest["replications"], seed=manifest["seed"], y0=manifest["years"][0], y1=manifest["years"][1]
    )
    compared = "".join(f"<li><b>{html.escape(s['name'])}</b>: {html.escape(s.get('description') or '')}</li>" for s in scen)
    results = _table(
        _rows(comparison, KEY_INDICATORS, "sozialrathaus", year, t) + _rows(comparison, KEY_INDICATORS, "city", year, t), header
    )
    affected = "".join(
        f"<h3>{html.escape(t['groups'][g])}</h3>" + _table(_rows(comparison, items, "city", year, t), header)
        for g, items in AFFECTED.items()
    )
    group_rows = comparison[
        (comparison["table"] == "services_unmet")
        & (comparison["level"] == "city")
        & (comparison["year"] == year)
        & (comparison["difference"].abs() > 0)
    ]
    if len(group_rows):
        affected += _table(
            [
                [
                    html.escape(r.scenario),
                    CITY,
                    html.escape(r.indicator),
                    _fmt(r.baseline),
                    _fmt(r.value),
                    _fmt(r.difference),
                    f"{_fmt(r.difference_p5)} … {_fmt(r.difference_p95)}",
                ]
                for r in group_rows.itertuples()
            ],
            header,
        )
    small = set(manifest.get("small_areas", []))
    area_rows = []
    for r in comparison[
        (comparison["level"] == "area")
        & (comparison["year"] == year)
        & (comparison["difference"].abs() > 0)
        & comparison.set_index(["table", "indicator"]).index.isin(KEY_INDICATORS)
    ].itertuples():
        flag = f' <span class="small">({html.escape(t["small"])})</span>' if r.area in small else ""
        area_rows.append(
            [
                html.escape(r.scenario),
                html.escape(r.area) + flag,
                html.escape(r.indicator),
                _fmt(r.baseline),
                _fmt(r.value),
                _fmt(r.difference),
                f"{_fmt(r.difference_p5)} … {_fmt(r.difference_p95)}",
            ]
        )
    uncertainty = t["uncertainty_text"].format(reps=manifest["replications"], small=manifest.get("small_area_threshold", 5000))
    manifest_json = html.escape(json.dumps({k: manifest[k] for k in ("seed", "replications", "years")}))
    doc = _document(
        lang,
        t["title"],
        [
            ("compared", t["compared"], f"<p>{html.escape(intro)}</p><ul>{compared}</ul>"),
            ("results", f"{t['results']} ({year})", results),
            ("affected", f"{t['affected']} ({year})", affected),
            ("areas", f"{t['areas']} ({year})", _table(area_rows, header)),
            ("uncertainty", t["uncertainty"], f"<p>{html.escape(uncertainty)}</p>"),
            ("figures", t["figures"], "".join(_image(p) for p in figures)),
            ("assumptions", t["assumptions"], _assumptions(manifest, t)),
        ],
        extra=f'<script type="application/json" id="manifest">{manifest_json}</script>',
    )
    path.write_text(doc, encoding="utf-8")
    return path


RUN_TEXT = {
    "de": {
        "title": "Basisprojektion für die Sozialräume Frankfurts",
        "run": "Was gerechnet wurde",
        "intro": "Szenario {name}: {desc} Ein Lauf mit Startwert {seed}, {y0}–{y1}. Für Unsicherheitsbänder und Vergleiche: "
        "sozialraum run … --replications N oder sozialraum compare.",
        "change": "Veränderung",
        "start": "Basisjahr",
        "end": "Endjahr",
        "affected_text": "Ungedeckter Bedarf im letzten Jahr nach Gruppen (Stadt)",
    },
    "en": {
        "title": "Baseline projection for Frankfurt's social areas",
        "run": "What was run",
        "intro": "Scenario {name}: {desc} One run with seed {seed}, {y0}-{y1}. For uncertainty bands and comparisons use "
        "sozialraum run … --replications N or sozialraum compare.",
        "change": "Change",
        "start": "Base year",
        "end": "Last year",
        "affected_text": "Unmet need in the last year by group (city)",
    },
}


def write_run_report(path: Path, tables: dict[str, pd.DataFrame], manifest: dict, figures: list[Path], lang: str = "en") -> Path:
    """A self-contained HTML report of one run: key figures per district and area, who bears unmet
    need, small areas, assumptions and data sources, figures embedded."""
    from simulation.tables import summary_metrics

    t, r = TEXT[lang], RUN_TEXT[lang]
    m = summary_metrics(tables)
    first, last = int(m["year"].min()), int(m["year"].max())
    wide = m[m["year"].isin([first, last])].pivot_table(
        index=["level", "area", "table", "indicator"], columns="year", values="value", aggfunc="first"
    )
    header = [t["district"], t["indicator"], r["start"], r["end"], r["change"]]

    def rows(level: str, items, small=frozenset()) -> list[list[str]]:
        out = []
        for (lev, area, table, indicator), v in wide.iterrows():
            if lev == level and (table, indicator) in items:
                a, b = v.get(first, float("nan")), v.get(last, float("nan"))
                flag = f' <span class="small">({html.escape(t["small"])})</span>' if area in small else ""
                out.append([html.escape(area) + flag, html.escape(indicator), _fmt(a), _fmt(b), _fmt(b - a)])
        return out

    small = frozenset(tables["areas"].loc[tables["areas"]["small_area"], "area"])
    unmet = m[(m["table"] == "services_unmet") & (m["level"] == "city") & (m["year"] == last) & (m["value"] > 0)]
    affected = _table([[CITY, html.escape(x.indicator), "", _fmt(x.value), ""] for x in unmet.itertuples()], header)
    sc = manifest["scenario"]
    intro = r["intro"].format(name=sc["name"], desc=sc.get("description", ""), seed=manifest["seed"], y0=first, y1=last)
    doc = _document(
        lang,
        r["title"],
        [
            ("compared", r["run"], f"<p>{html.escape(intro)}</p>"),
            ("results", t["results"], _table(rows("sozialrathaus", KEY_INDICATORS) + rows("city", KEY_INDICATORS), header)),
            ("affected", t["affected"], f"<p>{html.escape(r['affected_text'])}</p>{affected}"),
            ("areas", t["areas"], _table(rows("area", KEY_INDICATORS, small), header)),
            ("figures", t["figures"], "".join(_image(p) for p in figures)),
            ("assumptions", t["assumptions"], _assumptions(manifest, t)),
        ],
    )
    path.write_text(doc, encoding="utf-8")
    return path
