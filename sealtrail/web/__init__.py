"""The web pages the service serves: the public verification portal (``/portal/``) and the
auditor console (``/console/``). Plain HTML, CSS and JavaScript in ``static/``; no build step."""
