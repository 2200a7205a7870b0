"""The workspace's labelled replies, written out as corpus examples."""

import json

from plixo.extensions import db
from plixo.model import utcnow
from plixo.replies.models import Reply
from plixo.tenancy import tenant_scope
from tests.factories import make_org


def test_settled_replies_are_written_with_the_team_s_reading(app, org, controller):
    with tenant_scope(org.id):
        for n, (label, corrected, handled_by) in enumerate((("other", "dispute", controller.id),
                                                            ("promise", None, controller.id),
                                                            ("other", None, None))):
            db.session.add(Reply(org_id=org.id, header_message_id=f"<r{n}@x.example>", matched_by="sender",
                                 received_at=utcnow(), label=label, corrected_label=corrected, body=f"body {n}",
                                 handled_by_id=handled_by, handled_at=utcnow() if handled_by else None))
        db.session.commit()
    other = make_org(name="Other Co")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["reply-examples", "--org", org.slug])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(line["label"], line["body"], line["corrected"]) for line in lines] == [
        ("dispute", "body 0", True), ("promise", "body 1", False)]
    assert app.test_cli_runner().invoke(args=["reply-examples", "--org", other.slug]).stdout.count("{") == 0
    assert app.test_cli_runner().invoke(args=["reply-examples", "--org", "nope"]).exit_code == 1
