def test_healthz_reports_database_and_redis(anon):
    response = anon.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_answers_503_when_redis_is_down(app, make_app):
    broken = make_app(**{**app.config, "REDIS_URL": "redis://127.0.0.1:1/0", "RATELIMIT_STORAGE_URI": "memory://"})
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503 and response.json["redis"].startswith("down")


def test_healthz_answers_503_when_the_database_is_down(app, make_app, tmp_path):
    missing = tmp_path / "missing-dir" / "db.sqlite"
    broken = make_app(**{**app.config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{missing}",
                         "RATELIMIT_STORAGE_URI": "memory://"})
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503 and response.json["database"].startswith("down")
