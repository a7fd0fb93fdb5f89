"""Agent-based projection of households in Frankfurt am Main's social areas (Stadtteile).

Flow: scenario file -> validated Scenario -> CityModel (Mesa) -> yearly records -> outputs.
"""

__version__ = "0.1.0"
