"""One glossary of the indicators the reports show, in German and English.

Every indicator code of the metrics table (``kita_u3.unmet``,
``family_centre.household_type=single_parent.unmet_by_group``, ``cohesion_index``, ...) has a
label, a unit, a family (how it is formatted and coloured) and two sentences: what it measures
and what a higher value means. Service names and units come from the service catalogue
(``label_de`` / ``label_en``), so a new service needs no entry here; everything else is below.
``Glossary.term`` raises ``KeyError`` for a code it does not know, so no raw code reaches a report
(``tests/test_report.py`` checks every code a run writes).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulation.metrics import AGE_BANDS

# family -> how values are formatted (localise.DECIMALS) and which colour scale maps use
FAMILIES = ("count", "index", "rate", "years")


@dataclass(frozen=True)
class Term:
    label: str
    unit: str  # for axes and table headers: "Personen", "Index 0–1"
    family: str  # one of FAMILIES
    measures: str  # what it measures
    higher: str  # what a higher value means


def _t(family: str, de: tuple[str, str, str, str], en: tuple[str, str, str, str]) -> dict:
    return {"family": family, "de": de, "en": en}


PERSONS = {"de": "Personen", "en": "persons"}
HOUSEHOLDS = {"de": "Haushalte", "en": "households"}
INDEX = {"de": "Index 0–1", "en": "index 0–1"}
SHARE = {"de": "Anteil 0–1", "en": "share 0–1"}

# label, unit, what it measures, what a higher value means
TERMS: dict[tuple[str, str], dict] = {
    ("population", "persons"): _t(
        "count",
        ("Einwohnerinnen und Einwohner", "Personen", "Wohnbevölkerung zum Jahresende", "mehr Menschen wohnen dort"),
        ("Residents", "persons", "residents on 31 Dec", "more people live there"),
    ),
    ("population", "persons_migration_background"): _t(
        "count",
        (
            "Einwohner mit Migrationshintergrund",
            "Personen",
            "Ausländerinnen, Ausländer und Deutsche mit Migrationshintergrund",
            "mehr Menschen mit Migrationshintergrund",
        ),
        (
            "Residents with a migration background",
            "persons",
            "foreigners and Germans with a migration background",
            "more residents with a migration background",
        ),
    ),
    ("population", "persons_foreign"): _t(
        "count",
        ("Ausländerinnen und Ausländer", "Personen", "Einwohner ohne deutsche Staatsangehörigkeit", "mehr Einwohner ohne deutschen Pass"),
        ("Foreign residents", "persons", "residents without German citizenship", "more residents without German citizenship"),
    ),
    ("households", "households"): _t(
        "count",
        ("Haushalte", "Haushalte", "Privathaushalte zum Jahresende", "mehr Haushalte"),
        ("Households", "households", "private households on 31 Dec", "more households"),
    ),
    ("housing", "dwellings"): _t(
        "count",
        ("Wohnungen", "Wohnungen", "Wohnungsbestand", "mehr Wohnungen"),
        ("Dwellings", "dwellings", "the stock of dwellings", "more dwellings"),
    ),
    ("housing", "vacant"): _t(
        "count",
        ("Freie Wohnungen", "Wohnungen", "Wohnungen ohne Haushalt", "mehr Leerstand, ein entspannterer Markt"),
        ("Vacant dwellings", "dwellings", "dwellings without a household", "more vacancies, a less tight market"),
    ),
    ("housing", "displaced_households"): _t(
        "count",
        (
            "Verdrängte Haushalte",
            "Haushalte",
            "Haushalte mit geringem Einkommen, die wegen steigender Mieten wegziehen",
            "mehr Verdrängung (schlechter)",
        ),
        ("Displaced households", "households", "low-income households moving away because rents rose", "more displacement (worse)"),
    ),
    ("events", "births"): _t(
        "count", ("Geburten", "Personen", "Geburten im Jahr", "mehr Geburten"), ("Births", "persons", "births in the year", "more births")
    ),
    ("events", "deaths"): _t(
        "count",
        ("Sterbefälle", "Personen", "Sterbefälle im Jahr", "mehr Sterbefälle"),
        ("Deaths", "persons", "deaths in the year", "more deaths"),
    ),
    ("events", "immigrants"): _t(
        "count",
        ("Zuzüge von außerhalb", "Personen", "Zuzüge über die Stadtgrenze im Jahr", "mehr Zuzug"),
        ("Arrivals from outside", "persons", "moves into the city in the year", "more arrivals"),
    ),
    ("events", "emigrants"): _t(
        "count",
        ("Fortzüge aus der Stadt", "Personen", "Fortzüge über die Stadtgrenze im Jahr", "mehr Fortzug"),
        ("Departures from the city", "persons", "moves out of the city in the year", "more departures"),
    ),
    ("events", "moves_in"): _t(
        "count",
        ("Umzüge in den Stadtteil", "Personen", "Umzüge aus anderen Stadtteilen im Jahr", "mehr Zuzug aus der Stadt"),
        ("Moves into the area", "persons", "moves from other areas in the year", "more moves in"),
    ),
    ("events", "moves_out"): _t(
        "count",
        ("Umzüge aus dem Stadtteil", "Personen", "Umzüge in andere Stadtteile im Jahr", "mehr Wegzug in andere Stadtteile"),
        ("Moves out of the area", "persons", "moves to other areas in the year", "more moves out"),
    ),
    ("cohesion", "turnover_rate"): _t(
        "index",
        ("Fluktuation", "Anteil 0–1", "Zu- und Fortzüge (halbiert) je Einwohner zu Jahresbeginn", "mehr Wechsel in der Nachbarschaft"),
        ("Turnover", "share 0–1", "moves in and out (halved) per resident at the start of the year", "more change in the neighbourhood"),
    ),
    ("cohesion", "median_years_at_address"): _t(
        "years",
        ("Wohndauer (Median)", "Jahre", "mittlere Zahl der Jahre, die Haushalte an ihrer Adresse wohnen", "stabilere Nachbarschaft"),
        ("Years at the address (median)", "years", "median years households have lived at their address", "a more settled neighbourhood"),
    ),
    ("cohesion", "displacement"): _t(
        "count",
        (
            "Verdrängung",
            "Haushalte",
            "Haushalte mit geringem Einkommen, die wegen steigender Mieten wegziehen",
            "mehr Verdrängung (schlechter)",
        ),
        ("Displacement", "households", "low-income households moving away because rents rose", "more displacement (worse)"),
    ),
    ("cohesion", "service_mixing_migration"): _t(
        "index",
        (
            "Begegnung in Angeboten (Migration)",
            "Anteil 0–1",
            "Anteil der Kontakte in Angeboten zwischen Menschen mit und ohne Migrationshintergrund",
            "mehr Begegnung über Gruppengrenzen",
        ),
        (
            "Mixing in services (migration)",
            "share 0–1",
            "share of contacts in services between people with and without a migration background",
            "more contact across groups",
        ),
    ),
    ("cohesion", "service_mixing_income"): _t(
        "index",
        (
            "Begegnung in Angeboten (Einkommen)",
            "Anteil 0–1",
            "Anteil der Kontakte in Angeboten zwischen Haushalten mit und ohne geringes Einkommen",
            "mehr Begegnung über Einkommensgrenzen",
        ),
        (
            "Mixing in services (income)",
            "share 0–1",
            "share of contacts in services between low-income and other households",
            "more contact across incomes",
        ),
    ),
    ("cohesion", "volunteers_per_1000"): _t(
        "rate",
        ("Ehrenamtliche je 1.000 Einwohner", "je 1.000 Einwohner", "Ehrenamtlich Engagierte je 1.000 Einwohner", "mehr Engagement"),
        ("Volunteers per 1,000 residents", "per 1,000 residents", "volunteers per 1,000 residents", "more volunteering"),
    ),
    ("cohesion", "volunteer_hours_per_demand"): _t(
        "rate",
        (
            "Ehrenamtsstunden je Nachfragendem",
            "Stunden je Person",
            "Ehrenamtsstunden in sozialen Angeboten je Person, die ein solches Angebot sucht",
            "mehr ehrenamtliche Unterstützung",
        ),
        (
            "Volunteer hours per user",
            "hours per person",
            "volunteer hours in social services per person seeking them",
            "more volunteer support",
        ),
    ),
    ("cohesion", "alone_75plus_no_contact"): _t(
        "count",
        (
            "Allein lebende ab 75 ohne Kontakt zu Angeboten",
            "Personen",
            "Personen ab 75, die allein leben und im Jahr kein Angebot genutzt haben",
            "mehr Isolation (schlechter)",
        ),
        (
            "People 75+ living alone without contact",
            "persons",
            "persons 75+ living alone who used no service in the year",
            "more isolation (worse)",
        ),
    ),
    ("cohesion", "dependency_young"): _t(
        "rate",
        ("Jugendquotient", "je 100 von 18–64", "Personen unter 18 je 100 Personen von 18 bis 64 Jahren", "mehr Kinder und Jugendliche"),
        ("Young-age dependency ratio", "per 100 aged 18–64", "persons under 18 per 100 aged 18-64", "more children and young people"),
    ),
    ("cohesion", "dependency_old"): _t(
        "rate",
        ("Altenquotient", "je 100 von 18–64", "Personen ab 65 je 100 Personen von 18 bis 64 Jahren", "mehr ältere Menschen"),
        ("Old-age dependency ratio", "per 100 aged 18–64", "persons 65+ per 100 aged 18-64", "more older people"),
    ),
    ("cohesion", "cohesion_index"): _t(
        "index",
        (
            "Zusammenhalt (Index)",
            "Index 0–1",
            "gewichtetes Mittel aus Begegnung, Stabilität, Versorgung, Engagement und Kontakt Älterer; "
            "im Basisjahr nicht berechnet, weil die Stabilität erst ein Jahr mit Umzügen braucht",
            "mehr Zusammenhalt",
        ),
        (
            "Cohesion (index)",
            "index 0–1",
            "weighted mean of mixing, stability, service reach, volunteering and contact of older people; "
            "not computed in the base year, whose stability needs a year of moves",
            "more cohesion",
        ),
    ),
    ("cohesion", "small_area"): _t(
        "index",
        ("Kleiner Stadtteil", "ja/nein", "weniger Einwohner als die Schwelle: Werte unsicher", "–"),
        ("Small area", "yes/no", "fewer residents than the threshold: figures uncertain", "–"),
    ),
}

SEGREGATION = {
    "dissimilarity": (
        ("Segregation (Dissimilarität)", "Anteil, der umziehen müsste, damit alle Stadtteile gleich gemischt sind", "mehr Trennung"),
        ("Segregation (dissimilarity)", "share who would have to move for every area to be equally mixed", "more separation"),
    ),
    "isolation": (
        ("Isolation", "Anteil der eigenen Gruppe im Stadtteil eines typischen Gruppenmitglieds", "mehr Abschottung"),
        ("Isolation", "share of the own group in the area of a typical group member", "more separation"),
    ),
    "exposure": (
        ("Kontaktchance", "Anteil der anderen Gruppe im Stadtteil eines typischen Gruppenmitglieds", "mehr Kontaktchancen"),
        ("Exposure", "share of the other group in the area of a typical group member", "more chances of contact"),
    ),
    "entropy": (
        ("Segregation (Entropie)", "wie viel weniger gemischt die Stadtteile sind als das Ganze", "mehr Trennung"),
        ("Segregation (entropy)", "how much less mixed the areas are than the whole", "more separation"),
    ),
}
SEGREGATION_GROUPS = {
    "migration": ("nach Migrationshintergrund", "by migration background"),
    "income": ("nach Einkommen", "by income"),
}
COHESION_PARTS = {
    "mixing": (
        ("Begegnung", "Begegnung in Angeboten im Verhältnis zur zufälligen Mischung"),
        ("Mixing", "mixing in services relative to random mixing"),
    ),
    "stability": (("Stabilität", "1 minus Fluktuation"), ("Stability", "1 minus turnover")),
    "service_reach": (
        ("Versorgung", "Versorgte je Nachfragendem (Angebote mit Plätzen)"),
        ("Service reach", "served per person seeking (services with places)"),
    ),
    "volunteering": (
        ("Engagement", "Engagierte ab 14 im Verhältnis zu 39,7 % bundesweit"),
        ("Volunteering", "volunteers 14+ relative to 39.7 % nationally"),
    ),
    "no_isolation": (
        ("Kontakt Älterer", "1 minus Anteil allein lebender ab 75 ohne Kontakt"),
        ("Contact of older people", "1 minus share of 75+ alone without contact"),
    ),
}
AGE_BAND_LABELS = {
    "0_2": "0–2",
    "3_5": "3–5",
    "6_9": "6–9",
    "10_17": "10–17",
    "18_29": "18–29",
    "30_64": "30–64",
    "65_74": "65–74",
    "75plus": "75+",
}
SEXES = {"female": ("Frauen", "Women"), "male": ("Männer", "Men")}
HOUSEHOLD_TYPES = {
    "single": ("Einpersonenhaushalte", "single-person households"),
    "couple": ("Paare ohne Kinder", "couples without children"),
    "couple_with_children": ("Paare mit Kindern", "couples with children"),
    "single_parent": ("Alleinerziehende", "single parents"),
    "other": ("Sonstige Haushalte (z. B. Wohngemeinschaften)", "other households (e.g. flat shares)"),
}
GROUPS = {
    ("migration_background", "none"): ("ohne Migrationshintergrund", "without a migration background"),
    ("migration_background", "german_mb"): ("Deutsche mit Migrationshintergrund", "Germans with a migration background"),
    ("migration_background", "foreign"): ("Ausländerinnen und Ausländer", "foreign residents"),
    ("income_class", "low"): ("Haushalte mit Mindestsicherung", "households on minimum income"),
    ("income_class", "not_low"): ("Haushalte ohne Mindestsicherung", "households not on minimum income"),
    **{("household_type", k): v for k, v in HOUSEHOLD_TYPES.items()},
}
DIMENSIONS = {
    "migration_background": ("nach Migrationshintergrund", "by migration background"),
    "income_class": ("nach Einkommen", "by income"),
    "household_type": ("nach Haushaltstyp", "by household type"),
}
# the service measures of the metrics table: label, what it measures, what higher means
MEASURES = {
    "eligible": (
        ("Zielgruppe", "Menschen (bzw. Haushalte), für die das Angebot gedacht ist", "mehr Menschen in der Zielgruppe"),
        ("Eligible", "people (or households) the service is meant for", "more people in the target group"),
    ),
    "demand": (
        ("Nachfrage", "Menschen der Zielgruppe, die das Angebot suchen", "mehr Menschen suchen einen Platz"),
        ("Demand", "people of the target group who seek the service", "more people seek a place"),
    ),
    "capacity": (
        ("Kapazität", "Plätze des Angebots in den Stadtteilen, in der Einheit des Angebots", "mehr Angebot"),
        ("Capacity", "what the offerings in the areas provide, in the service's unit", "more provision"),
    ),
    "served": (
        ("Versorgt", "Nachfragende, die einen Platz bekommen (im eigenen oder einem nahen Stadtteil)", "mehr Menschen erreicht"),
        ("Served", "people seeking the service who get a place (in their own or a nearby area)", "more people reached"),
    ),
    "unmet": (
        ("Ungedeckter Bedarf", "Nachfragende ohne Platz", "mehr Menschen ohne Platz (schlechter)"),
        ("Unmet need", "people seeking the service without a place", "more people without a place (worse)"),
    ),
    "waiting": (
        ("Davon schon im Vorjahr wartend", "Nachfragende ohne Platz, die schon ein Jahr zuvor warteten", "längeres Warten (schlechter)"),
        ("Of these waiting since last year", "unmet who were already waiting a year before", "longer waiting (worse)"),
    ),
}
UNMET_BY_GROUP = (
    ("Ungedeckter Bedarf", "Nachfragende ohne Platz in der Gruppe"),
    ("Unmet need", "people seeking the service without a place, in the group"),
)
GLOSSARY_TEXT = {
    "de": {
        "entry": "{measures}. Höherer Wert: {higher}. Einheit: {unit}.",
        "service": "Nachfrage, Versorgte und ungedeckter Bedarf in {users}, Kapazität in {unit}.",
        "groups": "Ungedeckter Bedarf nach Gruppen",
        "groups_text": "Nachfragende ohne Platz, aufgeteilt nach Migrationshintergrund, Einkommen (Mindestsicherung) und Haushaltstyp; "
        "nur für Sozialrathausbezirke und die ganze Stadt, weil Stadtteile dafür zu klein sind.",
        "measure": "{measures}. Höherer Wert: {higher}.",
    },
    "en": {
        "entry": "{measures}. Higher: {higher}. Unit: {unit}.",
        "service": "Demand, served and unmet need in {users}, capacity in {unit}.",
        "groups": "Unmet need by group",
        "groups_text": "People seeking a service without a place, by migration background, income (minimum income) and household "
        "type; for Sozialrathaus districts and the whole city only, because areas are too small for it.",
        "measure": "{measures}. Higher: {higher}.",
    },
}
# the catalogue's units (service_catalogue.csv, column unit)
UNITS = {
    "places": ("Plätze", "places"),
    "visitor places": ("Besucherplätze", "visitor places"),
    "families": ("Familien", "families"),
    "clients": ("Klientinnen und Klienten", "clients"),
    "course seats": ("Kursplätze", "course seats"),
    "counselling hours": ("Beratungsstunden", "counselling hours"),
    "cases": ("Fälle", "cases"),
}

# the run-wide assumptions of simulation/runner.py, in German (keyed by the English text)
ASSUMPTIONS_DE = {
    "Stadtteil structure (age groups x origin, female share) is that of 31 Dec 2012; for 2023 it is raked to the official Stadtteil totals, the register's city total and foreigners, and the official 17 age groups of 31 Dec 2023 (their shares carried to the register level; see population_method).": "Die Struktur der Stadtteile (Altersgruppen × Herkunft, Frauenanteil) ist die vom 31.12.2012; für 2023 wird sie an die amtlichen Stadtteilsummen, die Einwohnerzahl und die Ausländerzahl des Melderegisters und die 17 amtlichen Altersgruppen vom 31.12.2023 angepasst (deren Anteile auf das Registerniveau übertragen).",
    "Single years of age follow Frankfurt tables (Germans: 31 Dec 2023; foreigners: 31 Dec 2013) by a mean-preserving monotone interpolation; 75+ as a stable population from the German life table.": "Einzelne Altersjahre folgen Frankfurter Tabellen (Deutsche: 31.12.2023; Ausländerinnen und Ausländer: 31.12.2013) durch eine mittelwerttreue monotone Interpolation; ab 75 als stabile Bevölkerung nach der deutschen Sterbetafel.",
    "Mortality: German period life tables (Destatis 12621-0001) x a city factor fitted to Frankfurt's life expectancy 81.9 (2020); after the latest table death probabilities fall by mortality.improvement_per_year (assumption).": "Sterblichkeit: deutsche Periodensterbetafeln (Destatis 12621-0001) × ein Stadtfaktor, angepasst an Frankfurts Lebenserwartung von 81,9 Jahren (2020); nach der letzten Tafel sinken die Sterbewahrscheinlichkeiten jährlich um einen angenommenen Satz.",
    "Fertility: German age pattern (Destatis 12612-0008) of the simulated year or the nearest year x a city factor = Frankfurt's TFR 1.42 / Germany's 1.565 (2018).": "Geburten: deutsches Altersmuster (Destatis 12612-0008) des Simulationsjahres oder des nächstgelegenen Jahres × ein Stadtfaktor = Frankfurts Geburtenziffer 1,42 / Deutschlands 1,565 (2018).",
    "Household structure: Frankfurt register-based household statistics of 30 June 2022, applied in every area (no area-level household data).": "Haushaltsstruktur: Frankfurter registergestützte Haushaltsstatistik vom 30.06.2022, in jedem Stadtteil gleich angewandt (keine Haushaltsdaten je Stadtteil).",
    "Household transition hazards (leaving home, couple formation, separation) are scenario assumptions, see scenarios/baseline.toml.": "Die Übergangsraten der Haushalte (Auszug aus dem Elternhaus, Paarbildung, Trennung) sind Annahmen des Szenarios (siehe Szenariodatei der Basis).",
    "Out-migration: Frankfurt 2013 out-moves per resident (71.6 per 1,000), by age after the Rogers-Castro fundamental schedule (assumed shape; no gross moves by age in the data).": "Fortzüge: Frankfurter Fortzüge je Einwohner 2013 (71,6 je 1.000), nach Alter verteilt nach dem Rogers-Castro-Grundmuster (angenommene Form; keine Bruttowanderungen nach Alter in den Daten).",
    "In-migration: expected out-migrants + net migration by age with the rest of Germany (Kreiswanderungsmatrix 2018-2021) + net migration from abroad (INKAR 2023, spread by the schedule's shape: assumption).": "Zuzüge: erwartete Fortzüge + Wanderungssaldo nach Alter mit dem übrigen Deutschland (Kreiswanderungsmatrix 2018–2021) + Saldo mit dem Ausland (INKAR 2023, nach Alter verteilt: Annahme).",
    "Moves inside the city: age profile from the share of adults living < 5 years at their address by age group (Stadtteil profile 2012).": "Umzüge innerhalb der Stadt: Altersprofil aus dem Anteil der Erwachsenen, die weniger als 5 Jahre an ihrer Adresse wohnen, nach Altersgruppe (Stadtteilprofil 2012).",
    "Income class 'low' = minimum-income benefits; city share 11.6 % (2022); relative risk by origin group is a scenario assumption.": "Geringes Einkommen = Bezug von Mindestsicherungsleistungen; Anteil in der Stadt 11,6 % (2022); das relative Risiko nach Herkunftsgruppe ist eine Annahme des Szenarios.",
    "Dwellings: base-year households / (1 - vacancy_reserve) per area; new dwellings per year from the scenario (2023 completions: 3,661), placed by each Stadtteil's observed population growth 2012-2023 with a replacement share by stock, tapering to the stock pattern after 2023 (half-life: assumption); shares in housing_method.": "Wohnungen: Haushalte des Basisjahres / (1 − Leerstandsreserve) je Stadtteil; neue Wohnungen pro Jahr laut Szenario (Fertigstellungen 2023: 3.661), verteilt nach dem beobachteten Bevölkerungswachstum der Stadtteile 2012–2023 mit einem Ersatzanteil nach Bestand, der allmählich in das Bestandsmuster übergeht (Halbwertszeit: Annahme).",
    "Rents: base-year offer rents (listings, not stock rents) per Stadtteil where the data has them, the nearest Stadtteile elsewhere (assumption; housing_method); the index per area (1 in the base year) moves with general growth, tightness, new building and demand pressure; their sizes and displacement rates are scenario assumptions.": "Mieten: Angebotsmieten des Basisjahres (Inserate, keine Bestandsmieten) je Stadtteil, wo die Daten sie haben, sonst die der nächsten Stadtteile (Annahme); der Mietindex je Stadtteil (1 im Basisjahr) folgt dem allgemeinen Anstieg, der Marktenge, dem Neubau und dem Nachfragedruck; deren Stärken und die Verdrängungsraten sind Annahmen des Szenarios.",
    "Location choice of movers, displaced households and newcomers: conditional logit on free dwellings, rent by income class and the share of the household's origin group (homophily); rent sensitivities and homophily are calibrated assumptions (scenarios/baseline.toml).": "Wohnortwahl von Umziehenden, Verdrängten und Zuziehenden: bedingtes Logit-Modell nach freien Wohnungen, Miete je Einkommensklasse und Anteil der eigenen Herkunftsgruppe; Mietempfindlichkeit und Nähe zur eigenen Gruppe sind kalibrierte Annahmen.",
    "Volunteering: 39.7 % of residents 14+ (Freiwilligensurvey 2019, national); hours, the share going to social services and hours per place are scenario assumptions.": "Ehrenamt: 39,7 % der Einwohner ab 14 Jahren (Freiwilligensurvey 2019, bundesweit); Stunden, der Anteil für soziale Angebote und die Stunden je Platz sind Annahmen des Szenarios.",
}


class Glossary:
    """Labels, units and definitions of indicator codes in one language; service names and units
    from the catalogue (``{name: ServiceType}``)."""

    def __init__(self, lang: str, services: dict):
        self.lang = lang
        self.k = 0 if lang == "de" else 1
        self.services = services

    def _pick(self, pair):
        return pair[self.k]

    def service(self, name: str) -> str:
        s = self.services[name]
        return s.label_de if self.lang == "de" else s.label_en

    def service_users(self, name: str) -> str:
        """The unit of demand, served and unmet: persons, or households for household services."""
        return (HOUSEHOLDS if self.services[name].level == "household" else PERSONS)[self.lang]

    def service_unit(self, name: str) -> str:
        """The unit of the service's capacity (places, counselling hours, ...)."""
        return self._pick(UNITS[self.services[name].unit])

    def group(self, dimension: str, group: str) -> str:
        return self._pick(GROUPS[(dimension, group)])

    def dimension(self, dimension: str) -> str:
        return self._pick(DIMENSIONS[dimension])

    def measure(self, measure: str) -> str:
        return self._pick(MEASURES[measure])[0]

    def assumption(self, text: str) -> str:
        return ASSUMPTIONS_DE[text] if self.lang == "de" else text

    def entries(self, codes) -> list[tuple[str, str]]:
        """The glossary of the codes ``(table, indicator)`` a report shows: each service once with its
        units, each service measure once, unmet need by group once, every other indicator itself."""
        text = GLOSSARY_TEXT[self.lang]
        out = set()
        for table, indicator in codes:
            if table in ("services", "services_unmet"):
                service = indicator.split(".")[0]
                out.add((self.service(service), text["service"].format(users=self.service_users(service), unit=self.service_unit(service))))
                if table == "services_unmet":
                    out.add((text["groups"], text["groups_text"]))
                else:
                    label, measures, higher = self._pick(MEASURES[indicator.split(".")[1]])
                    out.add((label, text["measure"].format(measures=measures, higher=higher)))
                continue
            term = self.term(table, indicator)
            out.add(
                (
                    term.label,
                    text["entry"].format(measures=term.measures[:1].upper() + term.measures[1:], higher=term.higher, unit=term.unit),
                )
            )
        return sorted(out)

    def term(self, table: str, indicator: str) -> Term:
        """The glossary entry of one indicator code; KeyError for an unknown code."""
        if table == "services":
            service, measure = indicator.split(".")
            label, measures, higher = self._pick(MEASURES[measure])
            unit = self.service_unit(service) if measure == "capacity" else self.service_users(service)
            return Term(f"{self.service(service)}: {label}", unit, "count", measures, higher)
        if table == "services_unmet":
            service, group, _ = indicator.split(".")
            dimension, name = group.split("=")
            label, measures = self._pick(UNMET_BY_GROUP)
            text = f"{self.service(service)}: {label}, {self.group(dimension, name)}"
            return Term(text, self.service_users(service), "count", measures, self._pick(MEASURES["unmet"])[2])
        entry = TERMS.get((table, indicator))
        if entry is not None:
            return Term(*entry[self.lang][:2], entry["family"], *entry[self.lang][2:])
        return self._derived(table, indicator)

    def _derived(self, table: str, indicator: str) -> Term:
        """Codes built from parts: age bands, sex and age band, household types, segregation, cohesion parts."""
        de = self.lang == "de"
        if table == "population" and indicator.startswith("persons_"):
            rest = indicator.removeprefix("persons_")
            sex, _, band = rest.partition("_")
            years = "Jahre" if de else "years"
            if sex in SEXES and band in AGE_BANDS:
                label = f"{self._pick(SEXES[sex])} {AGE_BAND_LABELS[band]} {years}"
            elif rest in AGE_BANDS:
                label = f"{'Einwohner' if de else 'Residents'} {AGE_BAND_LABELS[rest]} {years}"
            else:
                raise KeyError(indicator)
            return Term(label, PERSONS[self.lang], "count", label, "mehr Menschen dieser Gruppe" if de else "more people in this group")
        if table == "households" and indicator.startswith("households_"):
            label = self._pick(HOUSEHOLD_TYPES[indicator.removeprefix("households_")])
            return Term(label, HOUSEHOLDS[self.lang], "count", label, "mehr Haushalte dieser Art" if de else "more households of this type")
        if table == "cohesion":
            kind, _, group = indicator.partition("_")
            if kind in SEGREGATION and group in SEGREGATION_GROUPS:
                label, measures, higher = self._pick(SEGREGATION[kind])
                return Term(f"{label} {self._pick(SEGREGATION_GROUPS[group])}", SHARE[self.lang], "index", measures, higher)
            for prefix, what in (("cohesion_part_", "part"), ("cohesion_weight_", "weight")):
                part = indicator.removeprefix(prefix)
                if indicator.startswith(prefix) and part in COHESION_PARTS:
                    label, measures = self._pick(COHESION_PARTS[part])
                    if what == "weight":
                        return Term(
                            f"{'Gewicht' if de else 'Weight'}: {label}",
                            SHARE[self.lang],
                            "index",
                            "Gewicht des Teils im Zusammenhaltsindex" if de else "weight of the part in the cohesion index",
                            "–",
                        )
                    prefix_text = "Zusammenhalt, Teil" if de else "Cohesion, part"
                    return Term(
                        f"{prefix_text}: {label}", INDEX[self.lang], "index", measures, "mehr Zusammenhalt" if de else "more cohesion"
                    )
        raise KeyError(f"{table}:{indicator}")
