"""Static files as production serves them: hashed, compressed, cached forever, by the app itself.

`manage.py collectstatic` writes every file twice under STATIC_ROOT, as `name.js` and as
`name.<hash>.js`, each with a gzip twin, and a manifest that maps one to the other;
`{% static %}` then names the hashed file. ServeStatic's middleware serves them from the ASGI
process: hashed names as `immutable` for a year, any other name (the loader that host pages
embed by its stable URL) for five minutes (SERVESTATIC_MAX_AGE), then revalidated by ETag.
No proxy has to know about /static/.

Why ServeStatic rather than whitenoise: its Django middleware is async (whitenoise's is sync
only, so under daphne every static request would cross into a thread and back), and it keeps
whitenoise's storage, headers and compression otherwise. In development (CHATBRIDGE_STATIC_MANIFEST
off) the same middleware serves the source files through Django's finders, re-read on every
request, so `make run` needs no collectstatic.
"""

from wsgiref.headers import Headers

from servestatic.storage import CompressedManifestStaticFilesStorage


class ManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed and compressed, with ES module imports rewritten to the hashed names too.

    The widget frame's modules import each other by relative path (`./dom.js`): without the
    rewrite, the hashed app.js would ask for the unhashed dom.js, which is neither immutable nor
    the same URL the frame preloads.
    """

    support_js_module_import_aggregation = True


def add_public_headers(headers: Headers, path: str, url: str) -> None:
    """Every static file is public: any site may load it, even one that sets
    Cross-Origin-Embedder-Policy (host pages load the widget's loader.js from their own)."""
    headers["Cross-Origin-Resource-Policy"] = "cross-origin"
