import codecs
import csv
import importlib.util
import json
import pickle
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from plixo.imports.reader import (
    ENCODING_CHOICES,
    SAMPLE_BYTES,
    FileFormat,
    ImportFileError,
    detect_format,
    iter_records,
    read_header_and_sample,
)

CORPUS = Path(__file__).resolve().parents[1] / "data" / "imports"
VARIANTS = json.loads((CORPUS / "variants.json").read_text())
TOTALS = json.loads((CORPUS / "expected_totals.json").read_text())
BROKEN = json.loads((CORPUS / "broken_expectations.json").read_text())
HEADER = ["Invoice Number", "Customer ID", "Customer Name", "Invoice Date", "Due Date", "Currency", "Amount",
          "Open Balance", "Contact Email"]
UTF8 = FileFormat("utf-8", "UTF-8", ",", "comma")


def _load_generator():
    spec = importlib.util.spec_from_file_location("corpus_generate", CORPUS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def _write(tmp_path: Path, data: bytes | str, name: str = "upload.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _error(call, *args, **kwargs) -> ImportFileError:
    with pytest.raises(ImportFileError) as caught:
        call(*args, **kwargs)
    return caught.value


# --- the corpus -----------------------------------------------------------------------------------------------


def test_committed_corpus_is_what_the_generator_writes():
    built = _load_generator().build()
    on_disk = {path.name: path.read_bytes() for path in CORPUS.iterdir() if path.is_file()}
    assert set(on_disk) >= set(built)
    assert [name for name, data in built.items() if on_disk[name] != data] == []


@pytest.mark.parametrize("name", sorted(VARIANTS["files"]))
def test_detects_encoding_and_delimiter_of_every_variant(name):
    expected = VARIANTS["files"][name]
    fmt = detect_format(CORPUS / name)
    assert (fmt.encoding_label, fmt.delimiter) == (expected["encoding_label"], expected["delimiter"])
    assert codecs.lookup(fmt.encoding)  # a codec Python can open the file with


@pytest.mark.parametrize("name", sorted(VARIANTS["files"]))
def test_streams_every_logical_invoice_with_matching_totals(name):
    path = CORPUS / name
    fmt = detect_format(path)
    header, _ = read_header_and_sample(path, fmt)
    records = list(iter_records(path, fmt))
    assert header == HEADER
    assert len(records) == TOTALS["invoices"]
    assert [cells[0].strip() for _, cells in records] == [f"INV-{n:06d}" for n in range(1, TOTALS["invoices"] + 1)]
    assert records[0][0] == 2 and records[-1][0] == VARIANTS["last_record_line"]
    assert _totals(records, VARIANTS["files"][name]["decimal_separator"]) == (
        TOTALS["amount_minor"], TOTALS["open_balance_minor"], TOTALS["customers"])


def _totals(records, decimal: str) -> tuple[dict, dict, int]:
    """Re-add the corpus by hand, so expected_totals.json is checked against every variant's own text."""
    amounts: dict[str, int] = {}
    balances: dict[str, int] = {}
    for _, cells in records:
        currency = cells[5].strip().upper()
        amounts[currency] = amounts.get(currency, 0) + _minor(cells[6], decimal, currency)
        balances[currency] = balances.get(currency, 0) + _minor(cells[7], decimal, currency)
    customers = len({cells[1].strip() for _, cells in records})
    return dict(sorted(amounts.items())), dict(sorted(balances.items())), customers


def _minor(text: str, decimal: str, currency: str) -> int:
    kept = "".join(c for c in text if c.isdigit() or c == decimal)
    whole, _, cents = kept.partition(decimal)
    assert (len(cents) == 0) == (currency == "JPY"), text
    return int(whole + cents)


@pytest.mark.parametrize("name", ["invoices_utf8.csv", "invoices_utf16be.csv", "invoices_cp1252.csv",
                                  "invoices_tab.tsv", "invoices_messy.csv"])
def test_names_with_embedded_newlines_come_back_whole_and_later_lines_stay_right(name):
    path = CORPUS / name
    by_line = dict(iter_records(path, detect_format(path)))
    assert VARIANTS["multiline_records"]
    for expected in VARIANTS["multiline_records"]:
        cells = by_line[expected["line"]]
        assert (cells[0].strip(), cells[2].strip()) == (expected["invoice_number"], expected["customer_name"])
        assert "\n" in cells[2]
        if expected["next_line"]:
            # The record after a two-line name starts two lines later, not one.
            assert expected["next_line"] == expected["line"] + 2 and expected["next_line"] in by_line


def test_sample_is_the_header_stripped_and_the_first_rows_as_they_are():
    path = CORPUS / "invoices_messy.csv"
    header, rows = read_header_and_sample(path, detect_format(path), rows=5)
    assert header == HEADER
    assert len(rows) == 5 and rows[0][0] == "INV-000001" and rows[0][1] == "CUST-0027 "


def test_the_bom_never_reaches_the_first_header_cell_even_when_read_as_plain_utf8():
    path = CORPUS / "invoices_utf8_bom.csv"
    for fmt in (detect_format(path), detect_format(path, encoding="utf-8")):
        header, _ = read_header_and_sample(path, fmt)
        assert header[0] == "Invoice Number"


# --- overrides ------------------------------------------------------------------------------------------------


def test_encoding_override_wins_and_accepts_aliases():
    path = CORPUS / "invoices_cp1252.csv"
    fmt = detect_format(path, encoding="latin-1")
    assert (fmt.encoding, fmt.encoding_label) == ("latin-1", "Latin-1 (ISO-8859-1)")
    assert detect_format(path, encoding="Windows-1252").encoding == "cp1252"
    assert detect_format(CORPUS / "invoices_utf16be.csv", encoding="UTF16").encoding_label == "UTF-16 BE"


def test_encoding_override_that_cannot_decode_the_file_names_the_line():
    path = CORPUS / "invoices_cp1252.csv"
    text = path.read_bytes().decode("cp1252")
    first_accent = next(i for i, char in enumerate(text) if ord(char) > 127)
    error = _error(detect_format, path, encoding="utf-8")
    assert error.code == "undecodable"
    assert f"Line {text[:first_accent].count(chr(10)) + 1:,} " in error.message and "UTF-8" in error.message


@pytest.mark.parametrize("encoding", ["klingon", "rot13", "zlib"])
def test_unknown_or_unsafe_encoding_override_is_refused(encoding):
    error = _error(detect_format, CORPUS / "invoices_utf8.csv", encoding=encoding)
    assert error.code == "unknown_encoding" and "UTF-8" in error.message


def test_every_offered_encoding_is_a_text_codec():
    for codec, _ in ENCODING_CHOICES:
        assert codecs.lookup(codec)._is_text_encoding


def test_delimiter_override_wins_by_character_or_name():
    path = CORPUS / "invoices_utf8.csv"
    assert detect_format(path, delimiter=";").delimiter_label == "semicolon"
    header, _ = read_header_and_sample(path, detect_format(path, delimiter="tab"))
    assert header == [",".join(HEADER)]
    assert _error(detect_format, path, delimiter=":").code == "unknown_delimiter"


# --- file-level errors ----------------------------------------------------------------------------------------

_CALLS = {
    "detect_format": lambda path: detect_format(path),
    "read_header_and_sample": lambda path: read_header_and_sample(path, detect_format(path)),
    "iter_records": lambda path: list(iter_records(path, detect_format(path))),
}


@pytest.mark.parametrize("name", sorted(name for name, spec in BROKEN.items() if spec["reader"] == "error"))
def test_broken_files_fail_as_a_whole_with_the_expected_code(name):
    expected = BROKEN[name]
    error = _error(_CALLS[expected["raised_by"]], CORPUS / name)
    assert error.code == expected["error"]
    assert str(error) == error.message and error.message.endswith(".")
    if "line" in expected:
        assert f"Line {expected['line']:,} " in error.message
    if "message_contains" in expected:
        assert expected["message_contains"] in error.message


def test_a_header_only_file_still_detects_and_streams_nothing():
    path = CORPUS / "broken_header_only.csv"
    assert list(iter_records(path, detect_format(path))) == []


@pytest.mark.parametrize(("data", "code", "phrase"), [
    (b"", "empty_file", "empty"),
    (codecs.BOM_UTF8, "empty_file", "no data"),
    (codecs.BOM_UTF16_LE + "\r\n  \r\n".encode("utf-16-le"), "empty_file", "no data"),
    (b" \r\n\t\n", "empty_file", "no data"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "binary_file", "PDF"),
    (b"PK\x03\x04\x14\x00\x00\x00notes.txt", "binary_file", "ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "binary_file", "97–2003"),
    (b"Name,Amount\nAcme\x00\x00\x00,12\n", "binary_file", "binary data"),
    (bytes(range(1, 9)) * 50 + b"a,b\n", "binary_file", "binary data"),
    (b"<html><body><table><tr><td>Invoice</td></tr></table></body></html>", "not_csv", "web page"),
])
def test_non_csv_uploads_are_refused_at_detection(tmp_path, data, code, phrase):
    error = _error(detect_format, _write(tmp_path, data))
    assert (error.code, phrase in error.message) == (code, True)


def test_no_header_when_every_line_is_blank_cells(tmp_path):
    path = _write(tmp_path, ",,,\r\n , ,\r\n,,,\r\n")
    assert _error(read_header_and_sample, path, detect_format(path)).code == "no_header"
    assert _error(list, iter_records(path, detect_format(path))).code == "no_header"


def test_unclosed_quote_at_the_end_of_the_file(tmp_path):
    path = _write(tmp_path, 'Name,Amount\nAcme,1\n"Globex,2\n')
    error = _error(list, iter_records(path, UTF8))
    assert error.code == "unclosed_quote" and "Line 3 " in error.message


def test_a_runaway_quote_that_hits_the_field_size_limit_is_an_unclosed_quote(tmp_path):
    lines = "".join(f"Row {n},{n}\n" for n in range(csv.field_size_limit() // 8))
    path = _write(tmp_path, f'Name,Amount\nAcme,1\n"Globex,2\n{lines}')
    assert "Line 3 " in _error(list, iter_records(path, UTF8)).message


def test_a_stray_quote_on_one_line_is_malformed_csv(tmp_path):
    path = _write(tmp_path, 'Name,Amount\nAcme,1\n"The "Blue" Door",2\nGlobex,3\n')
    error = _error(list, iter_records(path, UTF8))
    assert error.code == "malformed_csv" and "Line 3 " in error.message and '""' in error.message


def test_bytes_the_chosen_codec_cannot_decode_mid_stream_name_the_line(tmp_path):
    path = _write(tmp_path, b"Name,Amount\n" + b"Acme,1\n" * 20_000 + b"Caf\xe9,2\n")
    records = iter_records(path, UTF8)
    error = _error(list, records)
    assert error.code == "undecodable" and "Line 20,002 has a byte (0xE9)" in error.message


def test_errors_survive_pickling():
    pickled = pickle.dumps(ImportFileError("empty_file", "The file is empty (0 bytes)."))
    error = pickle.loads(pickled)  # noqa: S301 - our own bytes, just made
    assert (error.code, error.message, str(error)) == ("empty_file", "The file is empty (0 bytes).", error.message)


# --- row-level problems are yielded, not raised ---------------------------------------------------------------


def test_ragged_rows_are_yielded_with_their_lines():
    path = CORPUS / "broken_ragged.csv"
    by_line = dict(iter_records(path, detect_format(path)))
    assert len(by_line) == BROKEN["broken_ragged.csv"]["records"]
    for row in BROKEN["broken_ragged.csv"]["ragged_rows"]:
        assert (by_line[row["line"]][0], len(by_line[row["line"]])) == (row["invoice_number"], row["cells"])


@pytest.mark.parametrize(("name", "key"), [("broken_formulas.csv", "formula_cells"),
                                           ("broken_bad_values.csv", "bad_cells")])
def test_suspicious_cells_come_back_verbatim_at_their_lines(name, key):
    path = CORPUS / name
    by_line = dict(iter_records(path, detect_format(path)))
    assert len(by_line) == BROKEN[name]["records"]
    for cell in BROKEN[name][key]:
        assert by_line[cell["line"]][HEADER.index(cell["column"])] == cell["value"]


def test_duplicate_invoice_numbers_are_plain_records():
    path = CORPUS / "broken_duplicates.csv"
    by_line = dict(iter_records(path, detect_format(path)))
    assert len(by_line) == BROKEN["broken_duplicates.csv"]["records"]
    for row in BROKEN["broken_duplicates.csv"]["duplicate_rows"]:
        assert by_line[row["line"]][0] == by_line[row["first_line"]][0] == row["invoice_number"]


# --- detection details ----------------------------------------------------------------------------------------


def test_a_utf8_character_cut_by_the_sample_boundary_is_still_utf8(tmp_path):
    head = "Name,Amount\n" + "a" * (SAMPLE_BYTES - len("Name,Amount\n") - 1)
    path = _write(tmp_path, head + "é,1\nZürich,2\n")  # "é" straddles byte SAMPLE_BYTES
    assert path.read_bytes()[SAMPLE_BYTES - 1 : SAMPLE_BYTES + 1] == "é".encode()
    assert detect_format(path).encoding == "utf-8"


def test_a_windows_1252_byte_after_the_sample_still_decides_the_encoding(tmp_path):
    path = _write(tmp_path, b"Name,Amount\n" + b"Acme,1\n" * 20_000 + b"Caf\xe9 \x80,2\n")
    fmt = detect_format(path)
    assert fmt.encoding_label == "Windows-1252"
    assert list(iter_records(path, fmt))[-1] == (20_002, ["Café €", "2"])


def test_utf8_accents_early_and_a_bad_byte_later_is_damage_not_windows_1252(tmp_path):
    path = _write(tmp_path, "Name,Amount\nZürich,1\n".encode() + b"Acme,1\n" * 20_000 + b"Caf\xe9,2\n")
    error = _error(detect_format, path)
    assert error.code == "undecodable" and "Line 20,003 has a byte (0xE9)" in error.message


def test_latin1_when_bytes_undefined_in_windows_1252_appear(tmp_path):
    path = _write(tmp_path, b"Name,Amount\nCaf\xe9,1\nAcme\x81,2\n")
    assert detect_format(path).encoding_label == "Latin-1 (ISO-8859-1)"


def test_utf16_without_a_bom_is_recognised_not_called_binary(tmp_path):
    path = _write(tmp_path, "Name;Amount\r\nZürich;1,50\r\n".encode("utf-16-be"))
    fmt = detect_format(path)
    assert (fmt.encoding, fmt.delimiter) == ("utf-16-be", ";")
    assert list(iter_records(path, fmt)) == [(2, ["Zürich", "1,50"])]


def test_excel_sep_hint_sets_the_delimiter_and_is_not_the_header(tmp_path):
    path = _write(tmp_path, "sep=;\r\nName;Amount, net\r\nAcme;1,50\r\n")
    fmt = detect_format(path)
    assert fmt.delimiter == ";"
    assert read_header_and_sample(path, fmt) == (["Name", "Amount, net"], [["Acme", "1,50"]])
    assert list(iter_records(path, fmt)) == [(3, ["Acme", "1,50"])]


@pytest.mark.parametrize(("text", "delimiter"), [
    ('"Name";"Amount, net"\n"Acme";"1,5"\n"B";"2,5"\n', ";"),
    ("Name\tAmount\tBalance\nAcme\t$1,234.50\t$1,000.00\n", "\t"),
    ("Name|Amount\nAcme, Inc.|1,234.50\nFoo, Bar, Baz|2.00\n", "|"),
    ("a,b,c\n1,2\n1,2,3,4\n1,2,3\n", ","),
    ("Name\nAcme\nBeta\n", ","),
])
def test_delimiter_sniffing(tmp_path, text, delimiter):
    assert detect_format(_write(tmp_path, text)).delimiter == delimiter


def test_blank_lines_are_skipped_but_counted(tmp_path):
    path = _write(tmp_path, "\r\nName,Note\r\n\r\nAcme,\"two\r\nlines\"\r\n,\r\n\r\nGlobex,x\rBeta,y\r")
    fmt = detect_format(path)
    assert read_header_and_sample(path, fmt)[0] == ["Name", "Note"]
    assert list(iter_records(path, fmt)) == [(4, ["Acme", "two\r\nlines"]), (8, ["Globex", "x"]), (9, ["Beta", "y"])]


# --- streaming ------------------------------------------------------------------------------------------------


def test_iter_records_is_lazy(tmp_path):
    path = tmp_path / "later.csv"
    records = iter_records(path, UTF8)  # nothing is opened yet, so a missing file is not an error
    assert isinstance(records, Iterator)
    path.write_text("Name\nAcme\nBeta\n")
    assert next(records) == (2, ["Acme"])
    records.close()


def _big_rows(count: int) -> Iterator[str]:
    yield "Invoice Number,Customer Name,Amount,Memo\n"
    for n in range(count):
        name = '"Acme, Inc.\nEMEA"' if n % 100 == 0 else "Globex"
        yield f"INV-{n:07d},{name},{n % 9999}.{n % 100:02d},{'x' * 40}\n"


def test_memory_stays_flat_while_streaming_a_large_file(tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.writelines(_big_rows(150_000))
    assert path.stat().st_size > 10_000_000
    fmt = detect_format(path)
    tracemalloc.start()
    try:
        count = last = 0
        for line, _cells in iter_records(path, fmt):
            count += 1
            last = line
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (count, last) == (150_000, 150_000 + 1500 + 1)
    assert peak < 500_000, f"peak {peak:,} bytes while reading a {path.stat().st_size:,}-byte file"
