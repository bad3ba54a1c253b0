"""Offset pagination for list endpoints: `{items, page: {page, page_size, total, pages}}`."""

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from schemas.common import page_meta


def paginate(session: Session, stmt: Select, args: dict, *order_by) -> dict:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = session.scalars(
        stmt.order_by(*order_by)
        .limit(args["page_size"])
        .offset((args["page"] - 1) * args["page_size"])
    ).all()
    return {"items": rows, "page": page_meta(args["page"], args["page_size"], total)}
