"""Ids in URLs: a route's <int:…> is a database id, 1 … 2^31 − 1 (an INTEGER primary key); anything else is a 404
before any query."""

import pytest


@pytest.mark.parametrize("raw", ["0", str(2**31), str(2**63), "9" * 30])
def test_a_route_id_outside_the_databases_range_is_a_404_before_any_query(client, raw):
    for path in (f"/work/queue/{raw}", f"/work/customers/{raw}", f"/work/approvals/{raw}/decide"):
        response = client.post(path) if path.endswith("/decide") else client.get(path)
        assert response.status_code == 404, path


def test_the_largest_id_is_still_an_id(client):
    assert client.get(f"/work/queue/{2**31 - 1}").status_code == 404  # looked up, not found
    assert client.get("/work/queue", query_string={"segment": str(2**31)}).status_code == 200  # not an id: ignored
