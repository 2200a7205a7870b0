"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

import gc

from plixo import create_app

app = create_app()
# What the app loaded at start lives as long as the process: kept out of the collector's full passes, which
# otherwise walk it all (the reply model, templates, mappers) in the middle of a request.
gc.freeze()
