"""WSGI entry point: ``gunicorn app:app``. ``python app.py`` is ``python -m calmesh serve``."""

import sys

if __name__ == "__main__":
    from calmesh.cli import main

    sys.exit(main(["serve", *sys.argv[1:]]))

from calmesh.server import wsgi_app

app = wsgi_app()
