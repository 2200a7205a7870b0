"""`flask --app wsgi reply-examples --org SLUG [--out FILE]`: the replies a workspace's team classified, as labelled
examples in the corpus's JSONL format (one reply per line), to review and add to the training corpus.

Only replies a person settled count: a correction (`corrected_label`), or a reading they accepted as it was.
"""

from __future__ import annotations

import json

import click
from sqlalchemy import select

from plixo.accounts.models import Organization
from plixo.extensions import db
from plixo.replies.models import Reply
from plixo.tenancy import tenant_scope, unscoped


def labelled_examples(session, org: Organization) -> list[dict]:
    with tenant_scope(org.id):
        replies = session.scalars(select(Reply).where(Reply.org_id == org.id, Reply.handled_by_id.is_not(None),
                                                      Reply.label != "bounce").order_by(Reply.id)).all()
    return [{"id": f"{org.slug}-{reply.id}", "subject": reply.subject, "body": reply.body, "headers": {},
             "label": reply.reading, "amount": None, "currency": reply.currency, "date": None, "return_date": None,
             "received": reply.received_at.date().isoformat(), "corrected": reply.corrected_label is not None}
            for reply in replies]


@click.command("reply-examples")
@click.option("--org", "org_slug", required=True, help="Workspace slug.")
@click.option("--out", type=click.File("w"), default="-", help="File to write (default: standard output).")
def reply_examples_command(org_slug: str, out) -> None:
    """Write the workspace's labelled reply examples as JSONL."""
    with unscoped():
        org = db.session.scalar(select(Organization).where(Organization.slug == org_slug))
    if org is None:
        raise click.ClickException(f"No workspace with the slug {org_slug!r}.")
    examples = labelled_examples(db.session, org)
    for example in examples:
        out.write(json.dumps(example, ensure_ascii=False) + "\n")
    click.echo(f"{len(examples)} labelled replies from {org.name}.", err=True)
