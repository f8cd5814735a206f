"""A requests transport that hands requests to a WSGI app in this process (no socket).

With the sandbox on, WeChat API calls addressed to PUBLIC_BASE_URL/sandbox/... are served by
the sandbox blueprints of the same Flask app, in web processes, workers and tests alike.
"""
from io import BytesIO

import requests
from requests.adapters import BaseAdapter
from werkzeug.test import EnvironBuilder, run_wsgi_app


class WSGIAdapter(BaseAdapter):
    def __init__(self, app):
        super().__init__()
        self.app = app

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        url = requests.utils.urlparse(request.url)
        builder = EnvironBuilder(method=request.method, path=url.path, query_string=url.query,
                                 headers=dict(request.headers), data=request.body or b"",
                                 base_url=f"{url.scheme}://{url.netloc}")
        try:
            app_iter, status, headers = run_wsgi_app(self.app, builder.get_environ())
            body = b"".join(app_iter)
            if hasattr(app_iter, "close"):
                app_iter.close()
        finally:
            builder.close()
        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.split(" ", 1)[1] if " " in status else ""
        response.headers = requests.structures.CaseInsensitiveDict(headers)
        response.raw = BytesIO(body)
        response._content = body
        response.url = request.url
        response.request = request
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        return response

    def close(self):
        pass
