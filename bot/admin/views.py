"""The admin API's listings: for every listing of bot/admin/listings.py a paginated, filtered GET
and its CSV export (streamed from the cursor), both within the caller's scope; the bearer auth."""
import csv
import io

from apiflask import APIBlueprint, HTTPTokenAuth, abort
from flask import Response, current_app, g, stream_with_context

from bot import scope as scopes
from bot.admin import schemas
from bot.admin.listings import LISTINGS, BadFilter, page, stream

auth = HTTPTokenAuth(scheme="Bearer", description="A token printed by `flask --app wsgi operators add`.")
bp = APIBlueprint("admin_api", __name__)
PATHS = {"mall_orders": "/mall/orders", "qr_codes": "/qr/codes", "qr_events": "/qr/events",
         "survey_responses": "/surveys/responses"}


@auth.verify_token
def verify(token: str):
    if not token:
        g.auth_refusal = "unauthorized"
        return None
    with current_app.extensions["db"]() as db:
        try:
            return scopes.of_token(db, token)
        except scopes.NotAllowed as refusal:
            g.auth_refusal = "revoked_token" if "revoked" in str(refusal) else "invalid_token"
            return None


def caller() -> scopes.Scope:
    return auth.current_user


def session():
    return current_app.extensions["db"]()


def fail(status: int, code: str, message: str):
    abort(status, message=message, extra_data={"error": code})


def listing_page(name: str, query: dict, **fixed) -> dict:
    listing = LISTINGS[name]
    given = {**query, **fixed}
    with session() as db:
        try:
            result = page(db, listing, caller(), given, given.pop("page", 1), given.pop("per_page", 20))
        except BadFilter as bad:
            fail(400, "invalid_filter", str(bad))
    return {"items": result.items, "page": result.page, "per_page": result.per_page, "total": result.total}


def csv_response(name: str, query: dict) -> Response:
    listing, scope = LISTINGS[name], caller()
    query = {k: v for k, v in query.items() if k not in ("page", "per_page")}
    with session() as db:        # a bad filter is refused before the first byte is sent
        try:
            listing.query(scope, query)
        except BadFilter as bad:
            fail(400, "invalid_filter", str(bad))
    return Response(stream_with_context(csv_lines(listing, scope, query)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def csv_lines(listing, scope, query):
    """The header, then each row as it comes from the cursor (constant memory)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(listing.columns)
    with session() as db:
        for row in stream(db, listing, scope, query):
            yield line(listing.cells(row))


def _listing_views(name: str) -> None:
    path = PATHS.get(name, f"/{name}")
    query_schema, page_schema = schemas.query_for(name), schemas.page_for(name)

    def listed(query_data):
        return listing_page(name, query_data)

    def exported(query_data):
        return csv_response(name, query_data)

    listed.__doc__ = f"List {name.replace('_', ' ')}\n\nPaginated and filtered, within the caller's scope."
    exported.__doc__ = f"Export {name.replace('_', ' ')} as CSV\n\nEvery row in scope, streamed."
    for view, suffix, output in ((listed, "", page_schema), (exported, ".csv", None)):
        view = bp.input(query_schema, location="query", arg_name="query_data")(view)
        if output is None:
            view = bp.output(schemas.Csv, content_type="text/csv")(view)
        else:
            view = bp.output(output)(view)
        view = bp.auth_required(auth)(view)
        bp.add_url_rule(path + suffix, endpoint=f"{name}{'_csv' if suffix else ''}", view_func=view,
                        methods=["GET"])


for _name in LISTINGS:
    _listing_views(_name)
