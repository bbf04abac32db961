"""What ELB does with the targets of an `ip` target group, patched into moto.

moto keeps one entry per target Id, reports every registered target `healthy`
at once, raises an error for deregistering an unknown target and accepts any
address. For target groups of type `ip` this module replaces that with:

* A target is an (address, port) pair: one address on two ports is two targets.
* A registered target is `initial` (Elb.RegistrationInProgress) for the
  `initialSeconds` in force when it was registered, then `healthy`, or
  `unhealthy` (Target.FailedHealthChecks) while its address is marked
  unreachable. Reachability can change at any time.
* DeregisterTargets makes a target `draining` (Target.DeregistrationInProgress)
  for the target group's `deregistration_delay.timeout_seconds` (300 unless
  the test set it; 0 removes it at once), then it is gone. Registering it
  again while it drains brings it back (`initial` again).
* RegisterTargets checks addresses against the target group's VPC blocks: an
  address outside them needs an AvailabilityZone (`all`, or a zone), else the
  call fails with ELB's ValidationError; an address inside a subnet cannot be
  given `all`. Nothing is registered when any target of the call is refused.
* DeregisterTargets matches (address, port), the port defaulting to the target
  group's, and a target registered with AvailabilityZone `all` only when the
  call says `all` too (the production adapter sends the zone ELB reported).
  Like ELB, a target that does not match is ignored and the call succeeds: a
  wrong port is a silent no-op.
* DescribeTargetHealth lists every target, draining ones included, with its
  AvailabilityZone (`all`, the zone given, or the zone of the subnet holding
  the address).

Target groups of other types keep moto's behaviour. Nothing here models
health-check settings, zones the load balancer does not use, or target groups
without a load balancer (ELB reports those `unused`).
"""

import ipaddress
import threading
import time
from collections import OrderedDict

from moto.elbv2 import models as elbv2
from moto.elbv2.exceptions import InvalidTargetError, ValidationError

