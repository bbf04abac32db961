"""template.yaml's defaults pass every check of `nlb-target-sync doctor`.

The integration test `template_defaults_pass_every_check`
(tests/tests/doctor.rs) builds the full-producer resources doctor reads, as
`full_producer.py` evaluates them from this template, in the AWS stand-in and
runs the built doctor on them: every check id passes. These tests say the
same of the template itself, check by check, against the limits doctor uses
(read from its Rust source), and check that `full_producer.py` hands the
integration test the whole of what doctor reads.
"""

from __future__ import annotations

import re

from cfn_helpers import ROOT, Evaluator, load
from full_producer import CHECKED_TYPES, render

TEMPLATE = load("template.yaml")
CHECKS = ROOT / "shared/src/doctor/checks"
DEFAULTS = {"VpcId": "vpc-1", "SubnetIds": "subnet-a,subnet-b", "Sources": "rds-cluster:orders:writer"}


def rust_constant(file: str, name: str) -> int:
    source = (CHECKS / file).read_text()
    match = re.search(rf"pub const {name}: u\d+ = ([0-9_]+);", source)
    assert match, f"{name} not found in {file}"
    return int(match.group(1).replace("_", ""))


def stack() -> dict:
    return render(DEFAULTS)["resources"]


def attributes(properties: dict, key: str) -> dict[str, str]:
    return {a["Key"]: str(a["Value"]) for a in properties.get(key, [])}


def test_full_producer_renders_every_resource_doctor_reads():
    resources = stack()
    assert {r["Type"] for r in resources.values()} == CHECKED_TYPES | {"AWS::EC2::SecurityGroup"}
    assert set(resources) == {
        "LoadBalancerSecurityGroup",
        "LoadBalancer",
        "TargetGroup",
        "Listener",
        "EndpointService",
        "EndpointServicePermissions",
    }
    text = str(resources)
    assert "Fn::" not in text and "Condition" not in text, "evaluated, except references to resources"


def test_load_balancer_a_listener_forwards_to_the_target_group():
    listener = stack()["Listener"]["Properties"]
    assert listener["LoadBalancerArn"] == {"Ref": "LoadBalancer"}
    assert listener["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}]


def test_target_health_tcp_health_checks_on_the_traffic_port():
    group = stack()["TargetGroup"]["Properties"]
    assert group["HealthCheckEnabled"] is True and group["HealthCheckProtocol"] == "TCP"
    assert group["HealthCheckPort"] == "traffic-port"


def test_connection_termination_is_on():
    group = stack()["TargetGroup"]["Properties"]
    assert attributes(group, "TargetGroupAttributes")["deregistration_delay.connection_termination.enabled"] == "true"


def test_deregistration_delay_is_what_doctor_says_the_stack_uses_and_under_its_limit():
    delay = int(attributes(stack()["TargetGroup"]["Properties"], "TargetGroupAttributes")["deregistration_delay.timeout_seconds"])
    assert delay == TEMPLATE["Parameters"]["DeregistrationDelaySeconds"]["Default"]
    assert delay == rust_constant("attributes.rs", "STACK_DEREGISTRATION_DELAY_SECONDS")
    assert delay <= rust_constant("attributes.rs", "DEREGISTRATION_DELAY_LIMIT_SECONDS")


def test_cross_zone_is_on_for_the_load_balancer_and_not_turned_off_by_the_target_group():
    resources = stack()
    assert attributes(resources["LoadBalancer"]["Properties"], "LoadBalancerAttributes")[
        "load_balancing.cross_zone.enabled"
    ] == "true"
    group = attributes(resources["TargetGroup"]["Properties"], "TargetGroupAttributes")
    assert group.get("load_balancing.cross_zone.enabled", "use_load_balancer_configuration") != "false"


def test_security_group_path_the_load_balancer_has_a_group_the_database_can_admit():
    resources = stack()
    assert resources["LoadBalancer"]["Properties"]["SecurityGroups"] == [{"Ref": "LoadBalancerSecurityGroup"}]
    egress = resources["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    port = TEMPLATE["Parameters"]["DatabasePort"]["Default"]
    assert any(r["IpProtocol"] == "tcp" and r["FromPort"] <= port <= r["ToPort"] for r in egress)
    assert "LoadBalancerSecurityGroupId" in TEMPLATE["Outputs"], "what the database's rule names"


def test_mysql_max_connect_errors_the_template_makes_no_database():
    # The check is about the database's parameter group, which the template
    # does not make (the demo database is Aurora PostgreSQL); the integration
    # test sets one up as docs/troubleshooting.md says.
    made = {r["Type"] for r in TEMPLATE["Resources"].values()}
    assert not {t for t in made if t.startswith("AWS::RDS::")}
    assert rust_constant("database.rs", "MAX_CONNECT_ERRORS_FLOOR") == 1_000_000


def test_endpoint_service_allows_the_stacks_own_account_by_default():
    resources = render(DEFAULTS, account="210987654321")["resources"]
    assert resources["EndpointServicePermissions"]["Properties"]["AllowedPrincipals"] == [
        "arn:aws:iam::210987654321:root"
    ]
    assert resources["EndpointServicePermissions"]["Properties"]["ServiceId"] == {"Ref": "EndpointService"}
    assert resources["EndpointService"]["Properties"]["NetworkLoadBalancerArns"] == [{"Ref": "LoadBalancer"}]


def test_the_functions_only_shape_makes_nothing_doctor_reads():
    ev = Evaluator(TEMPLATE, {"StackShape": "functions-only"})
    made = {r["Type"] for name, r in TEMPLATE["Resources"].items() if "Condition" not in r or ev.condition(r["Condition"])}
    assert not made & CHECKED_TYPES
