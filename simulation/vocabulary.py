"""The project's vocabulary, defined once: every module, the scenario schema and the outputs
import these names and codes from here.

Codes are the small integers stored in the population columns; names are the external values
written to tables and accepted in scenario files (position in the tuple = code).
"""

from __future__ import annotations

CITY = "Frankfurt am Main"  # the label of city-level rows in every output

# open age: the last single year of age; "100" means 100 and older in every table
MAX_AGE = 100

SEXES = ("female", "male")
FEMALE, MALE = 0, 1

# migration background as the city counts it: none, German with migration background, foreign
ORIGINS = ("none", "german_mb", "foreign")
NONE, GERMAN_MB, FOREIGN = 0, 1, 2

# income class: "low" = the household receives minimum-income benefits
INCOME_CLASSES = ("low", "not_low")
LOW, NOT_LOW = 0, 1

# a member's role in the household; every household has exactly one head
ROLES = ("head", "partner", "child", "other")
HEAD, PARTNER, CHILD, OTHER = 0, 1, 2, 3

# household types are derived from the members' roles (see Population.household_type)
HOUSEHOLD_TYPES = ("single", "couple", "couple_with_children", "single_parent", "other")

# counts per service and home area, in this order (services table, ServiceYear.counts)
SERVICE_COUNTS = ("eligible", "demand", "served", "unmet", "waiting")

# who bears unmet need: (dimension, group) in the order of the services_unmet table
UNMET_GROUPS = (
    tuple(("migration_background", g) for g in ORIGINS)
    + tuple(("income_class", g) for g in INCOME_CLASSES)
    + tuple(("household_type", g) for g in HOUSEHOLD_TYPES)
)
