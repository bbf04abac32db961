"""Aurora custom cluster endpoints, which moto 5.2.1 does not implement:
CreateDBClusterEndpoint, DescribeDBClusterEndpoints, ModifyDBClusterEndpoint
and DeleteDBClusterEndpoint, added to moto's RDS backend and responses.

As in RDS, a custom endpoint names its cluster, a `CustomEndpointType`
(READER or ANY), and either `StaticMembers` (the instances it holds) or
`ExcludedMembers` (every other instance of the cluster is in it); the API
reports those lists, not the members they add up to. Its DNS name is
`<endpoint>.cluster-custom-<random>.<region>.rds.amazonaws.com`, which tests
make resolve in their own DNS server. DescribeDBClusterEndpoints also lists
each cluster's WRITER and READER endpoints, filters by cluster and endpoint
identifier, answers an empty list for an unknown endpoint and
DBClusterNotFoundFault for an unknown cluster. Endpoints are kept on moto's
cluster object, so deleting the cluster or resetting moto forgets them.
"""

import random
import string

from moto.core.responses import ActionResult
from moto.rds import responses as rds_responses
from moto.rds.exceptions import DBClusterNotFoundError, InvalidParameterValue, RDSClientError

CUSTOM_TYPES = ("READER", "ANY")


class DBClusterEndpointNotFoundFault(RDSClientError):
    def __init__(self, name):
        super().__init__("DBClusterEndpointNotFoundFault", f"The DB cluster endpoint {name} does not exist.")


class DBClusterEndpointAlreadyExistsFault(RDSClientError):
    def __init__(self, name):
        super().__init__(
            "DBClusterEndpointAlreadyExistsFault",
            f"A DB cluster endpoint named {name} already exists in this account and region.",
        )


def _endpoints(cluster):
    if not hasattr(cluster, "standin_endpoints"):
        cluster.standin_endpoints = {}
    return cluster.standin_endpoints


def _cluster(backend, identifier):
    cluster = backend.clusters.get((identifier or "").lower())
    if cluster is None:
        raise DBClusterNotFoundError(identifier)
    return cluster


def _members(params, key):
    value = params.get(key) or []
    return [str(v).lower() for v in (value if isinstance(value, list) else [value])]


def _set_membership(cluster, endpoint, params):
    kind = params.get("EndpointType")
    if kind is not None:
        if kind not in CUSTOM_TYPES:
            raise InvalidParameterValue(f"EndpointType must be one of {', '.join(CUSTOM_TYPES)}, got {kind}.")
        endpoint["CustomEndpointType"] = kind
    static, excluded = _members(params, "StaticMembers"), _members(params, "ExcludedMembers")
    if static and excluded:
        raise InvalidParameterValue("Specify either StaticMembers or ExcludedMembers, not both.")
    known = {m.db_instance_identifier for m in cluster.members}
    for name in static + excluded:
        if name not in known:
            raise InvalidParameterValue(f"DB instance {name} is not a member of DB cluster {cluster.db_cluster_identifier}.")
    if "StaticMembers" in params or "ExcludedMembers" in params:
        endpoint["StaticMembers"], endpoint["ExcludedMembers"] = static, excluded


def create_endpoint(backend, params):
    cluster = _cluster(backend, params.get("DBClusterIdentifier"))
    name = (params.get("DBClusterEndpointIdentifier") or "").lower()
    if not name:
        raise InvalidParameterValue("DBClusterEndpointIdentifier is required.")
    if any(name in _endpoints(c) for c in backend.clusters.values()):
        raise DBClusterEndpointAlreadyExistsFault(name)
    if params.get("EndpointType") not in CUSTOM_TYPES:
        raise InvalidParameterValue(f"EndpointType must be one of {', '.join(CUSTOM_TYPES)}.")
    suffix = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(12))
    endpoint = {
        "DBClusterEndpointIdentifier": name,
        "DBClusterIdentifier": cluster.db_cluster_identifier,
        "DBClusterEndpointResourceIdentifier": f"cluster-endpoint-{suffix}",
        "Endpoint": f"{name}.cluster-custom-{cluster.url_identifier}.{backend.region_name}.rds.amazonaws.com",
        "Status": "available",
        "EndpointType": "CUSTOM",
        "StaticMembers": [],
        "ExcludedMembers": [],
        "DBClusterEndpointArn": f"arn:aws:rds:{backend.region_name}:{backend.account_id}:cluster-endpoint:{name}",
    }
    _set_membership(cluster, endpoint, params)
    _endpoints(cluster)[name] = endpoint
    return endpoint


def _find(backend, name):
    for cluster in backend.clusters.values():
        endpoint = _endpoints(cluster).get((name or "").lower())
        if endpoint is not None:
            return cluster, endpoint
    raise DBClusterEndpointNotFoundFault(name)


def _default_endpoints(cluster):
    return [
        {
            "DBClusterEndpointIdentifier": cluster.db_cluster_identifier,
            "DBClusterIdentifier": cluster.db_cluster_identifier,
            "Endpoint": address,
            "Status": "available",
            "EndpointType": kind,
        }
        for kind, address in (("WRITER", cluster.endpoint), ("READER", cluster.reader_endpoint))
    ]


def describe_endpoints(backend, params):
    cluster_id = params.get("DBClusterIdentifier")
    clusters = [_cluster(backend, cluster_id)] if cluster_id else list(backend.clusters.values())
    found = []
    for cluster in clusters:
        found.extend(_default_endpoints(cluster))
        found.extend(_endpoints(cluster).values())
    name = (params.get("DBClusterEndpointIdentifier") or "").lower()
    if name:
        found = [e for e in found if e["EndpointType"] == "CUSTOM" and e["DBClusterEndpointIdentifier"] == name]
    return found


def modify_endpoint(backend, params):
    cluster, endpoint = _find(backend, params.get("DBClusterEndpointIdentifier"))
    _set_membership(cluster, endpoint, params)
    return endpoint


def delete_endpoint(backend, params):
    cluster, endpoint = _find(backend, params.get("DBClusterEndpointIdentifier"))
    del _endpoints(cluster)[endpoint["DBClusterEndpointIdentifier"]]
    return dict(endpoint, Status="deleting")


def install():
    """Adds the four actions to moto's RDS responses (moto finds an action by
    its method name); an endpoint's fields are the response itself."""

    def create_db_cluster_endpoint(self):
        return ActionResult(create_endpoint(self.backend, self.params))

    def describe_db_cluster_endpoints(self):
        return ActionResult({"DBClusterEndpoints": describe_endpoints(self.backend, self.params)})

    def modify_db_cluster_endpoint(self):
        return ActionResult(modify_endpoint(self.backend, self.params))

    def delete_db_cluster_endpoint(self):
        return ActionResult(delete_endpoint(self.backend, self.params))

    for method in (
        create_db_cluster_endpoint,
        describe_db_cluster_endpoints,
        modify_db_cluster_endpoint,
        delete_db_cluster_endpoint,
    ):
        setattr(rds_responses.RDSResponse, method.__name__, method)
