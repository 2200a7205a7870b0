import pytest

from plixo.csv_safe import csv_safe, starts_like_formula


@pytest.mark.parametrize(("value", "safe"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("plain", "plain"), (None, ""),
])
def test_csv_safe(value, safe):
    assert csv_safe(value) == safe


@pytest.mark.parametrize("text", ["-2+3", "-5", "\t=1+1", "\r=1+1"])
def test_a_leading_minus_tab_or_carriage_return_starts_like_a_formula(text):
    assert starts_like_formula(text)


@pytest.mark.parametrize("text", ["Acme Robotics", "INV-1001", "", "'=1+1"])
def test_ordinary_text_does_not_start_like_a_formula(text):
    assert not starts_like_formula(text)
