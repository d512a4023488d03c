"""A phone sign-up service on aiohttp.web (see app.py)."""
