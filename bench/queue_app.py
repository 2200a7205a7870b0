"""The real app plus one bare page, served by gunicorn in bench/queue.py as the throughput ceiling."""

import gc

from plixo import create_app
from plixo.security import public, requires

app = create_app()
# What the app loaded at start lives as long as the process: kept out of the collector's full passes, which
# otherwise walk it all (the reply model, templates, mappers) in the middle of a request.
gc.freeze()


@app.get("/bench/hello")
@public
def hello():
    return "hello"


@app.get("/bench/signed-in-hello")
@requires("queue.work")
def signed_in_hello():
    return "hello"
