"""The admin JSON API under /admin/api/v1: an APIFlask app mounted beside the plain Flask app.

APIFlask builds the OpenAPI description from the views' schemas (GET /admin/api/v1/openapi.json;
interactive docs at /admin/api/v1/docs in the sandbox only). It is a separate WSGI app under a
path prefix rather than the service's app, because APIFlask turns every HTTP error of its app
into JSON and describes every route it serves: the webhook's plain 403s and the sandbox's
routes stay as they are. Both apps share one set of extensions (database, Redis, clock, jobs).

Every request carries `Authorization: Bearer TOKEN` (`operators add` prints one). Errors are
JSON: {"error": CODE, "message": TEXT, "detail": {...}}, with a stable CODE. The views are in
bot/admin/views.py (listings and exports), bot/admin/writes.py and bot/admin/reports.py.
"""
import logging

from apiflask import APIFlask
from flask import Flask, g
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from bot.admin import reports, schemas, writes  # noqa: F401  (their views join the blueprint)
from bot.admin.views import PATHS, bp

__all__ = ["PATHS", "PREFIX", "mount"]
PREFIX = "/admin/api/v1"
log = logging.getLogger(__name__)
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
                        AUTH_ERROR_SCHEMA=schemas.Error, INFO={
                            "description": "Fans, members, ledgers, purchases, mall orders, QR codes, "
                                           "conversations, tags, surveys and their responses, rules, and reports "
                                           "(JSON figures and PNG charts), each within the caller's scope."})
    admin.extensions = app.extensions
    admin.error_processor(_error_body)
    admin.spec_processor(_bodies_required)
    admin.register_error_handler(Exception, _unexpected)
    admin.register_blueprint(bp)
    app.extensions["admin_api"] = admin
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {PREFIX: admin.wsgi_app})
    return admin


def _bodies_required(spec: dict) -> dict:
    """Every write takes a JSON body: say so (APIFlask leaves requestBody optional)."""
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["requestBody"]["required"] = True
    return spec


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
