"""The context of a request: the core, the caller and its idempotency key; every route runs
its work through `Ctx.read` or `Ctx.write`, one unit of work (transaction) each, with the
caller as the audit log's actor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from ..schema import IdempotencyRecord
from ..unit import Core, Unit
from .auth import Caller, CallerDep
from .idempotency import REPLAYED, IdempotentRequest, idempotent_request

Work = Callable[[Unit], BaseModel]


def json_response(body: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status, headers=headers, media_type="application/json")


@dataclass
class Ctx:
    core: Core
    caller: Caller
    idempotency: IdempotentRequest | None = None

    def unit(self):
        return self.core.unit(actor=self.caller.key_id, role=self.caller.role)

    def read(self, work: Work) -> Response:
        with self.unit() as u:
            body = work(u).model_dump_json()
        return json_response(body, 200)

    def write(self, work: Work, status: int = 200) -> Response:
        """Run `work` in one transaction; with an idempotency key, store its response in the
        same transaction, or replay the response stored by an earlier request."""
        idem = self.idempotency
        if idem is None:
            with self.unit() as u:
                body = work(u).model_dump_json()
            return json_response(body, status)
        pk = (self.caller.key_id, idem.key)
        claimed = False
        try:
            with self.unit() as u:
                record = u.session.get(IdempotencyRecord, pk)
                if record is not None:
                    return self._replay(record)
                record = IdempotencyRecord(
                    api_key_id=pk[0],
                    key=pk[1],
                    method=idem.method,
                    path=idem.path,
                    request_hash=idem.request_hash,
                    status_code=0,  # claimed: a concurrent duplicate waits on this row
                    response_body="",
                    # not u.now: the work's time is read after the locks it takes
                    created_at=self.core.clock.now(),
                )
                u.session.add(record)
                u.session.flush()
                claimed = True
                body = work(u).model_dump_json()
                record.status_code, record.response_body = status, body
        except IntegrityError:
            if claimed:
                raise
            # a concurrent request with this key committed first: answer what it answered
            with self.unit() as u:
                record = u.session.get(IdempotencyRecord, pk)
                if record is None:  # pragma: no cover - it rolled back in between
                    raise
                return self._replay(record)
        return json_response(body, status)

    def _replay(self, record: IdempotencyRecord) -> Response:
        assert self.idempotency is not None
        if not self.idempotency.matches(record):
            raise self.idempotency.mismatch(record)
        return json_response(record.response_body, record.status_code, {REPLAYED: "true"})


def _context(request: Request, caller: CallerDep) -> Ctx:
    return Ctx(request.app.state.core, caller)


def _idempotent_context(
    request: Request,
    caller: CallerDep,
    idempotency: Annotated[IdempotentRequest | None, Depends(idempotent_request)],
) -> Ctx:
    return Ctx(request.app.state.core, caller, idempotency)


# reads and non-creating writes (PATCH, DELETE, the billing run, API keys)
Context = Annotated[Ctx, Depends(_context)]
# POSTs that create or charge: they honour an Idempotency-Key
IdempotentContext = Annotated[Ctx, Depends(_idempotent_context)]
