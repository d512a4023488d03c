"""A phone sign-up service on FastAPI (see app.py)."""
