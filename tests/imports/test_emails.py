import pytest
from email_validator import EmailNotValidError, validate_email

from plixo.imports.emails import normalize_email
from plixo.imports.issues import FieldIssue
from plixo.values import Fix


def _issue(call, *args) -> FieldIssue:
    with pytest.raises(FieldIssue) as caught:
        call(*args)
    return caught.value


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_a_blank_email_is_none(raw):
    assert normalize_email(raw) == (None, None)


@pytest.mark.parametrize("raw", ["jane@example.com", "first.last+tag@mail.example.co.uk", "ap@acme-corp.io"])
def test_a_clean_email_needs_no_fix(raw):
    assert normalize_email(raw) == (raw, None)


@pytest.mark.parametrize(("raw", "clean"), [
    ("Jane@Example.COM", "jane@example.com"),
    ("  jane@example.com ", "jane@example.com"),
    ("<jane@example.com>", "jane@example.com"),
    ("mailto:jane@example.com", "jane@example.com"),
    ("MAILTO:Jane@Example.com", "jane@example.com"),
    ("Jane Doe <Jane@Example.com>", "jane@example.com"),
    ('"Doe, Jane" <jane@example.com>', "jane@example.com"),
    ("jane@example.com;", "jane@example.com"),
    ("José@Example.com", "josé@example.com"),
])
def test_an_email_is_normalised_and_the_change_reported(raw, clean):
    assert normalize_email(raw) == (clean, Fix("email_normalised", raw, clean))


@pytest.mark.parametrize(("raw", "in_message", "in_suggestion"), [
    ("jane.example.com", "no @ sign", "name@example.com"),
    ("jane doe@example.com", "contains a space", "remove the space"),
    ("a@x.com, b@y.com", "more than one address", "one address per contact"),
    ("a@x.com; b@y.com", "more than one address", "one address per contact"),
    ("a@x.com b@y.com", "more than one address", "one address per contact"),
    ("a@@example.com", "more than one @ sign", "name@example.com"),
    ("jane@example", "period", "name@example.com"),
    ("jane@", "not a valid e-mail address", "name@example.com"),
    ("@example.com", "not a valid e-mail address", "name@example.com"),
    ("jane..doe@example.com", "not a valid e-mail address", "name@example.com"),
    ("jane@-example.com", "not a valid e-mail address", "name@example.com"),
    ("jane@ab--cd.com", "not a valid e-mail address", "name@example.com"),
    ("jane@example.test", "special-use", "name@example.com"),
    ("<>", "no @ sign", "name@example.com"),
])
def test_an_invalid_email_names_the_problem(raw, in_message, in_suggestion):
    issue = _issue(normalize_email, raw)
    assert (issue.code, in_message in issue.message, in_suggestion in issue.suggestion) == (
        "invalid_email", True, True,
    )


@pytest.mark.parametrize("raw", [
    "a@b.co", "x_y%z+w@ex-ample.com", "a-b.c@d.e.fg", "1@2.io", "abc@xn--80ak6aa92e.com", "abc@localhost.local",
    "a@b.arpa", "a@b.onion", "a@b.invalid", "abc@mail.example", "x@a1b2--c.com", "a" * 70 + "@example.com",
    "a@" + "b" * 63 + ".com", "a@" + "b" * 64 + ".com", "a" * 240 + "@example.com",
])
def test_the_fast_path_agrees_with_email_validator(raw):
    try:
        expected = validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError:
        assert _issue(normalize_email, raw).code == "invalid_email"
    else:
        assert normalize_email(raw)[0] == expected
