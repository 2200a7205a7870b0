"""Text cells that start like a spreadsheet formula are refused; a lone "-" (none) and "-5" (a negative number) are
not taken for formulas."""

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


@pytest.mark.parametrize("name", ["=2+5", "+1", "@SUM(A1)", "-Dana", "-2+3+cmd|' /C calc'!A0", "-5)", "\t=1"])
def test_a_text_cell_starting_like_a_formula_is_refused(tmp_path, name):
    assert _codes(tmp_path, name) == ["formula_cell"]


@pytest.mark.parametrize("name", ["-", "-5", "-1250.50", "Dana Payables", "Dana-Payables"])
def test_a_lone_minus_a_negative_number_and_ordinary_names_are_accepted(tmp_path, name):
    assert _codes(tmp_path, name) == []


@pytest.mark.parametrize("name", ["Dana\u202e Payables", "Dana\u200b Payables", "\u2066Dana Payables\u2069"])
def test_bidi_controls_and_zero_width_characters_are_removed_and_reported(tmp_path, name):
    path = tmp_path / "customers.csv"
    path.write_text(",".join(HEADER) + "\n" + f"C-1,Acme Robotics,{name}\n", encoding="utf-8")
    report = validate(path, detect_format(path), "customers", HEADER, MAPPING, Settings("USD", {}))
    assert [issue.code for issue in report.errors] == []
    assert report.fix_counts == {"invisible_characters_removed": 1}
