"""The operator API (`/admin/v1`): persons and organisations, behind an operator bearer token.

Personal data travels only in request bodies (never in URLs) and comes back masked.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from idp import audit
from idp.errors import NotFound
from idp.records import organisations, people
from idp.web.deps import OperatorDep, RuntimeDep

router = APIRouter(prefix="/admin/v1", tags=["operator"])


class PersonIn(BaseModel):
    id_number: str = Field(max_length=32)
    name: str = Field(max_length=100)
    phone: str | None = Field(None, max_length=32)


class PersonLookup(BaseModel):
    id_number: str = Field(max_length=32)


class OrganisationIn(BaseModel):
    uscc: str = Field(max_length=32)
    name: str = Field(max_length=200)
    kind: Literal["department", "enterprise", "other"]
    legal_rep_id_number: str | None = Field(None, max_length=32)


class MemberIn(BaseModel):
    id_number: str = Field(max_length=32)
    role: str = Field(max_length=32)


@router.post("/persons", status_code=201)
def add_person(body: PersonIn, runtime: RuntimeDep, operator: OperatorDep) -> dict[str, Any]:
    def work(session: Any) -> dict[str, Any]:
        person = people.add(
            session,
            runtime.protector,
            id_number=body.id_number,
            name=body.name,
            phone=body.phone,
            actor=operator,
            channel="api",
        )
        return people.view(session, runtime.protector, person).to_dict()

    refusal = audit.Event(action="person.add", subject="-", actor=operator, channel="api")
    return runtime.run(work, refusal=refusal)


@router.post("/persons/lookup")
def lookup_person(body: PersonLookup, runtime: RuntimeDep, operator: OperatorDep) -> dict[str, Any]:
    def work(session: Any) -> dict[str, Any]:
        person = people.find_by_id_number(session, runtime.protector, body.id_number)
        if person is None:
            raise NotFound("no person with that ID number")
        return people.view(session, runtime.protector, person).to_dict()

    return runtime.run(work)


@router.post("/organisations", status_code=201)
def add_organisation(body: OrganisationIn, runtime: RuntimeDep, operator: OperatorDep) -> dict[str, Any]:
    rules = runtime.uscc_rules

    def work(session: Any) -> dict[str, Any]:
        org = organisations.add(
            session,
            runtime.protector,
            rules,
            uscc=body.uscc,
            name=body.name,
            kind=body.kind,
            legal_rep_id_number=body.legal_rep_id_number,
            actor=operator,
            channel="api",
        )
        return organisations.view(session, runtime.protector, rules, org).to_dict()

    refusal = audit.Event(action="org.add", subject=body.uscc[:18], actor=operator, channel="api")
    return runtime.run(work, refusal=refusal)


@router.get("/organisations/{uscc}")
def show_organisation(uscc: str, runtime: RuntimeDep, operator: OperatorDep) -> dict[str, Any]:
    rules = runtime.uscc_rules

    def work(session: Any) -> dict[str, Any]:
        org = organisations.get_by_uscc(session, uscc, rules)
        return organisations.view(session, runtime.protector, rules, org).to_dict()

    return runtime.run(work)


@router.post("/organisations/{uscc}/members", status_code=201)
def add_member(uscc: str, body: MemberIn, runtime: RuntimeDep, operator: OperatorDep) -> dict[str, Any]:
    rules = runtime.uscc_rules

    def work(session: Any) -> dict[str, Any]:
        organisations.add_member(
            session,
            runtime.protector,
            rules,
            uscc=uscc,
            id_number=body.id_number,
            role=body.role,
            actor=operator,
            channel="api",
        )
        org = organisations.get_by_uscc(session, uscc, rules)
        return organisations.view(session, runtime.protector, rules, org).to_dict()

    return runtime.run(work)
