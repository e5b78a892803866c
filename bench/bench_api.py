"""The cost of the REST conventions: an authenticated, rate-limited ``GET /api/v1/me``
(key lookup + one rate-counter upsert per request) against ``/api/health``."""

from __future__ import annotations

import argparse

from common import Server, ratio_line, wrk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    with Server(workers=2) as server:
        server.cli(
            "create-user",
            "--email",
            "b@example.org",
            "--handle",
            "bench",
            "--password",
            "bench-password-1",
        )
        key = (
            server.cli("create-api-key", "--user", "bench", "--scope", "read")
            .strip()
            .splitlines()[-1]
        )
        wrk(server.url + "/api/health", seconds=2)  # warm up
        baseline = wrk(server.url + "/api/health", seconds=args.seconds)
        me = wrk(
            server.url + "/api/v1/me",
            seconds=args.seconds,
            headers={"Authorization": f"Bearer {key}"},
        )
        print("== REST overhead (serve, 2 workers, wrk -t2 -c16)")
        print(ratio_line("/api/health (baseline)", baseline, baseline))
        print(ratio_line("/api/v1/me (key + limit)", me, baseline))


if __name__ == "__main__":
    main()
