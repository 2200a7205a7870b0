"""Text cells that start like a spreadsheet formula are refused; the lone "-" placeholder is not a formula."""

import pytest

from plixo.imports.pipeline import Settings, validate
from plixo.imports.reader import detect_format

HEADER = ["Customer ID", "Customer Name", "Contact Name"]
MAPPING = {"customer_external_id": 0, "customer_name": 1, "contact_name": 2}


def _codes(tmp_path, contact_name: str) -> list[str]:
    path = tmp_path / "customers.csv"
    path.write_text(",".join(HEADER) + "\n" + f"C-1,Acme Robotics,{contact_name}\n", encoding="utf-8")
    report = validate(path, detect_format(path), "customers", HEADER, MAPPING, Settings("USD", {}))
    return [issue.code for issue in report.errors]


@pytest.mark.parametrize("name", ["=2+5", "+1", "@SUM(A1)", "-2+3", "-Dana"])
def test_a_text_cell_starting_like_a_formula_is_refused(tmp_path, name):
    assert _codes(tmp_path, name) == ["formula_cell"]


@pytest.mark.parametrize("name", ["-", "Dana Payables", "Dana-Payables"])
def test_a_lone_minus_and_ordinary_names_are_accepted(tmp_path, name):
    assert _codes(tmp_path, name) == []
