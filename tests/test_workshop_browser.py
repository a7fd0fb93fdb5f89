"""The workshop page in headless Chromium (Debian's chromium, driven by Playwright): it loads in
German without any request beyond this computer, a lever changes a chart, the language switch
works, saving writes a scenario that `sozialraum validate` accepts, and two sessions keep their
own levers and files.

One test runs the steps in order on one server (the steps build on each other: the lever moved
in one is saved in the next), so that pytest-xdist never splits them over two workers and two
servers; each step is a function of its own and names itself when it fails."""

from __future__ import annotations

import io
import tomllib

import numpy as np
import pytest
from matplotlib import image
from typer.testing import CliRunner

from simulation.cli import app
from simulation.workshop import probe

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        probe.chromium_path() is None, reason="no chromium binary on this machine (Debian package chromium; .ci/run installs it)"
    ),
]
pytest.importorskip("playwright", reason="playwright is a test dependency (pip install -e '.[test]')")


def lever_text(page, lever: str) -> str:
    return page.locator(f".lever-{lever}").inner_text().split("\n")[0]


def test_the_workshop_page_in_chromium(tmp_path):
    folder = tmp_path / "saved"
    with probe.server(folder, tmp_path / "server.log") as server, probe.chromium() as browser:
        url = server.url
        context = browser.new_context(viewport={"width": 1400, "height": 1100})
        page, _, requests = probe.open_page(context, url)
        page_loads_in_german_with_every_asset_from_this_computer(page, requests)
        moving_a_lever_updates_the_chart(page)
        the_language_switch_changes_every_word(page)
        saving_writes_a_scenario_that_validate_accepts(page, folder)
        two_sessions_keep_their_own_levers_and_files(browser, url, folder)


def page_loads_in_german_with_every_asset_from_this_computer(page, requests):
    assert "Zukunftswerkstatt Sozialraum: Sozialrathaus Bockenheim" in page.locator(".v-toolbar").inner_text()
    assert page.get_by_role("tab", name="Wer wohnt hier?").is_visible()
    assert "Stellschrauben" in page.inner_text("body") and "Einwohnerinnen und Einwohner" in page.inner_text(".key-figures")
    assert requests and probe.outside(requests) == []
    shot = image.imread(io.BytesIO(page.screenshot()), format="png")
    colours = np.unique((shot[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert shot.std() > 0.05 and len(colours) > 200, "the screenshot is blank"


def moving_a_lever_updates_the_chart(page):
    probe.open_tab(page, "Angebote", "services")
    before = page.inner_text(".key-figures")
    first, complete = probe.move_lever(page, "kita-u3", "services")
    assert lever_text(page, "kita-u3") == "Plätze unter 3 Jahren: 5"
    assert page.inner_text(".key-figures") != before  # fewer children without a place
    assert "Neue Kita" in page.inner_text(".changed")
    assert 0 < first <= complete


def the_language_switch_changes_every_word(page):
    page.get_by_role("button", name="English").click()
    page.wait_for_selector("text=Futures workshop: Sozialrathaus Bockenheim")
    assert page.get_by_role("tab", name="Who lives here?").is_visible() and "Levers" in page.inner_text("body")
    assert "Residents" in page.inner_text(".key-figures")
    page.get_by_role("button", name="Deutsch").click()
    page.wait_for_selector("text=Zukunftswerkstatt Sozialraum: Sozialrathaus Bockenheim")
    assert page.get_by_role("tab", name="Wer wohnt hier?").is_visible()


def save(page, title: str, participants: str, reason: str) -> str:
    probe.fill_note(page, title, participants, reason)
    page.wait_for_selector(".save-message")
    return page.inner_text(".save-message")


def saving_writes_a_scenario_that_validate_accepts(page, folder):
    message = save(page, "Mehr Krippenplätze", "Kita-Leitungen, Elternbeirat", "Die Warteliste in Bockenheim ist lang.")
    path = folder / "Mehr-Krippenplätze.toml"
    assert str(path) in message and path.is_file()
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["extends"].endswith("baseline.toml") and data["areas"] == "sozialrathaus:Bockenheim"
    assert data["offerings"] == [{"service": "kita_u3", "area": "Bockenheim", "year": 2026, "action": "open", "capacity": 5.0}]
    assert "Elternbeirat" in data["description_de"] and "Warteliste" in data["description"]
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    page.wait_for_selector("text=Mehr Krippenplätze (Mehr-Krippenplätze.toml")  # listed among the saved scenarios
    # compared on the page: the saved scenario on the left, the baseline on the right
    choose(page, "links", "Mehr Krippenplätze (Mehr-Krippenplätze)")
    choose(page, "rechts", "Basis")
    # without the new places 5 more children wait: the key figure says so once the answer is in
    page.locator(".key-figure", has_text="Kinder ohne Kita-Platz").filter(has_text="Unterschied: +5 (Spanne +5 bis +5)").wait_for()
    choose(page, "links", "Basis")
    choose(page, "rechts", "Aktuelle Stellschrauben")


def choose(page, select: str, option: str) -> None:
    page.locator(".compare .v-select", has_text=select).click()
    page.locator(".menuable__content__active").get_by_role("option", name=option).click()  # the open menu


def two_sessions_keep_their_own_levers_and_files(browser, url, folder):
    one = browser.new_context(viewport={"width": 1400, "height": 1100})
    two = browser.new_context(viewport={"width": 1400, "height": 1100})
    try:
        page_one = probe.open_page(one, url)[0]
        page_two = probe.open_page(two, url)[0]
        probe.open_tab(page_one, "Angebote", "services")
        probe.move_lever(page_one, "kita-u3", "services")
        assert lever_text(page_one, "kita-u3") == "Plätze unter 3 Jahren: 5"
        assert lever_text(page_two, "kita-u3") == "Plätze unter 3 Jahren: 0 (wie bisher)"
        assert "Noch keine Stellschraube" in page_two.inner_text(".changed")
        save(page_one, "Gruppe Nord", "Gruppe 1", "Kita")
        message = save(page_two, "Gruppe Nord", "Gruppe 2", "Nichts ändern")
        assert "Gruppe-Nord-2.toml" in message  # the other group's file is not overwritten
        first = tomllib.loads((folder / "Gruppe-Nord.toml").read_text(encoding="utf-8"))
        second = tomllib.loads((folder / "Gruppe-Nord-2.toml").read_text(encoding="utf-8"))
        assert first["offerings"][0]["capacity"] == 5.0 and "offerings" not in second
        assert "Gruppe 1" in first["description_de"] and "Gruppe 2" in second["description_de"]
        page_two.locator(".saved-entry", has_text="(Gruppe-Nord.toml,").get_by_role("button").click()  # reopen the other group's
        page_two.wait_for_selector("text=„Gruppe Nord“ geöffnet")
        assert lever_text(page_two, "kita-u3") == "Plätze unter 3 Jahren: 5"
        assert lever_text(page_one, "kita-u3") == "Plätze unter 3 Jahren: 5"
    finally:
        one.close()
        two.close()