INITIAL = ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
HEALTHY = ("healthy", None, None)
UNHEALTHY = ("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
DRAINING = ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
NOT_REGISTERED = ("unused", "Target.NotRegistered", "Target is not registered to the target group")

# ELB's default deregistration delay, as moto sets it on a new target group.
DEFAULT_DRAIN_SECONDS = 300.0
DRAIN_ATTRIBUTE = "deregistration_delay.timeout_seconds"

# One lock for the knobs and every target group's targets: werkzeug serves
# requests on several threads.
_LOCK = threading.RLock()


class Settings:
    """The knobs the control endpoint turns."""

    def __init__(self):
        self.reset()

    def reset(self):
        with _LOCK:
            self.initial_seconds = 0.0
            self.unreachable = set()

    def set_initial_seconds(self, seconds):
        with _LOCK:
            self.initial_seconds = seconds

    def set_reachable(self, address, reachable):
        with _LOCK:
            if reachable:
                self.unreachable.discard(address)
            else:
                self.unreachable.add(address)

    def snapshot(self):
        with _LOCK:
            return {"initialSeconds": self.initial_seconds, "unreachable": sorted(self.unreachable)}


SETTINGS = Settings()


class Registration:
    """One registered (address, port) of a target group."""

    def __init__(self, target_id, port, zone, initial_until):
        self.target_id = target_id
        self.port = port
        # The AvailabilityZone the registration named, if any.
        self.zone = zone
        self.initial_until = initial_until
        # When the drain ends; None while registered.
        self.drain_until = None

    def health(self, now):
        if self.drain_until is not None:
            return DRAINING
        if now < self.initial_until:
            return INITIAL
        if self.target_id in SETTINGS.unreachable:
            return UNHEALTHY
        return HEALTHY


class TargetHealthDescription:
    """One entry of DescribeTargetHealth; moto serializes these attributes."""

    def __init__(self, target, health_check_port, state):
        self.target = target
        self.health_check_port = health_check_port
        self.target_health = {"State": state[0], "Reason": state[1], "Description": state[2]}


def _now():
    return time.monotonic()


def _registrations(group):
    """The target group's registrations by (address, port), in registration order."""
    if not hasattr(group, "standin_registrations"):
        group.standin_registrations = OrderedDict()
    return group.standin_registrations


def _forget_drained(group, now):
    registrations = _registrations(group)
    for key in [k for k, r in registrations.items() if r.drain_until is not None and r.drain_until <= now]:
        del registrations[key]


def _drain_seconds(group):
    try:
        return float(group.attributes.get(DRAIN_ATTRIBUTE, DEFAULT_DRAIN_SECONDS))
    except (TypeError, ValueError):
        return DEFAULT_DRAIN_SECONDS


def _address(target):
    try:
        return ipaddress.ip_address(str(target.get("Id")))
    except ValueError:
        return None


def _port(group, target):
    return int(target.get("Port") or group.port)


def _vpc_blocks(group):
    """The IPv4 and IPv6 CIDR blocks of the target group's VPC."""
    try:
        vpc = group.ec2_backend.get_vpc(group.vpc_id)
    except Exception:  # noqa: BLE001 - moto raises its own error type for an unknown VPC
        return []
    blocks = []
    for ipv6 in (False, True):
        for association in vpc.get_cidr_block_association_set(ipv6=ipv6):
            if association.get("cidr_block_state", {}).get("state", "associated") == "associated":
                blocks.append(ipaddress.ip_network(association["cidr_block"], strict=False))
    return blocks


def _subnet_zone(group, address):
    """The availability zone of the target group's subnet holding `address`."""
    for subnet in group.ec2_backend.describe_subnets():
        if subnet.vpc_id != group.vpc_id:
            continue
        networks = [subnet.cidr] + [
            ipaddress.ip_network(a["ipv6CidrBlock"], strict=False)
            for a in subnet.ipv6_cidr_block_association_set
            if a.get("ipv6CidrBlock")
        ]
        if any(n.version == address.version and address in n for n in networks):
            return subnet.availability_zone
    return None


def _check(group, target, blocks):
    """Raises ELB's error for a target this target group refuses."""
    address = _address(target)
    if address is None:
        raise InvalidTargetError()
    zone = target.get("AvailabilityZone")
    inside = any(b.version == address.version and address in b for b in blocks)
    if not inside and not zone:
        raise ValidationError(
            f"The Availability Zone is required for IP address '{target['Id']}' because it is not in the VPC"
        )
    if inside and zone == "all":
        subnet_zone = _subnet_zone(group, address)
        if subnet_zone:
            raise ValidationError(
                f"The IP address '{target['Id']}' is within the VPC, and cannot have its "
                f"Availability Zone overridden to 'all' from '{subnet_zone}'"
            )


def register(group, targets):
    blocks = _vpc_blocks(group)
    for target in targets:
        _check(group, target, blocks)
    with _LOCK:
        now = _now()
        _forget_drained(group, now)
        registrations = _registrations(group)
        for target in targets:
            key = (str(_address(target)), _port(group, target))
            known = registrations.get(key)
            if known is not None and known.drain_until is None:
                continue  # already registered: ELB changes nothing
            registrations[key] = Registration(
                key[0], key[1], target.get("AvailabilityZone"), now + SETTINGS.initial_seconds
            )


def deregister(group, targets):
    with _LOCK:
        now = _now()
        _forget_drained(group, now)
        registrations = _registrations(group)
        drain = _drain_seconds(group)
        for target in targets:
            address = _address(target)
            if address is None:
                continue
            key = (str(address), _port(group, target))
            known = registrations.get(key)
            if known is None or known.drain_until is not None:
                continue
            if known.zone == "all" and target.get("AvailabilityZone") != "all":
                continue
            if drain <= 0:
                del registrations[key]
            else:
                known.drain_until = now + drain


def _description(group, registration, state):
    zone = registration.zone or _subnet_zone(group, ipaddress.ip_address(registration.target_id))
    target = {"Id": registration.target_id, "Port": registration.port}
    if zone:
        target["AvailabilityZone"] = zone
    check_port = group.health_check_port
    if check_port in (None, "traffic-port"):
        check_port = str(registration.port)
    return TargetHealthDescription(target, check_port, state)


def describe(group, targets):
    with _LOCK:
        now = _now()
        _forget_drained(group, now)
        registrations = _registrations(group)
        if not targets:
            return [_description(group, r, r.health(now)) for r in registrations.values()]
        descriptions = []
        for target in targets:
            address = _address(target)
            port = _port(group, target)
            known = registrations.get((str(address), port)) if address else None
            if known is None:
                asked = {"Id": str(target.get("Id")), "Port": port}
                descriptions.append(TargetHealthDescription(asked, None, NOT_REGISTERED))
            else:
                descriptions.append(_description(group, known, known.health(now)))
        return descriptions


def install():
    """Patches moto's ELBv2 models; target groups of other types than `ip`
    keep moto's behaviour."""
    group_class = elbv2.FakeTargetGroup
    backend_class = elbv2.ELBv2Backend
    moto_register = group_class.register
    moto_deregister = group_class.deregister
    moto_describe = backend_class.describe_target_health

    def patched_register(self, targets):
        if self.target_type != "ip":
            return moto_register(self, targets)
        return register(self, targets)

    def patched_deregister(self, targets):
        if self.target_type != "ip":
            return moto_deregister(self, targets)
        return deregister(self, targets)

    def patched_describe(self, target_group_arn, targets):
        group = self.target_groups.get(target_group_arn)
        if group is None or group.target_type != "ip":
            return moto_describe(self, target_group_arn, targets)
        return describe(group, targets)

    group_class.register = patched_register
    group_class.deregister = patched_deregister
    backend_class.describe_target_health = patched_describe
