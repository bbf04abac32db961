"""The integration tests' AWS stand-in: moto's server with ELB target health,
draining, availability-zone checks, the attributes ELB lists for TCP target
groups, RDS Proxy custom endpoints, VPC endpoint connections and refused
calls added.

Run it with the Python of the virtual environment that holds moto:

    .venv/bin/python tests/standin/elb_standin.py -H 127.0.0.1 -p 0

It serves moto's whole API on that address and logs its port the way
`moto_server` does (` * Running on http://127.0.0.1:PORT`). What it changes
in moto is in `target_health.py`, `elb_attributes.py`, `proxy_endpoints.py`,
`blue_green.py` (a cluster switchover renames the member instances as RDS does),
`endpoint_connections.py`, `multi_az_clusters.py`, `document_db.py`,
`global_clusters.py` and `cluster_endpoints.py` (the RDS shapes of the table in
README.md), and `api_budget.py` (ELB's `Describe*` token bucket, AWS's page
limits, call counts); the knobs tests
turn (how long a new target stays `initial`, which addresses fail health
checks, which actions `access.py` refuses with AccessDenied) are set through
the control endpoint in `control.py`, under `/elb-standin/`.
`POST /moto-api/reset` also resets those knobs.
"""

import argparse
import os
import signal
import sys

from werkzeug.serving import run_simple

import api_budget
import blue_green
import cluster_endpoints
import control
import document_db
import elb_attributes
import endpoint_connections
import global_clusters
import multi_az_clusters
import proxy_endpoints
import target_health


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("-p", "--port", type=int, default=0, help="port to bind (0: any free port)")
    args = parser.parse_args(argv)

    # moto reads MOTO_PORT in a few places (e.g. URLs it hands out); as with
    # moto_server, it names the requested port.
    os.environ.setdefault("MOTO_PORT", str(args.port))

    # Imported only now: moto reads its settings when first imported.
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    target_health.install()
    elb_attributes.install()
    endpoint_connections.install()
    proxy_endpoints.install()
    blue_green.install()
    api_budget.install()
    multi_az_clusters.install()
    document_db.install()
    global_clusters.install()
    cluster_endpoints.install()
    moto_app = DomainDispatcherApplication(create_backend_app)
    app = control.with_control_endpoint(moto_app)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main(sys.argv[1:])
