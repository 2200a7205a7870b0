"""Which way round a sender writes a day and a month ("12/10": 10 December or 12 October), from the language they
write in when it is known, else from their time zone. A date valid only one way (13/02) reads itself either way;
this only settles the ambiguous ones."""

from __future__ import annotations

# The United States and the places that took its habit: its territories, the Philippines and the freely
# associated Pacific states.
_MONTH_FIRST_ZONES = {
    "Pacific/Honolulu", "Pacific/Johnston", "Pacific/Midway", "Pacific/Pago_Pago", "Pacific/Samoa", "Pacific/Guam",
    "Pacific/Saipan", "Pacific/Majuro", "Pacific/Kwajalein", "Pacific/Palau", "Pacific/Chuuk", "Pacific/Truk",
    "Pacific/Pohnpei", "Pacific/Ponape", "Pacific/Kosrae", "Asia/Manila", "America/Puerto_Rico", "America/St_Thomas",
    "America/Virgin", "America/Metlakatla", "America/Indianapolis", "America/Fort_Wayne", "America/Knox_IN",
    "America/Louisville", "America/Shiprock", "Navajo", "EST5EDT", "CST6CDT", "MST7MDT", "PST8PDT", "EST", "MST",
    "HST",
}
_MONTH_FIRST_PREFIXES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
                         "America/Phoenix", "America/Anchorage", "America/Detroit", "America/Boise", "America/Juneau",
                         "America/Indiana/", "America/Kentucky/", "America/North_Dakota/", "America/Menominee",
                         "America/Adak", "America/Sitka", "America/Nome", "America/Yakutat", "US/")
# Canada writes both ways. English Canada's invoices and accounting software mostly follow the United States
# (month first), French Canada writes day first; a zone cannot tell Toronto's English writers from Quebec's French
# ones (both are America/Toronto), so the zone says month first and a French language tag overrides it.
_CANADIAN_ZONES = {
    "America/Toronto", "America/Montreal", "America/Vancouver", "America/Edmonton", "America/Winnipeg",
    "America/Regina", "America/Swift_Current", "America/Halifax", "America/Glace_Bay", "America/Moncton",
    "America/Goose_Bay", "America/St_Johns", "America/Whitehorse", "America/Dawson", "America/Dawson_Creek",
    "America/Fort_Nelson", "America/Creston", "America/Iqaluit", "America/Rankin_Inlet", "America/Cambridge_Bay",
    "America/Inuvik", "America/Resolute", "America/Atikokan", "America/Blanc-Sablon", "America/Nipigon",
    "America/Thunder_Bay", "America/Rainy_River", "America/Yellowknife", "America/Pangnirtung",
}

# Regions of a language tag ("en-US") whose writers put the month first; any other region puts the day first.
_MONTH_FIRST_REGIONS = {"us", "ph", "ca", "pr", "gu", "as", "mp", "vi", "um", "fm", "mh", "pw"}
# Languages that write the year, then the month, then the day (2026/12/10, 12/10 for 10 December) whatever the
# region; "fil" is the Philippines' own.
_MONTH_FIRST_LANGUAGES = {"zh", "ja", "ko", "hu", "lt", "fil"}
# Languages spoken in month-first and day-first places alike: alone ("en"), they leave the zone to decide.
_EITHER_WAY_LANGUAGES = {"en", "es"}


def month_first_zone(zone: str | None) -> bool:
    """Whether people in this time zone write month before day (the United States, its territories, the
    Philippines, and Canada; see above)."""
    if not zone:
        return False
    return zone in _MONTH_FIRST_ZONES or zone in _CANADIAN_ZONES or zone.startswith(("Canada/",
                                                                                      *_MONTH_FIRST_PREFIXES))


def month_first_for(zone: str | None, language: str | None = None) -> bool:
    """Whether the sender writes month before day: their language tag ("en-US", "en-GB", "de", "fr-CA", or the
    first of a list such as "en-US,en;q=0.9") when it says, else their time zone."""
    from_language = _month_first_language(language)
    return month_first_zone(zone) if from_language is None else from_language


def _month_first_language(language: str | None) -> bool | None:
    tag = (language or "").split(",")[0].split(";")[0].strip().lower().replace("_", "-")
    if not tag:
        return None
    primary, _, rest = tag.partition("-")
    region = next((part for part in rest.split("-") if len(part) == 2 and part.isalpha()), None)
    if primary in _MONTH_FIRST_LANGUAGES:
        return True
    if primary == "fr":
        return False  # French Canada included: it writes the day first
    if region is not None:
        return region in _MONTH_FIRST_REGIONS
    return None if primary in _EITHER_WAY_LANGUAGES else False
