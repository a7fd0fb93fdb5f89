"""Ensembles: identical results whatever the executor, resume, paired differences, report."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation import ensemble
from simulation.errors import InputError
from simulation.scenario import Scenario
from tests.helpers import with_intervention

SMALL = Scenario(name="small", areas=["Altstadt", "Bahnhofsviertel", "Innenstadt"], horizon=2, seed=11)


def run(out: Path, executor, n: int = 3, scenarios=(SMALL,), resume: bool = False) -> None:
    ensemble.run_replications([(s, 0) for s in scenarios], SMALL.seed, n, None, out, executor, resume)


def metrics_of(out: Path, name: str, n: int = 3) -> list[pd.DataFrame]:
    return list(ensemble.load_metrics(out, name, n))


@pytest.fixture(scope="module")
def in_process(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("inproc")
    with ensemble.make_executor(workers=1) as ex:
        run(out, ex)
    return out


def test_replications_differ_from_each_other(in_process):
    a, b, _ = metrics_of(in_process, "small")
    assert not a["value"].equals(b["value"])


def test_same_results_with_two_worker_processes(in_process, tmp_path):
    with ensemble.make_executor(workers=2) as ex:
        run(tmp_path, ex)
    for x, y in zip(metrics_of(in_process, "small"), metrics_of(tmp_path, "small")):
        pd.testing.assert_frame_equal(x, y)


def test_same_results_on_a_dask_local_cluster(in_process, tmp_path):
    pytest.importorskip("distributed")
    with ensemble.make_executor(workers=2, scheduler="local") as ex:
        run(tmp_path, ex)
    for x, y in zip(metrics_of(in_process, "small"), metrics_of(tmp_path, "small")):
        pd.testing.assert_frame_equal(x, y)


def test_resume_after_an_interruption_gives_the_uninterrupted_result(in_process, tmp_path):
    with ensemble.make_executor(workers=1) as ex:
        run(tmp_path, ex)
        # an interruption: replication 1 never finished (only a temporary folder is left) and 2 never started
        shutil.rmtree(ensemble.replication_dir(tmp_path, "small", 1))
        shutil.rmtree(ensemble.replication_dir(tmp_path, "small", 2))
        ensemble.replication_dir(tmp_path, "small", 1).parent.joinpath(".rep_0001.abc.tmp").mkdir()
        done_before = (ensemble.replication_dir(tmp_path, "small", 0) / ensemble.DONE).stat().st_mtime_ns
        with pytest.raises(InputError, match="--resume"):
            run(tmp_path, ex)
        other_seed = SMALL.model_copy(update={"seed": 12})
        with pytest.raises(InputError, match="another scenario, seed"):
            ensemble.run_replications([(other_seed, 0)], 12, 3, None, tmp_path, ex, resume=True)
        run(tmp_path, ex, resume=True)
    assert (ensemble.replication_dir(tmp_path, "small", 0) / ensemble.DONE).stat().st_mtime_ns == done_before  # not redone
    for x, y in zip(metrics_of(in_process, "small"), metrics_of(tmp_path, "small")):
        pd.testing.assert_frame_equal(x, y)
    summary = ensemble.summarise(tmp_path, "small", 3)
    assert {"mean", "median", "p5", "p25", "p75", "p95"} <= set(summary.columns)
    ok = summary.dropna(subset=["p5"])
    assert (ok["p5"] <= ok["median"] + 1e-9).all() and (ok["median"] <= ok["p95"] + 1e-9).all()


def test_identical_scenarios_have_exactly_zero_differences(tmp_path):
    twin = SMALL.model_copy(update={"name": "twin"})
    with ensemble.make_executor(workers=2) as ex:
        run(tmp_path, ex, n=2, scenarios=(SMALL, twin))
    comparison = ensemble.compare(tmp_path, "small", "twin", 2)
    assert len(comparison) > 1000
    diffs = comparison[["difference", "difference_p5", "difference_p95"]].to_numpy()
    assert (np.nan_to_num(diffs) == 0).all()


def test_a_new_kita_changes_only_kita_services_and_only_from_its_year(tmp_path):
    base = Scenario(name="base", areas="sozialrathaus:Bockenheim", horizon=5, seed=3)
    kita = with_intervention(base, "new_kita_bockenheim.toml", "offerings").model_copy(update={"name": "kita"})
    with ensemble.make_executor(workers=2) as ex:
        ensemble.run_replications([(base, 0), (kita, 0)], 3, 2, None, tmp_path, ex)
    c = ensemble.compare(tmp_path, "base", "kita", 2)
    changed = c[c["difference"].abs() > 1e-12]
    assert len(changed) > 0
    assert changed["year"].min() >= 2027
    assert set(changed["table"]) <= {"services", "services_unmet", "cohesion"}
    services = changed[changed["table"].isin(["services", "services_unmet"])]
    assert set(services["indicator"].str.split(".").str[0]) <= {"kita_u3", "kita_3_6"}
    u3 = c[(c["indicator"] == "kita_u3.unmet") & (c["level"] == "area") & (c["area"] == "Bockenheim") & (c["year"] >= 2027)]
    assert (u3["difference"] <= 0).all() and (u3["difference"] < 0).any()


class _Sections(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.images, self.lang = set(), 0, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.ids.add(a.get("id"))
        if tag == "img" and a.get("src", "").startswith("data:image/png;base64,"):
            self.images += 1
        if tag == "html":
            self.lang = a.get("lang")


@pytest.mark.parametrize("lang, word", [("de", "Wer betroffen ist"), ("en", "Who is affected")])
def test_compare_command_writes_tables_figures_and_a_complete_report(tmp_path, lang, word):
    import subprocess
    import sys

    from tests.conftest import ROOT

    kita = tmp_path / "kita.toml"
    kita.write_text(f'extends = "{ROOT / "scenarios" / "new_kita_bockenheim.toml"}"\nareas = "sozialrathaus:Bockenheim"\nname = "kita"\n')
    base = tmp_path / "base.toml"
    base.write_text(f'extends = "{ROOT / "scenarios" / "baseline.toml"}"\nareas = "sozialrathaus:Bockenheim"\n')
    out = tmp_path / "cmp"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulation",
            "compare",
            str(base),
            str(kita),
            "--replications",
            "2",
            "--horizon",
            "5",
            "--out",
            str(out),
            "--workers",
            "1",
            "--lang",
            lang,
            "--map-year",
            "2026",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    comparison = pd.read_parquet(out / "comparison.parquet")
    assert list(comparison.columns[:9]) == ["scenario", "year", "level", "area", "table", "indicator", "baseline", "value", "difference"]
    assert set(comparison["scenario"]) == {"kita"}
    assert (out / "comparison.csv").is_file() and (out / "summary_base.parquet").is_file() and (out / "summary_kita.csv").is_file()
    for png in ("fan_persons.png", "fan_cohesion_index.png", "age_structure.png", "map_kita_kita_u3_unmet_2026.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    page = (out / "report.html").read_text(encoding="utf-8")
    parser = _Sections()
    parser.feed(page)
    assert {"compared", "results", "affected", "areas", "uncertainty", "assumptions"} <= parser.ids
    assert parser.images >= 4 and parser.lang == lang
    assert word in page and "kita" in page and "http" not in page.split("<body>")[1].split("assumptions")[0]


def test_compare_rejects_duplicate_names(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulation",
            "compare",
            str(ROOT / "scenarios" / "baseline.toml"),
            str(ROOT / "scenarios" / "baseline.toml"),
            "--replications",
            "2",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "names must differ" in proc.stderr


def test_run_command_with_replications_writes_summaries_and_resumes(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    small = tmp_path / "small.toml"
    small.write_text(f'extends = "{ROOT / "scenarios" / "baseline.toml"}"\nareas = ["Altstadt", "Innenstadt"]\nhorizon = 2\n')
    out = tmp_path / "ens"

    def sozialraum(*extra):
        return subprocess.run(
            [sys.executable, "-m", "simulation", "run", str(small), "--replications", "3", "--workers", "2", "--out", str(out), *extra],
            capture_output=True,
            text=True,
            timeout=600,
        )

    first = sozialraum()
    assert first.returncode == 0, first.stderr
    summary = pd.read_parquet(out / "summary_small.parquet")
    assert (summary["replications"] == 3).all() and (out / "summary_small.csv").is_file()
    assert (out / "fan_persons.png").is_file() and (out / "manifest.json").is_file()
    again = sozialraum()
    assert again.returncode == 2 and "--resume" in again.stderr
    resumed = sozialraum("--resume")
    assert resumed.returncode == 0, resumed.stderr
    pd.testing.assert_frame_equal(summary, pd.read_parquet(out / "summary_small.parquet"))


def test_inputs_are_loaded_once_per_worker_not_per_replication(tmp_path, monkeypatch):
    from simulation import inputs

    calls = []
    real = inputs.load_inputs
    monkeypatch.setattr(inputs, "load_inputs", lambda scenario, where=None: calls.append(scenario.name) or real(scenario, where))
    inputs.cached_inputs.cache_clear()
    with ensemble.make_executor(workers=1) as ex:  # one worker: this process
        run(tmp_path, ex, n=4)
    assert calls == ["small"]
    assert len(list(ensemble.load_metrics(tmp_path, "small", 4))) == 4


def test_every_summarised_table_appears_in_the_metrics(in_process):
    from simulation.metrics import METRIC_COLUMNS
    from simulation.tables import TABLES

    frame = next(ensemble.load_metrics(in_process, "small", 1))
    assert list(frame.columns) == METRIC_COLUMNS
    assert set(frame["table"]) == {t.name for t in TABLES if t.summarise is not None}
