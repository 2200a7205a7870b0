"""Notes notify the teammates they mention."""


from sqlalchemy import select

from plixo.accounts.models import Notification
from plixo.extensions import db
from plixo.notes import service as notes
from tests.factories import make_user


def test_note_mentions_notify_the_mentioned_teammate(scoped, controller, invoice):
    olive = make_user(scoped, "operator", name="Olive Operator", email="olive@acmetest.example")
    notes.add_note(db.session, scoped, invoice, controller, "@olive can you call them? cc @nobody")
    notification = db.session.scalar(select(Notification).where(Notification.user_id == olive.id))
    assert notification is not None and invoice.number in notification.text
    note_id = notification.link.rsplit("-", 1)[1]
    assert notification.link == f"/work/customers/{invoice.customer_id}?note={note_id}#note-{note_id}"
    assert db.session.scalars(select(Notification)).all() == [notification]
