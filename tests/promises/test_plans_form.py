"""The plan form's installments: a half-filled row is refused with its number, never dropped."""

import pytest

from plixo.actions import ActionError
from plixo.promises.plans import installments_from_form


@pytest.mark.parametrize(("dates", "amounts"), [
    (["2027-01-15", "2027-02-15"], ["500.00"]),  # a date sent without its amount field
    (["2027-01-15"], ["500.00", "500.00"]),  # an amount without a date
    (["2027-01-15", "2027-02-15"], ["500.00", ""]),
])
def test_a_row_with_a_date_and_no_amount_or_the_reverse_is_refused(dates, amounts):
    with pytest.raises(ActionError, match="Installment 2 needs a date and an amount"):
        installments_from_form(dates, amounts, "USD", 24)


def test_blank_rows_are_skipped():
    plan = installments_from_form(["2027-01-15", ""], ["500.00", ""], "USD", 24)
    assert [(str(i.due_date), i.amount_minor) for i in plan] == [("2027-01-15", 50_000)]
