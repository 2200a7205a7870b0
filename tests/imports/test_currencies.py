import pytest

from plixo.imports.currencies import normalize_currency
from plixo.imports.issues import FieldIssue
from plixo.values import Fix


def _issue(call, *args) -> FieldIssue:
    with pytest.raises(FieldIssue) as caught:
        call(*args)
    return caught.value


@pytest.mark.parametrize("code", ["USD", "EUR", "JPY", "KWD", "CHF"])
def test_a_valid_iso_code_needs_no_fix(code):
    assert normalize_currency(code, "USD") == (code, None)


@pytest.mark.parametrize(("raw", "code"), [("usd", "USD"), ("Eur", "EUR"), (" gbp ", "GBP"), ("USD ", "USD")])
def test_an_iso_code_in_any_case_or_padding_is_normalised(raw, code):
    assert normalize_currency(raw, "EUR") == (code, Fix("currency_normalised", raw, code))


@pytest.mark.parametrize(("raw", "code"), [
    ("US$", "USD"), ("USD$", "USD"), ("us$", "USD"), ("€", "EUR"), ("£", "GBP"), ("¥", "JPY"), ("JP¥", "JPY"),
    ("C$", "CAD"), ("CA$", "CAD"), ("CAD$", "CAD"), ("A$", "AUD"), ("AU$", "AUD"), ("NZ$", "NZD"), ("S$", "SGD"),
    ("HK$", "HKD"), ("R$", "BRL"), ("₹", "INR"), ("CHF", "CHF"), ("Fr.", "CHF"), ("MX$", "MXN"), ("RMB", "CNY"),
    (" € ", "EUR"), ("US $", "USD"),
])
def test_currency_symbols_map_to_their_code(raw, code):
    assert normalize_currency(raw, "GBP" if code != "GBP" else "EUR") == (
        code, None if raw == code else Fix("currency_normalised", raw, code),
    )


@pytest.mark.parametrize("workspace", ["USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"])
def test_a_bare_dollar_sign_means_a_dollar_workspace_currency(workspace):
    assert normalize_currency("$", workspace) == (workspace, Fix("currency_normalised", "$", workspace))


@pytest.mark.parametrize("workspace", ["EUR", "GBP", "JPY", "CHF"])
def test_a_bare_dollar_sign_is_ambiguous_outside_dollar_workspaces(workspace):
    issue = _issue(normalize_currency, "$", workspace)
    assert issue.code == "ambiguous_currency" and "USD" in issue.suggestion


def test_the_yen_sign_is_yuan_in_a_yuan_workspace():
    assert normalize_currency("¥", "CNY")[0] == "CNY"


@pytest.mark.parametrize(("workspace", "expected"), [("SEK", "SEK"), ("NOK", "NOK"), ("USD", None)])
def test_kronor_sign_is_only_read_in_a_krona_workspace(workspace, expected):
    if expected:
        assert normalize_currency("kr", workspace)[0] == expected
    else:
        assert _issue(normalize_currency, "kr", workspace).code == "ambiguous_currency"


@pytest.mark.parametrize("raw", ["", "   ", "\t"])
def test_a_blank_currency_defaults_to_the_workspace_currency(raw):
    assert normalize_currency(raw, "EUR") == ("EUR", Fix("blank_currency_defaulted", raw, "EUR"))


@pytest.mark.parametrize("raw", ["XYZ", "dollars?", "12", "US", "EURO", "HRK", "Fr"])
def test_an_unknown_currency_is_an_issue(raw):
    issue = _issue(normalize_currency, raw, "USD")
    assert issue.code == "unknown_currency" and raw in issue.message and issue.suggestion


@pytest.mark.parametrize(("raw", "hint"), [
    ("UDS", "did you mean USD?"), ("EUE", "did you mean EUR?"), ("GPB", "did you mean GBP?"),
    ("EURO", "use EUR"), ("HRK", "use EUR"), ("dollars?", "USD, CAD or AUD"),
    ("XYZ", "use a 3-letter ISO 4217 code such as USD"),
])
def test_an_unknown_currency_suggests_the_likely_code(raw, hint):
    assert hint in _issue(normalize_currency, raw, "USD").suggestion
