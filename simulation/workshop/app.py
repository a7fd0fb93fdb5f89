"""The workshop page (Solara): levers on the left, answers in the middle, the participation trace below.

Every browser session (tab) has its own state: lever positions, language, what is compared,
the files it saved. Work that takes time runs in a task off the page's thread and in the
engine's worker processes (``engine.py``); a newer lever position makes an older answer
obsolete (it is dropped, its runs stay cached). Charts are drawn only for the tab that is open.
Started by ``sozialraum workshop`` (``server.py``), or ``solara run simulation.workshop.app``.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import time
from datetime import datetime
from pathlib import Path

import markdown
import solara
import solara.lab

from simulation.errors import InputError
from simulation.glossary import Glossary
from simulation.localise import Numbers
from simulation.workshop import charts, store
from simulation.workshop import engine as engines
from simulation.workshop import levers as L
from simulation.workshop.answers import MAP_INDICATORS, Answers, answers, formatted, verdict
from simulation.workshop.texts import LANGUAGES, text

CODES = {name: code for code, name in LANGUAGES.items()}
BASE, CURRENT = "base", "current"  # what stands left or right: the baseline, the levers, or a saved file's path
DEFAULT_YEARS = 12  # the page looks 12 years ahead by default (2023 -> 2035)
RUN_CHOICES = (3, 4, 6, 8)
DEFAULT_RUNS = 4  # two rounds on two worker processes
DEBOUNCE_S = 0.1  # a slider that is dragged sends many values: wait for the last
TABS = ("age", "services", "unmet", "cohesion", "map")
TAB_TITLES = {
    "de": ("Wer wohnt hier?", "Angebote", "Wer ist betroffen?", "Zusammenhalt", "Karte und Verlauf"),
    "en": ("Who lives here?", "Services", "Who is affected?", "Cohesion", "Map and trend"),
}
CSS = """
.lever-card .v-card__text { padding-top: 0; }
.key-figure { flex: 1 1 240px; padding: 10px 14px; }
.key-figure .label { font-size: 0.9rem; color: #444; }
.key-figure .value { font-size: 1.4rem; font-weight: 600; margin: 2px 0; }
.key-figure .verdict { font-size: 0.8rem; color: #666; }
.stale { opacity: 0.55; }
.chart { max-width: 900px; }
"""


@functools.lru_cache(maxsize=2048)
def _html(md: str) -> str:
    return markdown.markdown(html.escape(md, quote=False), extensions=["tables"])


def Markdown(md: str, style: str | None = None) -> None:
    """Markdown (the page's own words, headings, tables) drawn as HTML on the server, any HTML in
    the text escaped. Not solara.Markdown: it loads KaTeX through the CDN proxy on every page for
    math the page never shows, a failed request and a script error without internet (and a
    request beyond this computer with it)."""
    solara.HTML("div", unsafe_innerHTML=_html(md), style=style, classes=["solara-markdown", "rendered_html", "jp-RenderedHTMLCommon"])


def describe(group: str, state: dict, lang: str) -> str:
    """A changed intervention in words: "Neue Kita (Bockenheim, ab 2026)"."""
    where = [state[f"{group}.area"]] if group in L.PLACED else []
    return f"{text(lang, group)} ({', '.join([*where, text(lang, 'year_from') + ' ' + str(state[f'{group}.year'])])})"


def digest(request: tuple) -> str:
    """A short name of a request (lever state, horizon, runs, what is compared)."""
    return hashlib.sha1(json.dumps(request).encode()).hexdigest()[:12]


def _choice_scenario(choice: str, state: dict, ctx: L.Context):
    """What stands on one side, held to the engine's caps (lever ranges, the page's folder)."""
    if choice == BASE:
        return ctx.base
    if choice == CURRENT:
        return engines.current().lever_scenario(state)
    return engines.current().saved_scenario(choice)


def _names(lang: str, left: str, right: str, saved: list[store.Saved]) -> tuple[str, str]:
    """What the charts call the two sides: Basis, Szenario or a saved scenario's title."""
    titles = {BASE: text(lang, "left"), CURRENT: text(lang, "right")} | {str(s.path): s.note.title for s in saved}
    return titles.get(left, Path(left).stem), titles.get(right, Path(right).stem)


@solara.component
def Chart(draw, key: tuple, name: str):
    """A PNG chart, drawn again only when ``key`` changes."""
    png = solara.use_memo(draw, dependencies=[key])
    with solara.Div(classes=["chart", f"chart-{name}"]):
        solara.Image(png, format="png", width="100%")


@solara.component
def LeverSlider(key: str, label: str, shown: str, value: int, low: int, high: int, step: int, on_value):
    """One lever: its name with the value in words above a full-width slider."""
    with solara.Div(classes=["lever", "lever-" + key.replace(".", "-")]):
        Markdown(f"{label}: **{shown}**", style="margin-bottom: -6px")
        solara.SliderInt("", value=value, min=low, max=high, step=step, on_value=on_value, thumb_label=True)


def shown_value(lever: L.Lever, value: int, lang: str) -> str:
    """A lever's value as the page writes it ("7.700 (wie bisher)", "150 %")."""
    words = Numbers(lang).integer(value) + (" %" if lever.key in ("migration.families", "volunteers.more") else "")
    return words + (f" ({text(lang, 'as_now')})" if value == lever.default else "")


@solara.component
def LeverGroup(group: str, ctx: L.Context, state: solara.Reactive, lang: str, horizon_year: int):
    sliders = {k: lv for k, lv in L.levers(ctx).items() if lv.group == group}

    def setter(name: str):
        def set_value(value) -> None:
            try:  # whatever the browser sent: within the lever's range, a Stadtteil of the district
                state.set(L.bounded({**state.value, name: value}, ctx))
            except InputError:
                pass  # the lever keeps its value

        return set_value

    with solara.Card(text(lang, group), subtitle=text(lang, f"{group}_help"), classes=["lever-card", f"lever-{group}"], margin=0):
        if group in L.PLACED:
            solara.Select(
                text(lang, "stadtteil"), values=list(ctx.areas), value=state.value[f"{group}.area"], on_value=setter(f"{group}.area")
            )
        year = f"{group}.year"
        LeverSlider(
            year, text(lang, "year_from"), str(state.value[year]), state.value[year], ctx.first_year, ctx.last_year, 1, setter(year)
        )
        for key, lever in sliders.items():
            shown = shown_value(lever, state.value[key], lang)
            LeverSlider(key, text(lang, key), shown, state.value[key], lever.low, lever.high, lever.step, setter(key))
        if state.value[year] > horizon_year and group in L.changed(state.value, ctx):
            solara.Warning(text(lang, "after_horizon", year=horizon_year), dense=True)


@solara.component
def KeyFigures(a: Answers, names: tuple[str, str]):
    fmt = Numbers(a.lang)
    with solara.Row(gap="12px", style={"flex-wrap": "wrap"}, classes=["key-figures"]):
        for row in a.key.itertuples():
            with solara.Card(classes=["key-figure"], margin=0):
                solara.Div(children=[row.label], classes=["label"])
                arrow = f"{formatted(row.left_mean, row.family, fmt)} → {formatted(row.right_mean, row.family, fmt)}"
                solara.Div(children=[arrow], classes=["value"])
                span = (
                    f"{formatted(row.diff_low, row.family, fmt, True)} {fmt.words['to']} {formatted(row.diff_high, row.family, fmt, True)}"
                )
                diff = text(a.lang, "key_difference", diff=formatted(row.diff_mean, row.family, fmt, True), low_high=span)
                solara.Div(children=[diff])
                solara.Div(children=[verdict(row.diff_low, row.diff_high, row.family, a.lang)], classes=["verdict"])


@solara.component
def CohesionTable(a: Answers, names: tuple[str, str]):
    fmt = Numbers(a.lang)
    head = f"| {text(a.lang, 'indicator')} | {names[0]} | {names[1]} | {text(a.lang, 'difference')} | {text(a.lang, 'higher')} |"
    lines = [head, "|:---|---:|---:|---:|:---|"]
    for row in a.cohesion_table.itertuples():
        cells = [formatted(row.left_mean, row.family, fmt), formatted(row.right_mean, row.family, fmt)]
        cells.append(formatted(row.diff_mean, row.family, fmt, True))
        lines.append(f"| {row.label} | {' | '.join(cells)} | {row.higher} |")
    Markdown("\n".join(lines))


@solara.component
def UnmetTab(a: Answers, names: tuple[str, str], key: tuple, unmet_service: solara.Reactive):
    glossary = Glossary(a.lang, engines.current().inputs.catalogue)
    Markdown(text(a.lang, "unmet_help"))
    labels = {glossary.service(s): s for s, t in glossary.services.items() if not t.unlimited}
    solara.Select(
        text(a.lang, "unmet_service"),
        values=list(labels),
        value=glossary.service(unmet_service.value),
        on_value=lambda label: unmet_service.set(labels[label]),
    )
    Chart(lambda: charts.unmet_chart(a, names, glossary.service(unmet_service.value)), key, "unmet")
    Chart(lambda: charts.unmet_ages_chart(a, names), key, "unmet-ages")


@solara.component
def MapTab(a: Answers, names: tuple[str, str], key: tuple, indicator: solara.Reactive):
    glossary = Glossary(a.lang, engines.current().inputs.catalogue)
    terms = {glossary.term(t, c).label: (t, c) for t, c in MAP_INDICATORS}
    solara.Select(
        text(a.lang, "map_indicator"),
        values=list(terms),
        value=glossary.term(*indicator.value).label,
        on_value=lambda label: indicator.set(terms[label]),
    )
    term = glossary.term(*indicator.value)
    Markdown(f"**{term.label}**: {term.measures}. {text(a.lang, 'higher')}: {term.higher}.")
    MapChart(a, names, key)
    Chart(lambda: charts.series_chart(a, names), key, "series")


@solara.component
def Answer(
    a: Answers, names: tuple[str, str], key: tuple, tab: solara.Reactive, unmet_service: solara.Reactive, indicator: solara.Reactive
):
    """The answers in tabs; only the open tab's charts are drawn."""
    with solara.lab.Tabs(value=tab.value, on_value=tab.set):
        for i, title in enumerate(TAB_TITLES[a.lang]):
            with solara.lab.Tab(title):
                if i != tab.value:
                    continue
                if TABS[i] == "age":
                    Markdown(text(a.lang, "age_help"))
                    Chart(lambda: charts.age_chart(a, names), key, "age")
                elif TABS[i] == "services":
                    Markdown(text(a.lang, "services_help"))
                    Chart(lambda: charts.services_chart(a, names), key, "services")
                elif TABS[i] == "unmet":
                    UnmetTab(a, names, key, unmet_service)
                elif TABS[i] == "cohesion":
                    Markdown(text(a.lang, "cohesion_help"))
                    Chart(lambda: charts.cohesion_chart(a, names), key, "cohesion")
                    CohesionTable(a, names)
                else:
                    MapTab(a, names, key, indicator)


@solara.component
def MapChart(a: Answers, names: tuple[str, str], key: tuple):
    """The map of the chosen indicator and the run's areas without a polygon of their own."""
    drawn = solara.use_memo(lambda: charts.map_chart(a, names, engines.current().inputs.data_dir), dependencies=[key])
    with solara.Div(classes=["chart", "chart-map"]):
        solara.Image(drawn[0], format="png", width="100%")
    if drawn[1]:
        fmt = Numbers(a.lang)
        rows = a.areas.set_index("area")
        shown = [
            f"{area} ({formatted(rows.at[area, 'left_mean'], a.family, fmt)} → {formatted(rows.at[area, 'right_mean'], a.family, fmt)})"
            for area in drawn[1]
        ]
        solara.Text(text(a.lang, "map_missing", areas=", ".join(shown)), classes=["map-missing"])


@solara.component
def Uncertainty(a: Answers, names: tuple[str, str]):
    fmt = Numbers(a.lang)
    row = a.key.iloc[1]
    example = text(
        a.lang,
        "example",
        what=row["label"],
        year=a.year,
        left=formatted(row["left_mean"], "count", fmt),
        right=formatted(row["right_mean"], "count", fmt),
        diff=formatted(row["diff_mean"], "count", fmt, True),
        low=formatted(row["diff_low"], "count", fmt, True),
        high=formatted(row["diff_high"], "count", fmt, True),
    )
    with solara.Details(text(a.lang, "uncertainty_title"), expand=False):
        Markdown(text(a.lang, "uncertainty", n=a.n))
        Markdown(f"{example} {verdict(row['diff_low'], row['diff_high'], 'count', a.lang)}")


@solara.component
def Results(shown: tuple, pending: bool, stale: bool, wanted_runs: int, lang: str, names: tuple[str, str], tab, unmet_service, indicator):
    """Key figures, uncertainty and the tabs of one comparison: faded while it is an older
    position's (the newer one runs), with a note while it is the first round of replications."""
    engine = engines.current()
    left_runs, right_runs, seconds, _ = shown
    glossary = Glossary(lang, engine.inputs.catalogue)
    a = solara.use_memo(
        lambda: answers(left_runs, right_runs, engine.unit, glossary, unmet_service.value, indicator.value),
        dependencies=[left_runs.key, right_runs.key, lang, unmet_service.value, indicator.value],
    )
    key = (left_runs.key, right_runs.key, lang, unmet_service.value, indicator.value, names)
    seconds_text = Numbers(lang).value(seconds, "rate")
    if stale:
        status = text(lang, "computing")
    elif pending:
        status = text(lang, "first_round", seconds=seconds_text, n=a.n, total=wanted_runs)
    else:
        status = text(lang, "computed" if seconds >= 0.05 else "cached", seconds=seconds_text, n=a.n)
    classes = ["status", "pending" if pending else "ready", "stale-status" if stale else "current", f"answer-{digest(shown[3])}"]
    solara.Text(status, classes=classes)
    with solara.Div(classes=["stale"] if stale else ["answers"]):
        Markdown(f"#### {text(lang, 'key_figures', year=a.year)}")
        KeyFigures(a, names)
        Uncertainty(a, names)
        Answer(a, names, key, tab, unmet_service, indicator)


@solara.component
def Trace(ctx: L.Context, state: solara.Reactive, lang: str, left: solara.Reactive, right: solara.Reactive, saved: list, refresh):
    """Save the levers with a note; reopen saved scenarios; choose what is compared."""
    engine = engines.current()
    title = solara.use_reactive("")
    participants = solara.use_reactive("")
    reason = solara.use_reactive("")
    message = solara.use_reactive(())  # (kind, [(text key, values), ...]): written in the page's language when shown
    own = solara.use_reactive(frozenset())

    def save() -> None:
        note = store.Note(title.value.strip(), participants.value, reason.value, datetime.now().isoformat(timespec="minutes"))
        try:
            path = store.save(engine.folder, state.value, ctx, note, set(own.value))
        except store.BadName as exc:
            message.set(("error", [(f"bad_{exc.reason}", {})]))
            return
        renamed = path.stem != store.safe_name(note.title)
        own.set(own.value | {path})
        message.set(("success", [("renamed" if renamed else "saved_as", {"file": str(path)})]))
        refresh()

    def reopen(entry: store.Saved) -> None:
        try:
            scenario = store.open_saved(entry.path)
        except InputError as exc:
            message.set(("error", [("error", {"message": str(exc)})]))
            return
        values, extra = L.state_of(scenario, ctx)
        state.set(values)
        title.set(entry.note.title)
        participants.set(entry.note.participants)
        reason.set(entry.note.reason)
        right.set(CURRENT)
        message.set(("info", [("opened", {"name": entry.note.title}), *([("not_shown", {"fields": ", ".join(extra)})] if extra else [])]))

    with solara.Columns([1, 1]):
        with solara.Card(text(lang, "save_title"), subtitle=text(lang, "save_help"), classes=["save-card"]):
            solara.InputText(text(lang, "name"), value=title, continuous_update=True)
            solara.InputText(text(lang, "participants"), value=participants, continuous_update=True)
            solara.InputTextArea(text(lang, "reason"), value=reason, continuous_update=True, rows=2)
            solara.Button(text(lang, "save"), on_click=save, color="primary", classes=["save-button"])
            if message.value:
                kind, parts = message.value
                words = " ".join(text(lang, key, **values) for key, values in parts)
                {"error": solara.Error, "success": solara.Success, "info": solara.Info}[kind](words, classes=["save-message"])
        with solara.Card(text(lang, "saved_title"), classes=["saved-card"]):
            if not saved:
                solara.Text(text(lang, "none_saved"))
            for entry in saved:
                with solara.Row(style={"align-items": "center"}, classes=["saved-entry"]):
                    solara.Button(text(lang, "open"), on_click=lambda e=entry: reopen(e), small=True, outlined=True)
                    day = datetime.fromisoformat(entry.note.saved).strftime("%d.%m.%Y %H:%M" if lang == "de" else "%d %b %Y %H:%M")
                    solara.Text(f"{entry.note.title} ({entry.name}.toml, {day})")
            Markdown(f"**{text(lang, 'compare_title')}**: {text(lang, 'compare_help')}")
            options = {text(lang, "left"): BASE, text(lang, "current"): CURRENT} | {
                f"{s.note.title} ({s.name})": str(s.path) for s in saved
            }
            label_of = {v: k for k, v in options.items()}
            with solara.Row(classes=["compare"]):
                for side, reactive in (("compare_left", left), ("compare_right", right)):
                    solara.Select(
                        text(lang, side),
                        values=list(options),
                        value=label_of.get(reactive.value, text(lang, "left")),
                        on_value=lambda label, r=reactive: r.set(options.get(label, r.value)),
                    )


@solara.component
def Answering(ctx: L.Context, request: tuple, lang: str, names: tuple[str, str], tab, unmet_service, indicator):
    """Runs the newest request (lever state, horizon, runs, what is compared) and shows its answer.
    A component of its own, so that an answer coming in re-renders this part of the page only."""
    engine = engines.current()
    state_json, years, runs, left, right = request
    latest = solara.use_ref(None)
    session = solara.use_memo(object, dependencies=[])  # this tab: its newer request supersedes its older one
    partial = solara.use_reactive(None)  # the first round of replications of the newest request
    last_answer = solara.use_ref(None)
    latest.current = request
    turn = time.monotonic_ns()  # requests are made in this order (one render at a time); their threads may run in another
    solara.Div(classes=["request", f"request-{digest(request)}"])  # which answer is the newest (for probe.py)

    def compute():
        time.sleep(DEBOUNCE_S)
        if latest.current != request:
            return None
        t0 = time.perf_counter()
        chosen = [_choice_scenario(choice, json.loads(state_json), ctx) for choice in (left, right)]

        def first_round(left_runs, right_runs) -> None:
            partial.set((left_runs, right_runs, time.perf_counter() - t0, request))

        got = engine.pair(*chosen, years, runs, wanted=lambda: latest.current == request, early=first_round, session=session, turn=turn)
        return None if got is None else (*got, time.perf_counter() - t0, request)

    task = solara.lab.use_task(compute, dependencies=list(request), raise_error=False)
    if task.error:
        busy = isinstance(task.exception, engines.Busy)
        solara.Error(text(lang, "busy") if busy else text(lang, "error", message=str(task.exception)), classes=["answer-error"])
    done = task.value if task.finished and task.value is not None and task.value[3] == request else None
    early = partial.value if partial.value is not None and partial.value[3] == request else None
    if done is not None or early is not None:
        last_answer.current = done or early
    shown = last_answer.current
    pending = done is None and not task.error
    solara.ProgressLinear(pending)
    if shown is None:
        solara.Text(text(lang, "computing"))
        return
    Results(shown, pending, shown[3] != request, runs, lang, names, tab, unmet_service, indicator)


@solara.component
def Page():
    engine = engines.current()
    lang = solara.use_reactive("de")
    years = solara.use_reactive(DEFAULT_YEARS)
    runs = solara.use_reactive(DEFAULT_RUNS)
    tab = solara.use_reactive(0)
    unmet_service = solara.use_reactive("kita_u3")
    indicator = solara.use_reactive(MAP_INDICATORS[0])
    left = solara.use_reactive(BASE)
    right = solara.use_reactive(CURRENT)
    saved_version = solara.use_reactive(0)

    context_task = solara.lab.use_task(lambda: engine.context(DEFAULT_YEARS, DEFAULT_RUNS), dependencies=[], raise_error=False)
    ctx: L.Context | None = context_task.value if context_task.finished else None
    state = solara.use_reactive(None)

    def first_state() -> None:
        if ctx is not None and state.value is None:
            state.set(L.default_state(ctx))

    solara.use_effect(first_state, dependencies=[ctx is not None])
    saved = solara.use_memo(lambda: store.saved(engine.folder, engine.base.areas), dependencies=[saved_version.value])

    solara.Style(CSS)
    title = text(lang.value, "district", name=engine.unit[1]) if engine.unit[0] == "sozialrathaus" else text(lang.value, "city")
    solara.Title(f"{text(lang.value, 'title')} – {title}")
    with solara.AppBar():
        solara.AppBarTitle(f"{text(lang.value, 'title')}: {title}")
        solara.ToggleButtonsSingle(
            value=LANGUAGES[lang.value], values=list(LANGUAGES.values()), on_value=lambda name: lang.set(CODES[name]), classes=["language"]
        )

    if context_task.error:
        solara.Error(text(lang.value, "error", message=str(context_task.exception)))
        return
    if ctx is None or state.value is None:
        solara.Info(text(lang.value, "baseline_first"))
        solara.ProgressLinear(True)
        return

    horizon_year = ctx.base.base_year + years.value
    with solara.Sidebar():
        with solara.Row(style={"align-items": "center", "justify-content": "space-between"}):
            Markdown(f"### {text(lang.value, 'levers')}")
            solara.Button(
                text(lang.value, "reset"), on_click=lambda: state.set(L.default_state(ctx)), small=True, text=True, classes=["reset"]
            )
        for group in L.GROUPS:
            LeverGroup(group, ctx, state, lang.value, horizon_year)

    Markdown(text(lang.value, "intro", year=horizon_year))
    changed = L.changed(state.value, ctx)
    if changed:
        solara.Text(
            text(lang.value, "changed", groups="; ".join(describe(g, state.value, lang.value) for g in changed)), classes=["changed"]
        )
    else:
        solara.Text(text(lang.value, "no_change"), classes=["changed"])
    with solara.Row(style={"align-items": "center", "gap": "24px"}, classes=["horizon"]):
        year_values = [str(ctx.base.base_year + k) for k in range(3, engine.max_years + 1)]
        solara.Select(
            text(lang.value, "until"),
            values=year_values,
            value=str(horizon_year),
            on_value=lambda y: years.set(engine.bounded(int(y) - ctx.base.base_year, 1)[0] if str(y).isdigit() else years.value),
        )
        solara.Text(text(lang.value, "runs"))
        solara.ToggleButtonsSingle(value=runs, values=[r for r in RUN_CHOICES if r <= engine.max_runs])
        limits = text(lang.value, "limits", year=ctx.base.base_year + engine.max_years, runs=engine.max_runs, district=engine.unit[1])
        solara.Text(limits, classes=["limits"], style={"font-size": "0.8rem", "color": "#666"})
    request = (json.dumps(state.value, sort_keys=True), *engine.bounded(years.value, runs.value), left.value, right.value)
    names = _names(lang.value, left.value, right.value, saved)
    Answering(ctx, request, lang.value, names, tab, unmet_service, indicator)
    Trace(ctx, state, lang.value, left, right, saved, lambda: saved_version.set(saved_version.value + 1))
