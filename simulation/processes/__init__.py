"""Yearly events, one module per event family. Each returns what happened; the model applies it.

Order (CityModel.step): ageing, deaths, births, household transitions, out-migration,
in-migration, moves inside the city, housing.
"""
