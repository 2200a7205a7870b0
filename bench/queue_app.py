"""The real app plus one bare page, served by gunicorn in bench/queue.py as the throughput ceiling."""

from plixo import create_app
from plixo.security import public, requires

app = create_app()


@app.get("/bench/hello")
@public
def hello():
    return "hello"


@app.get("/bench/signed-in-hello")
@requires("queue.work")
def signed_in_hello():
    return "hello"
