"""Pages for people: search, a version's composition and lineage graph, training runs, the gate.

Rendered on the server (Jinja2 templates, graph layout in Python, SVG), so the service needs no
front-end build and the pages make no request to any other host.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the pages, their stylesheet, and error pages for people (after the API's handlers,
    which it keeps for every request that is not a page)."""
    from app.web import render
    from app.web.router import router

    render.install(app)
    app.mount("/assets/pages", StaticFiles(directory=STATIC), name="page-assets")
    app.include_router(router)
