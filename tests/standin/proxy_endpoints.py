"""RDS Proxy endpoints, which moto 5.2.1 does not implement (its server answers
HTTP 500 for them): CreateDBProxyEndpoint, DescribeDBProxyEndpoints and
DeleteDBProxyEndpoint, added to moto's RDS backend and responses.

An endpoint belongs to a proxy and is stored on moto's proxy object, so
deleting the proxy or resetting moto forgets it. Its DNS name follows AWS's
form, `<endpoint>.endpoint.proxy-<random>.<region>.rds.amazonaws.com`; tests
make that name resolve in their own DNS server. DescribeDBProxyEndpoints also
lists each proxy's default endpoint (IsDefault), as RDS does.
"""

import datetime
import random
import string

from moto.core.responses import ActionResult
from moto.ec2.models import ec2_backends
from moto.rds import responses as rds_responses
from moto.rds.exceptions import DBProxyNotFoundFault, InvalidParameterValue, InvalidSubnet, RDSClientError

TARGET_ROLES = ("READ_WRITE", "READ_ONLY")


class DBProxyEndpointNotFoundFault(RDSClientError):
    def __init__(self, proxy, endpoint):
        super().__init__(
            "DBProxyEndpointNotFoundFault",
            f"The DB proxy endpoint {endpoint} of proxy {proxy} does not exist in this account and region.",
        )


class DBProxyEndpointAlreadyExistsFault(RDSClientError):
    def __init__(self, endpoint):
        super().__init__(
            "DBProxyEndpointAlreadyExistsFault",
            f"A DB proxy endpoint named {endpoint} already exists in this account and region.",
        )


def _endpoints(proxy):
    if not hasattr(proxy, "standin_endpoints"):
        proxy.standin_endpoints = {}
    return proxy.standin_endpoints


def _proxy(backend, name):
    proxy = backend.db_proxies.get(name)
    if proxy is None:
        raise DBProxyNotFoundFault(name)
    return proxy


def _default_endpoint(backend, proxy):
    return {
        "DBProxyEndpointName": "default",
        "DBProxyEndpointArn": f"arn:aws:rds:{backend.region_name}:{backend.account_id}:db-proxy:{proxy.unique_id}",
        "DBProxyName": proxy.db_proxy_name,
        "Status": proxy.status,
        "VpcId": proxy.vpc_id,
        "VpcSecurityGroupIds": list(proxy.vpc_security_group_ids),
        "VpcSubnetIds": list(proxy.vpc_subnet_ids),
        "Endpoint": proxy.endpoint,
        "CreatedDate": proxy.created_date,
        "TargetRole": "READ_WRITE",
        "IsDefault": True,
    }


def create_endpoint(backend, params):
    proxy = _proxy(backend, params.get("DBProxyName"))
    name = params.get("DBProxyEndpointName")
    if not name or name == "default":
        raise InvalidParameterValue(f"DBProxyEndpointName must be a name other than 'default', got {name!r}.")
    if any(name in _endpoints(p) for p in backend.db_proxies.values()):
        raise DBProxyEndpointAlreadyExistsFault(name)
    role = params.get("TargetRole") or "READ_WRITE"
    if role not in TARGET_ROLES:
        raise InvalidParameterValue(f"TargetRole must be one of {', '.join(TARGET_ROLES)}, got {role}.")
    subnet_ids = params.get("VpcSubnetIds") or list(proxy.vpc_subnet_ids)
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    known = {s.id: s for s in ec2.describe_subnets()}
    # An endpoint may sit in another VPC than its proxy, but in one VPC.
    for subnet_id in subnet_ids:
        if subnet_id not in known or known[subnet_id].vpc_id != known[subnet_ids[0]].vpc_id:
            raise InvalidSubnet(subnet_id)
    vpc_id = known[subnet_ids[0]].vpc_id
    suffix = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(17))
    endpoint = {
        "DBProxyEndpointName": name,
        "DBProxyEndpointArn": f"arn:aws:rds:{backend.region_name}:{backend.account_id}:db-proxy-endpoint:prx-endpoint-{suffix}",
        "DBProxyName": proxy.db_proxy_name,
        "Status": "available",
        "VpcId": vpc_id,
        "VpcSecurityGroupIds": params.get("VpcSecurityGroupIds") or list(proxy.vpc_security_group_ids),
        "VpcSubnetIds": subnet_ids,
        "Endpoint": f"{name}.endpoint.proxy-{proxy.url_identifier}.{backend.region_name}.rds.amazonaws.com",
        "CreatedDate": datetime.datetime.now(datetime.timezone.utc),
        "TargetRole": role,
        "IsDefault": False,
    }
    _endpoints(proxy)[name] = endpoint
    return endpoint


def describe_endpoints(backend, params):
    proxy_name = params.get("DBProxyName")
    endpoint_name = params.get("DBProxyEndpointName")
    proxies = [_proxy(backend, proxy_name)] if proxy_name else list(backend.db_proxies.values())
    found = []
    for proxy in proxies:
        found.append(_default_endpoint(backend, proxy))
        found.extend(_endpoints(proxy).values())
    if endpoint_name:
        found = [e for e in found if e["DBProxyEndpointName"] == endpoint_name]
        if not found:
            raise DBProxyEndpointNotFoundFault(proxy_name or "(any)", endpoint_name)
    return found


def delete_endpoint(backend, params):
    name = params.get("DBProxyEndpointName")
    for proxy in backend.db_proxies.values():
        endpoint = _endpoints(proxy).pop(name, None)
        if endpoint is not None:
            return dict(endpoint, Status="deleting")
    raise DBProxyEndpointNotFoundFault("(any)", name)


def install():
    """Adds the three actions to moto's RDS responses (moto finds an action by
    its method name)."""

    def create_db_proxy_endpoint(self):
        return ActionResult({"DBProxyEndpoint": create_endpoint(self.backend, self.params)})

    def describe_db_proxy_endpoints(self):
        return ActionResult({"DBProxyEndpoints": describe_endpoints(self.backend, self.params)})

    def delete_db_proxy_endpoint(self):
        return ActionResult({"DBProxyEndpoint": delete_endpoint(self.backend, self.params)})

    for method in (create_db_proxy_endpoint, describe_db_proxy_endpoints, delete_db_proxy_endpoint):
        setattr(rds_responses.RDSResponse, method.__name__, method)
