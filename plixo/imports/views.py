"""Admin → Connectors → CSV Import: upload, map, validate with live progress, commit, history."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from plixo.background import IMPORTS, enqueue
from plixo.extensions import db
from plixo.htmx import change, render_fragment, render_page_or_block, retarget, toast
from plixo.imports import pipeline, service
from plixo.imports.dates import DATE_FORMATS, describe_date_format
from plixo.imports.fields import FIELDS, KINDS, fields_of, template_csv
from plixo.imports.models import ImportIssue, ImportRun
from plixo.imports.progress import current_progress, is_beating
from plixo.imports.reader import ENCODING_CHOICES, ImportFileError
from plixo.insights.service import home_figures
from plixo.ledger.aging import local_today
from plixo.params import parse_id
from plixo.security import requires
from plixo.tenancy import get_or_404

bp = Blueprint("imports", __name__, url_prefix="/admin/imports")
DELIMITERS = ((",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "pipe"))
ERRORS_SHOWN = 200


@bp.route("/")
@requires("imports.manage")
def index():
    runs = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(100)).all()
    return render_template("imports/index.html", runs=runs, kinds=KINDS, fields=FIELDS,
                           max_mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024))


@bp.route("/templates/<any(invoices, customers):kind>.csv")
@requires("imports.manage")
def template(kind: str):
    return Response(template_csv(kind), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="plixo-{kind}-template.csv"'})


@bp.route("/", methods=["POST"])
@requires("imports.manage")
def upload():
    upload_file = request.files.get("file")
    kind = request.form.get("kind", "")
    if upload_file is None or not upload_file.filename:
        flash("Choose a CSV file to upload.", "error")
        return redirect(url_for("imports.index"))

    def refused(error: service.ImportStepError):
        flash(error.message, "error")
        return redirect(url_for("imports.index"))

    return change(lambda: service.create_run(
        db.session, org=g.org, actor=current_user, kind=kind, filename=upload_file.filename,
        stream=upload_file.stream, max_bytes=current_app.config["MAX_CONTENT_LENGTH"]),
        lambda run: redirect(url_for("imports.show", import_run_id=run.id)), refused)


def _run_context(run: ImportRun) -> dict:
    context = {"run": run, "kinds": KINDS, "fields": FIELDS[run.kind], "field_map": fields_of(run.kind),
               "date_formats": DATE_FORMATS, "describe_date_format": describe_date_format,
               "encodings": ENCODING_CHOICES, "delimiters": DELIMITERS, "progress": _progress(run)}
    if run.status == "mapping" or (run.status == "failed" and run.settings.get("headers")):
        context.update(_mapping_context(run))
    if run.settings.get("validated"):
        context["errors"] = db.session.scalars(
            select(ImportIssue).where(ImportIssue.run_id == run.id, ImportIssue.severity == "error")
            .order_by(ImportIssue.line).limit(ERRORS_SHOWN)).all()
        context["fixes"] = db.session.scalars(
            select(ImportIssue).where(ImportIssue.run_id == run.id, ImportIssue.severity == "fix")
            .order_by(ImportIssue.code, ImportIssue.line)).all()
    if run.status == "committed":
        context["figures"] = home_figures(db.session, g.org)
    return context


def _mapping_context(run: ImportRun) -> dict:
    try:
        analysis = pipeline.analyse(Path(run.storage_path), service.file_format(run), run.kind, run.mapping)
    except ImportFileError as exc:
        return {"analysis": None, "analysis_error": exc.args[-1]}
    return {"analysis": analysis, "problems": service.problems_before_validation(run, g.org)}


def _progress(run: ImportRun) -> dict | None:
    return current_progress(run.id) if run.status in service.RUNNING else None


def _refresh_liveness(run: ImportRun) -> None:
    if service.mark_stalled(db.session, run, is_beating(run.id)):
        db.session.commit()


@bp.route("/<int:import_run_id>")
@requires("imports.manage")
def show(import_run_id: int):
    run = get_or_404(db.session, ImportRun, import_run_id)
    _refresh_liveness(run)
    return render_page_or_block("imports/run.html", "import_run", **_run_context(run))


@bp.route("/<int:import_run_id>/progress")
@requires("imports.manage")
def progress(import_run_id: int):
    """Polled by the page while a step runs; once it ends, the whole run panel is swapped and polling stops."""
    run = get_or_404(db.session, ImportRun, import_run_id)
    _refresh_liveness(run)
    if run.status in service.RUNNING:
        return render_page_or_block("imports/run.html", "import_progress", **_run_context(run))
    return retarget(make_response(render_fragment("imports/run.html", "import_run", **_run_context(run))),
                    "#import-run")


def _run_response(run: ImportRun, message: str | None = None, level: str = "success", status: int = 200):
    response = make_response(render_page_or_block("imports/run.html", "import_run", **_run_context(run)), status)
    return toast(response, message, level) if message else response


@bp.route("/<int:import_run_id>/mapping", methods=["POST"])
@requires("imports.manage")
def save_mapping(import_run_id: int):
    run = get_or_404(db.session, ImportRun, import_run_id)
    fields = fields_of(run.kind)
    mapping = {key: parse_id_or_zero(request.form.get(f"map_{key}")) for key in fields}
    date_formats = {key: request.form[f"date_{key}"] for key in fields
                    if request.form.get(f"date_{key}") in dict(DATE_FORMATS)}
    return change(lambda: service.set_mapping(db.session, run, actor=current_user, mapping=mapping,
                                              date_formats=date_formats,
                                              decimal_comma=request.form.get("decimal_comma") == "1",
                                              full_sync=request.form.get("full_sync") == "1"),
                  lambda _result: _run_response(run), lambda error: _run_response(run, error.message, "error", 422))


def parse_id_or_zero(raw: str | None) -> int | None:
    """A column index from a select: "" is unmapped, "0" is the first column."""
    if raw == "0":
        return 0
    return parse_id(raw)


@bp.route("/<int:import_run_id>/format", methods=["POST"])
@requires("imports.manage")
def change_format(import_run_id: int):
    run = get_or_404(db.session, ImportRun, import_run_id)
    encoding = request.form.get("encoding") or None
    delimiter = request.form.get("delimiter") or None
    if run.status not in service.MAPPABLE:
        return _run_response(run, "The file format can only change before validation runs.", "error", 409)
    return change(lambda: service.analyse_run(db.session, run, encoding=encoding, delimiter=delimiter),
                  lambda _result: _run_response(run, "File re-read with the chosen format."),
                  lambda error: _run_response(run, error.args[-1], "error", 422), refusals=(ImportFileError,))


def _start_step(run: ImportRun, request_step, job: str, started: str):
    """Record the step's request (or explain why not), commit, then queue its job (a dotted path) with the run's id."""

    def requested(_result):
        enqueue(IMPORTS, job, run.id)  # after the commit: the job must find the row
        return _run_response(run, started)

    return change(request_step, requested, lambda error: _run_response(run, error.message, "error", 409))


@bp.route("/<int:import_run_id>/validate", methods=["POST"])
@requires("imports.manage")
def validate(import_run_id: int):
    run = get_or_404(db.session, ImportRun, import_run_id)
    return _start_step(run, lambda: service.request_validation(db.session, run, g.org, actor=current_user),
                       "jobs.imports.validate_import", "Validation started.")


@bp.route("/<int:import_run_id>/commit", methods=["POST"])
@requires("imports.manage")
def commit(import_run_id: int):
    run = get_or_404(db.session, ImportRun, import_run_id)
    return _start_step(run, lambda: service.request_commit(db.session, run, actor=current_user),
                       "jobs.imports.commit_import", "Import started.")


@bp.route("/<int:import_run_id>/rejected.csv")
@requires("imports.manage")
def rejected_rows(import_run_id: int):
    run = get_or_404(db.session, ImportRun, import_run_id)
    path = pipeline.rejected_path(Path(run.storage_path))
    if not run.settings.get("validated") or not path.exists():
        return redirect(url_for("imports.show", import_run_id=run.id))
    stamp = local_today(g.org.time_zone).isoformat()
    return send_file(path, mimetype="text/csv", as_attachment=True,
                     download_name=f"{Path(run.filename).stem}-rejected-{stamp}.csv")

