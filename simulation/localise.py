"""Numbers, years and dates in the reader's language, formatted by Babel (CLDR), never by hand.

``Numbers("de")`` writes 111.395 and 0,812, ``Numbers("en")`` 111,395 and 0.812. How many decimals
a value gets follows its indicator family (``glossary.FAMILIES``): counts have none (one below 10,
where means of replications are fractions), indices three, rates one.
"""

from __future__ import annotations

import datetime as dt
import math

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

LANGUAGES = ("de", "en")
LOCALES = {"de": "de_DE", "en": "en_GB"}
# decimals of a value by indicator family; counts get one decimal below 10 (fractional means)
DECIMALS = {"count": 0, "index": 3, "rate": 1, "years": 1}
WORDS = {
    "de": {"to": "bis", "none": "–", "from": "ab"},
    "en": {"to": "to", "none": "–", "from": "from"},
}


def _pattern(decimals: int, signed: bool) -> str:
    body = "#,##0" + ("." + "0" * decimals if decimals else "")
    return f"+{body};-{body}" if signed else body


class Numbers:
    """Formatting of one language: ``value``, ``signed`` (differences), ``band``, ``percent``, ``years``, ``date``."""

    def __init__(self, lang: str):
        if lang not in LOCALES:
            raise ValueError(f"unknown language {lang!r} (known: {', '.join(LOCALES)})")
        self.lang = lang
        self.locale = LOCALES[lang]
        self.words = WORDS[lang]

    def decimals(self, x: float, family: str = "count") -> int:
        places = DECIMALS.get(family, 1)
        if family == "count" and abs(x) < 9.95 and not float(x).is_integer():
            return 1
        return places

    def value(self, x: float | None, family: str = "count", signed: bool = False) -> str:
        """``x`` with the family's decimals; a dash for a missing value."""
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return self.words["none"]
        places = self.decimals(x, family)
        rounded = round(float(x), places)
        if rounded == 0:  # no "-0" and no "+0"
            rounded, signed = 0.0, False
        return format_decimal(rounded, format=_pattern(places, signed), locale=self.locale)

    def signed(self, x: float | None, family: str = "count") -> str:
        """A difference: with its sign (+19, -0,004)."""
        return self.value(x, family, signed=True)

    def band(self, low: float, high: float, family: str = "count", signed: bool = True) -> str:
        """The interval of a band: "17 bis 21"."""
        fmt = self.signed if signed else self.value
        return f"{fmt(low, family)} {self.words['to']} {fmt(high, family)}"

    def percent(self, x: float, decimals: int = 0) -> str:
        """A share 0..1 as a percentage: 0,45 -> "45 %"."""
        if x is None or math.isnan(x):
            return self.words["none"]
        return format_percent(x, format="#,##0" + ("." + "0" * decimals if decimals else "") + " %", locale=self.locale)

    def integer(self, x: int) -> str:
        return format_decimal(int(x), format="#,##0", locale=self.locale)

    def fixed(self, x: float, decimals: int) -> str:
        """``x`` with exactly ``decimals`` decimals (axis ticks)."""
        rounded = round(float(x), decimals)
        return format_decimal(0.0 if rounded == 0 else rounded, format=_pattern(decimals, False), locale=self.locale)

    def factor(self, x: float) -> str:
        """A factor or parameter with the decimals it has (1,5; 1,25; 2.000)."""
        return format_decimal(x, format="#,##0.###", locale=self.locale)

    def years(self, first: int, last: int) -> str:
        """A period of whole years: "2027" or "2027–2029" (years are not grouped: 2027, not 2.027)."""
        return str(first) if first == last else f"{first}–{last}"

    def date(self, day: dt.date) -> str:
        return format_date(day, format="long", locale=self.locale)
