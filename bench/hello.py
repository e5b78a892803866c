"""A bare Flask "hello" under the very gunicorn settings of ``serve`` (same worker
class, logger, worker count): the benchmark's ceiling. Run as
``python bench/hello.py --port N`` with the server's CALMESH_* environment.
It answers at ``/api/health`` so that the access log treats it as it treats
CalMesh's health check."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask
from gunicorn.app.base import BaseApplication

from calmesh import config as config_module
from calmesh.server import gunicorn_options

app = Flask(__name__)


@app.get("/api/health")
def hello():
    return "hello"


class Hello(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = config_module.load({"server.port": args.port, "server.host": "127.0.0.1"})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    options = gunicorn_options(settings)
    options["proc_name"] = "calmesh-hello"
    Hello(options).run()


if __name__ == "__main__":
    main()
