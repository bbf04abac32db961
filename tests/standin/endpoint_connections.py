"""Endpoint connections of VPC endpoint services, which moto 5.2.1 does not
model: its interface endpoints are `available` at once whatever the service
says, and DescribeVpcEndpointConnections / AcceptVpcEndpointConnections /
RejectVpcEndpointConnections are not implemented (HTTP 500).

With this module, as in EC2:

* An interface endpoint created to an endpoint service of the same account
  and Region (by its ServiceName) whose AcceptanceRequired is true starts
  `pendingAcceptance`; to one that accepts at once, `available`.
* DescribeVpcEndpointConnections lists, for each endpoint service of the
  account, the interface endpoints connected to it (ServiceId, VpcEndpointId,
  VpcEndpointOwner, VpcEndpointState, CreationTimestamp,
  NetworkLoadBalancerArns), filtered by `service-id`, `vpc-endpoint-id`,
  `vpc-endpoint-owner` and `vpc-endpoint-state`.
* AcceptVpcEndpointConnections makes pending endpoints of the service
  `available`; RejectVpcEndpointConnections makes them `rejected`. Endpoints
  that are not connections of the service are listed as Unsuccessful with
  `InvalidVpcEndpoint.NotFound`, as EC2 does.

Consumers in other accounts are not modelled (the tests use one account).
"""

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.vpcs import VPCBackend
from moto.ec2.responses import EC2Response

PENDING = "pendingAcceptance"


def _service_named(backend, service_name):
    for service in backend.configurations.values():
        if service.service_name == service_name:
            return service
    return None


def _connections(backend):
    """(service, endpoint) for every interface endpoint to a service of the account."""
    found = []
    for endpoint in backend.vpc_end_points.values():
        if (endpoint.vpc_endpoint_type or "").lower() != "interface" or endpoint.state == "deleted":
            continue
        service = _service_named(backend, endpoint.service_name)
        if service is not None:
            found.append((service, endpoint))
    return found


def _connection(backend, service, endpoint):
    return {
        "ServiceId": service.id,
        "VpcEndpointId": endpoint.id,
        "VpcEndpointOwner": backend.account_id,
        "VpcEndpointState": endpoint.state,
        "CreationTimestamp": endpoint.creation_timestamp,
        "NetworkLoadBalancerArns": list(service.network_load_balancer_arns),
    }


def describe_connections(backend, filters):
    known = {"service-id", "vpc-endpoint-id", "vpc-endpoint-owner", "vpc-endpoint-state"}
    unknown = sorted(set(filters) - known)
    if unknown:
        raise EC2ClientError("InvalidParameterValue", f"The filter '{unknown[0]}' is invalid")
    listed = []
    for service, endpoint in _connections(backend):
        connection = _connection(backend, service, endpoint)
        values = {
            "service-id": connection["ServiceId"],
            "vpc-endpoint-id": connection["VpcEndpointId"],
            "vpc-endpoint-owner": connection["VpcEndpointOwner"],
            "vpc-endpoint-state": connection["VpcEndpointState"],
        }
        if all(values[name] in wanted for name, wanted in filters.items()):
            listed.append(connection)
    return listed


def decide(backend, service_id, endpoint_ids, new_state):
    """Accept or reject pending connections; answers the Unsuccessful list."""
    if service_id not in backend.configurations:
        raise EC2ClientError(
            "InvalidVpcEndpointServiceId.NotFound", f"The Vpc Endpoint Service Id '{service_id}' does not exist"
        )
    service = backend.configurations[service_id]
    pending = {e.id: e for s, e in _connections(backend) if s is service and e.state == PENDING}
    unsuccessful = []
    for endpoint_id in endpoint_ids:
        endpoint = pending.get(endpoint_id)
        if endpoint is None:
            unsuccessful.append({
                "ResourceId": endpoint_id,
                "Error": {
                    "Code": "InvalidVpcEndpoint.NotFound",
                    "Message": f"The Vpc Endpoint Id '{endpoint_id}' is not a pending connection of {service_id}",
                },
            })
        else:
            endpoint.state = new_state
    return unsuccessful


def install():
    moto_create = VPCBackend.create_vpc_endpoint

    def create_vpc_endpoint(self, *args, **kwargs):
        endpoint = moto_create(self, *args, **kwargs)
        service = _service_named(self, endpoint.service_name)
        if service is not None and (endpoint.vpc_endpoint_type or "").lower() == "interface":
            endpoint.state = PENDING if service.acceptance_required else "available"
        return endpoint

    VPCBackend.create_vpc_endpoint = create_vpc_endpoint

    def describe_vpc_endpoint_connections(self):
        connections = describe_connections(self.ec2_backend, self._filters_from_querystring())
        return ActionResult({"VpcEndpointConnections": connections})

    def accept_vpc_endpoint_connections(self):
        unsuccessful = decide(
            self.ec2_backend, self._get_param("ServiceId"), self._get_param("VpcEndpointIds", []), "available"
        )
        return ActionResult({"Unsuccessful": unsuccessful})

    def reject_vpc_endpoint_connections(self):
        unsuccessful = decide(
            self.ec2_backend, self._get_param("ServiceId"), self._get_param("VpcEndpointIds", []), "rejected"
        )
        return ActionResult({"Unsuccessful": unsuccessful})

    for method in (describe_vpc_endpoint_connections, accept_vpc_endpoint_connections, reject_vpc_endpoint_connections):
        setattr(EC2Response, method.__name__, method)
