"""Liveness and database reachability, without a key."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..context import json_response
from ..schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthOut,
    summary="Is the API up, can it reach its database?",
    responses={503: {"model": HealthOut, "description": "The database is unreachable"}},
)
def health(request: Request):
    try:
        with request.app.state.core.engine.connect() as conn:
            conn.execute(text("select 1"))
    except SQLAlchemyError:
        body = HealthOut(status="unavailable", database="unreachable")
        return json_response(body.model_dump_json(), 503)
    return json_response(HealthOut(status="ok", database="ok").model_dump_json(), 200)
