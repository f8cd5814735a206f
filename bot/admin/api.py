"""The admin JSON API under /admin/api/v1: an APIFlask app mounted beside the plain Flask app.

APIFlask builds the OpenAPI description from the views' schemas (GET /admin/api/v1/openapi.json;
interactive docs at /admin/api/v1/docs in the sandbox only). It is a separate WSGI app under a
path prefix rather than the service's app, because APIFlask turns every HTTP error of its app
into JSON and describes every route it serves: the webhook's plain 403s and the sandbox's
routes stay as they are. Both apps share one set of extensions (database, Redis, clock, jobs).

Every request carries `Authorization: Bearer TOKEN` (`operators add` prints one). Errors are
JSON: {"error": CODE, "message": TEXT, "detail": {...}}, with a stable CODE.
"""
import csv
import io
import logging

from apiflask import APIBlueprint, APIFlask, HTTPTokenAuth, abort
from flask import Flask, Response, current_app, g, stream_with_context
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from bot import scope as scopes
from bot.admin import schemas
from bot.admin.listings import LISTINGS, BadFilter, page, stream

PREFIX = "/admin/api/v1"
log = logging.getLogger(__name__)
auth = HTTPTokenAuth(scheme="Bearer", description="A token printed by `flask --app wsgi operators add`.")
bp = APIBlueprint("admin_api", __name__)
PATHS = {"mall_orders": "/mall/orders", "qr_codes": "/qr/codes", "qr_events": "/qr/events"}
CODES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "refused", 413: "too_large", 415: "unsupported_media_type",
         500: "internal"}


def mount(app: Flask) -> APIFlask:
    """Serve the admin API under PREFIX of `app` (requests to other paths go to `app`)."""
    sandbox = app.config["SANDBOX"]
    admin = APIFlask(__name__, title="Admin API", version="1", spec_path="/openapi.json",
                     docs_path="/docs" if sandbox else None)
    admin.config.update({key: value for key, value in app.config.items() if key.isupper()})
    admin.config.update(SERVERS=[{"url": PREFIX}], VALIDATION_ERROR_STATUS_CODE=400,
                        HTTP_ERROR_SCHEMA=schemas.Error, VALIDATION_ERROR_SCHEMA=schemas.Error,
                        AUTH_ERROR_SCHEMA=schemas.Error, SECURITY_SCHEMES=None, INFO={
                            "description": "Fans, members, ledgers, purchases, mall orders, QR codes, "
                                           "conversations, tags and rules, each within the caller's scope."})
    admin.extensions = app.extensions
    admin.error_processor(_error_body)
    admin.register_error_handler(Exception, _unexpected)
    from bot.admin import writes  # noqa: F401  (its views join the blueprint)
    admin.register_blueprint(bp)
    app.extensions["admin_api"] = admin
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {PREFIX: admin.wsgi_app})
    return admin


def _error_body(error):
    extra = error.extra_data or {}
    refusal = g.get("auth_refusal") if error.status_code == 401 else None
    code = extra.get("error") or refusal or CODES.get(error.status_code, "error")
    detail = error.detail if isinstance(error.detail, dict) else {}
    return {"error": code, "message": error.message or "", "detail": detail}, error.status_code, error.headers


def _unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return {"error": CODES.get(exc.code, "error"), "message": exc.description or "", "detail": {}}, exc.code
    log.exception("admin api failed")
    return {"error": "internal", "message": "the request failed on our side; retry later", "detail": {}}, 500


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
            yield line("" if row[c] is None else row[c] for c in listing.columns)


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
