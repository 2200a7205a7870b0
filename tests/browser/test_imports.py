"""CSV import in a real browser: upload, map, validate with progress, commit — with a real worker process."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_shell import _sign_in

pytestmark = pytest.mark.browser
CORPUS = Path(__file__).resolve().parent.parent / "data" / "imports"


def test_upload_map_validate_and_commit(page, org, controller, worker_process):
    _sign_in(page, controller)
    page.get_by_role("link", name="CSV Import").click()
    page.get_by_label("The file contains").select_option("invoices")
    page.locator("input[type=file]").set_input_files(str(CORPUS / "invoices_ambiguous_dates.csv"))
    page.get_by_role("button", name="Upload and preview").click()

    expect(page.get_by_role("heading", name="Map columns")).to_be_visible()
    expect(page.get_by_text("Confirm the date format of “Invoice date”.")).to_be_visible()
    validate = page.get_by_role("button", name="Validate (dry run — writes nothing)")
    expect(validate).to_be_disabled()
    for field in ("issue_date", "due_date"):  # each choice is saved at once, and the panel re-rendered
        page.locator(f"#date_{field}").select_option("%d/%m/%Y")
        # Only the re-rendered select loses the highlight; choosing the next one before the swap
        # would change an element that is about to be replaced.
        expect(page.locator(f"#date_{field}")).not_to_have_class(re.compile("input-attention"))
    expect(validate).to_be_enabled()

    validate.click()
    expect(page.locator("#import-progress progress")).to_be_attached()
    commit = page.get_by_role("button", name="Import 1,000 valid rows")
    expect(commit).to_be_visible(timeout=30_000)
    expect(page.locator("#import-progress")).to_have_count(0)  # polling stopped with the result

    page.once("dialog", lambda dialog: dialog.accept())
    commit.click()
    expect(page.get_by_role("heading", name="Receivables now")).to_be_visible(timeout=30_000)
    expect(page.locator(".kpi").filter(has_text="New")).to_contain_text("1,000")
    assert page.csp_violations == []
