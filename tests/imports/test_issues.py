import pickle

from plixo.imports.issues import FieldIssue


def test_field_issue_carries_code_message_and_suggestion():
    issue = FieldIssue("invalid_amount", "not an amount", "use 12.50")
    assert (issue.code, issue.message, issue.suggestion, str(issue)) == (
        "invalid_amount", "not an amount", "use 12.50", "not an amount",
    )


def test_field_issue_is_a_value_error_with_an_empty_default_suggestion():
    issue = FieldIssue("invalid_date", "bad")
    assert isinstance(issue, ValueError) and issue.suggestion == ""


def test_field_issue_survives_pickling_for_background_jobs():
    copy = pickle.loads(pickle.dumps(FieldIssue("invalid_email", "no @ sign", "add one")))  # noqa: S301 - our own bytes
    assert (copy.code, copy.message, copy.suggestion) == ("invalid_email", "no @ sign", "add one")
