"""Properties of template.yaml that matter for correctness and safety, in both
shapes (StackShape full-producer and functions-only). Each test names the guard
it checks (docs/architecture.md, "Guards")."""

from __future__ import annotations

import re
import tomllib

import pytest

from cfn_helpers import (
    ROOT,
    Evaluator,
    created,
    created_outputs,
    event_pattern_matches,
    functions,
    load,
    references,
    resources_of_type,
)

TEMPLATE = load("template.yaml")
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = functions(TEMPLATE)

SOURCES_TAG = "nlb-target-sync:sources"
PORT_TAG = "nlb-target-sync:port"
VIEW_TAG = "nlb-target-sync:applied-view"
ABSENT_TAG = "nlb-target-sync:absent"
SETTLED_TAG = "nlb-target-sync:settled"
SYNC_TAGS = {SOURCES_TAG, PORT_TAG, VIEW_TAG, ABSENT_TAG, SETTLED_TAG}

# The function each binary is, and what it may do to target groups.
SCHEDULE, FAILOVER, DEPLOY = "SyncOnScheduleFunction", "SyncOnFailoverFunction", "SyncOnDeployFunction"

# Everything the functions call (README of the brief); nothing else is granted.
EXPECTED_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:AddTags",
    "rds:DescribeDBClusters",
    "rds:DescribeDBInstances",
    "rds:DescribeDBProxies",
    "rds:DescribeDBProxyEndpoints",
    "rds:DescribeDBClusterEndpoints",
    "rds:DescribeGlobalClusters",
    "rds:DescribeBlueGreenDeployments",
}
READ_ONLY = re.compile(r"^[a-z0-9-]+:(Describe|List|Get)[A-Za-z]*$")

# The two shapes, with what each must be given.
FULL = {"Sources": "rds-proxy:p"}
FUNCTIONS_ONLY = {"StackShape": "functions-only"}
SHAPES = {"full-producer": FULL, "functions-only": FUNCTIONS_ONLY}
TARGET_GROUP_ARNS = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/*/*"


def statements(function_name: str) -> list[dict]:
    found = []
    for policy in FUNCTIONS[function_name]["Properties"].get("Policies", []):
        assert isinstance(policy, dict) and "Statement" in policy, (
            f"{function_name}: only inline statements are used, no managed or SAM policy templates: {policy}"
        )
        found.extend(policy["Statement"])
    return found


def actions(statement: dict) -> list[str]:
    value = statement["Action"]
    return [value] if isinstance(value, str) else list(value)


def as_list(value):
    return value if isinstance(value, list) else [value]


# ------------------------------------------------------------------ load balancer


def test_load_balancer_is_internal_network_with_cross_zone_on():
    """Reach every zone: a single-AZ writer must be reachable from every AZ's load balancer node."""
    lb = RESOURCES["LoadBalancer"]["Properties"]
    assert lb["Type"] == "network"
    assert lb["Scheme"] == "internal"
    attributes = {a["Key"]: a["Value"] for a in lb["LoadBalancerAttributes"]}
    assert attributes["load_balancing.cross_zone.enabled"] == "true"
    assert lb["Subnets"] == {"Ref": "SubnetIds"}
    # PrivateLink traffic is governed by the endpoint service, not this SG.
    assert lb["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] == "off"


def test_target_group_is_ip_with_tcp_health_checks_short_drain_and_the_sources_tag():
    tg = RESOURCES["TargetGroup"]["Properties"]
    assert tg["TargetType"] == "ip"
    assert tg["Protocol"] == "TCP"
    assert tg["HealthCheckProtocol"] == "TCP"
    assert tg["Port"] == {"Ref": "DatabasePort"}
    attributes = {a["Key"]: a["Value"] for a in tg["TargetGroupAttributes"]}
    assert attributes["deregistration_delay.timeout_seconds"] == {"Ref": "DeregistrationDelaySeconds"}
    delay = TEMPLATE["Parameters"]["DeregistrationDelaySeconds"]
    assert delay["Default"] <= 60, "the drain of a demoted writer must be short (role authority)"
    assert attributes["deregistration_delay.connection_termination.enabled"] == "true"
    tags = {t["Key"]: t["Value"] for t in tg["Tags"]}
    assert tags == {SOURCES_TAG: {"Ref": "Sources"}}


def test_listener_forwards_the_database_port_to_the_target_group():
    listener = RESOURCES["Listener"]["Properties"]
    assert listener["Protocol"] == "TCP"
    assert listener["Port"] == {"Ref": "DatabasePort"}
    assert listener["LoadBalancerArn"] == {"Ref": "LoadBalancer"}
    assert listener["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}]


def test_load_balancer_security_group_only_reaches_the_database_port():
    sg = RESOURCES["LoadBalancerSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in sg
    (egress,) = sg["SecurityGroupEgress"]
    assert egress["IpProtocol"] == "tcp"
    assert egress["FromPort"] == egress["ToPort"] == {"Ref": "DatabasePort"}


# --------------------------------------------------------------------- PrivateLink


def test_endpoint_service_is_on_the_load_balancer_and_its_name_is_an_output():
    service = RESOURCES["EndpointService"]["Properties"]
    assert service["NetworkLoadBalancerArns"] == [{"Ref": "LoadBalancer"}]
    assert service["AcceptanceRequired"] == {"Ref": "AcceptanceRequired"}
    outputs = TEMPLATE["Outputs"]
    name = Evaluator(TEMPLATE, {"Sources": "rds-proxy:p"}).eval(outputs["EndpointServiceName"]["Value"])
    assert name == "com.amazonaws.vpce.eu-west-1.${EndpointService}"
    assert outputs["LoadBalancerArn"]["Value"] == {"Ref": "LoadBalancer"}
    assert outputs["TargetGroupArn"]["Value"] == {"Ref": "TargetGroup"}


@pytest.mark.parametrize(
    ("partition", "accounts", "arns", "expected"),
    [
        ("aws", "111122223333", "", ["arn:aws:iam::111122223333:root"]),
        (
            "aws",
            "111122223333,444455556666",
            "",
            ["arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:root"],
        ),
        ("aws", "", "arn:aws:iam::777788889999:role/app", ["arn:aws:iam::777788889999:role/app"]),
        (
            "aws",
            "111122223333",
            "arn:aws:iam::777788889999:role/app,arn:aws:iam::777788880000:root",
            [
                "arn:aws:iam::111122223333:root",
                "arn:aws:iam::777788889999:role/app",
                "arn:aws:iam::777788880000:root",
            ],
        ),
        ("aws-cn", "111122223333", "", ["arn:aws-cn:iam::111122223333:root"]),
        ("aws-us-gov", "111122223333,444455556666", "", [
            "arn:aws-us-gov:iam::111122223333:root",
            "arn:aws-us-gov:iam::444455556666:root",
        ]),
    ],
)
def test_allowed_accounts_and_arns_become_the_principal_list(partition, accounts, arns, expected):
    ev = Evaluator(
        TEMPLATE,
        {"Sources": "rds-proxy:p", "AllowedAccountIds": accounts, "AllowedPrincipalArns": arns},
        partition=partition,
    )
    permissions = RESOURCES["EndpointServicePermissions"]
    assert ev.condition(permissions["Condition"])
    assert ev.eval(permissions["Properties"]["AllowedPrincipals"]) == expected


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_no_principal_given_allows_this_stacks_own_account(partition):
    # A service that allows no principal refuses every endpoint (doctor's
    # endpoint-service check warns about it): the defaults allow the account
    # the stack is in, and connections still wait for acceptance.
    ev = Evaluator(TEMPLATE, {"Sources": "rds-proxy:p"}, partition=partition, account="210987654321")
    permissions = RESOURCES["EndpointServicePermissions"]
    assert ev.condition(permissions["Condition"])
    assert ev.eval(permissions["Properties"]["AllowedPrincipals"]) == [f"arn:{partition}:iam::210987654321:root"]
    assert ev.eval({"Ref": "AcceptanceRequired"}) == "true"
    assert not Evaluator(TEMPLATE, {"StackShape": "functions-only"}).condition(permissions["Condition"])


def test_principal_parameters_reject_malformed_values():
    accounts = re.compile(TEMPLATE["Parameters"]["AllowedAccountIds"]["AllowedPattern"])
    arns = re.compile(TEMPLATE["Parameters"]["AllowedPrincipalArns"]["AllowedPattern"])
    assert accounts.fullmatch("111122223333") and accounts.fullmatch("")
    assert not accounts.fullmatch("11112222333") and not accounts.fullmatch("arn:aws:iam::111122223333:root")
    assert arns.fullmatch("arn:aws:iam::111122223333:root")
    assert arns.fullmatch("arn:aws-cn:iam::111122223333:role/app")
    assert not arns.fullmatch("111122223333") and not arns.fullmatch("*")


# ------------------------------------------------------------------------ functions


def test_there_are_exactly_the_three_functions():
    assert set(FUNCTIONS) == {SCHEDULE, FAILOVER, DEPLOY}


@pytest.mark.parametrize("name", [SCHEDULE, FAILOVER, DEPLOY])
def test_every_function_is_arm64_al2023_built_by_cargo_lambda_from_its_crate(name):
    function = FUNCTIONS[name]
    props = function["Properties"]
    assert props["Architectures"] == ["arm64"]
    assert props["Runtime"] == "provided.al2023"
    assert props["Handler"] == "bootstrap"
    assert function["Metadata"]["BuildMethod"] == "rust-cargolambda"
    binary = function["Metadata"]["BuildProperties"]["Binary"]
    assert props["CodeUri"] == f"functions/{binary}"
    manifest = tomllib.loads((ROOT / props["CodeUri"] / "Cargo.toml").read_text())
    assert binary in [b["name"] for b in manifest.get("bin", [])], f"{binary} is not a [[bin]] of its crate"


@pytest.mark.parametrize("name", [SCHEDULE, FAILOVER, DEPLOY])
def test_every_function_has_its_own_log_group_with_retention_and_json_logs(name):
    logging = FUNCTIONS[name]["Properties"]["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    group_ref = logging["LogGroup"]["Ref"]
    group = RESOURCES[group_ref]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    others = [FUNCTIONS[n]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for n in FUNCTIONS if n != name]
    assert group_ref not in others


@pytest.mark.parametrize("level", ["error", "warn", "info", "debug", "trace"])
def test_lambda_never_drops_the_info_level_metric_lines(level):
    """EMF lines carry no level, so Lambda files them as INFO: its filter must not
    be stricter than INFO, whatever the functions' own level."""
    ev = Evaluator(TEMPLATE, {"Sources": "rds-proxy:p", "LogLevel": level})
    for name in FUNCTIONS:
        lambda_level = ev.eval(FUNCTIONS[name]["Properties"]["LoggingConfig"]["ApplicationLogLevel"])
        assert lambda_level in {"INFO", "DEBUG", "TRACE"}
        rust = ev.eval(FUNCTIONS[name]["Properties"]["Environment"]["Variables"]["RUST_LOG"])
        assert rust.split(",")[0] in {"error", "warn", "info", "trace"}


@pytest.mark.parametrize("name", [SCHEDULE, FAILOVER, DEPLOY])
def test_every_function_is_in_the_vpc_with_a_failure_destination(name):
    props = FUNCTIONS[name]["Properties"]
    assert props["VpcConfig"]["SubnetIds"] == {"Ref": "SubnetIds"}
    assert props["VpcConfig"]["SecurityGroupIds"] == [{"Ref": "FunctionSecurityGroup"}]
    on_failure = props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure == {"Type": "SQS", "Destination": {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]}}


def test_the_vpc_resolver_is_used():
    """The functions resolve RDS names with the VPC's resolver: no DNS override."""
    for function in FUNCTIONS.values():
        assert "NLB_SYNC_DNS_SERVER" not in function["Properties"]["Environment"]["Variables"]


def test_schedule_runs_every_minute_by_default():
    """Fast detection: detection must not wait for a slow schedule."""
    event = FUNCTIONS[SCHEDULE]["Properties"]["Events"]["Schedule"]
    assert event["Type"] == "Schedule"
    assert event["Properties"]["Schedule"] == {"Ref": "ScheduleExpression"}
    assert TEMPLATE["Parameters"]["ScheduleExpression"]["Default"] == "rate(1 minute)"


def test_failover_function_outlives_its_watch():
    """Watch after an event: the function keeps re-checking after a 'failover started' event."""
    props = FUNCTIONS[FAILOVER]["Properties"]
    watch = int(props["Environment"]["Variables"]["NLB_SYNC_WATCH_SECONDS"])
    assert props["Timeout"] >= watch + 30
    # Its triggers are the optional plain resources of the "RDS events" tests.
    assert "Events" not in props


def test_custom_resource_times_out_just_after_the_deploy_function():
    """Always answer: CloudFormation must not wait an hour for an answer that cannot come."""
    resource = RESOURCES["TargetSync"]
    props = resource["Properties"]
    function_timeout = FUNCTIONS[DEPLOY]["Properties"]["Timeout"]
    assert 1 <= props["ServiceTimeout"] <= 3600
    assert function_timeout < props["ServiceTimeout"] <= function_timeout + 60
    assert props["ServiceToken"] == {"Fn::GetAtt": ["SyncOnDeployFunction", "Arn"]}
    # The deploy function keeps a 10 s margin to answer before its deadline.
    assert TEMPLATE["Parameters"]["WaitForHealthySeconds"]["MaxValue"] + 10 < function_timeout


def test_custom_resource_fills_this_stacks_group_after_its_listener_and_endpoints():
    """Fill at deploy: the target group is filled at deploy time; the API endpoints exist first."""
    resource = RESOURCES["TargetSync"]
    assert resource["Type"] == "Custom::NlbTargetSync"
    props = resource["Properties"]
    assert props["TargetGroupArn"] == {"Ref": "TargetGroup"}
    assert props["Sources"] == {"Ref": "Sources"}
    assert set(resource["DependsOn"]) >= {"Listener", "ApiEndpointsReady"}
    ready = RESOURCES["ApiEndpointsReady"]["Metadata"]
    for endpoint in resources_of_type(TEMPLATE, "AWS::EC2::VPCEndpoint"):
        assert any(endpoint in str(v) for v in ready.values()), f"{endpoint} is not waited for"


def test_api_endpoints_are_optional_and_only_reachable_from_the_functions():
    for name, endpoint in resources_of_type(TEMPLATE, "AWS::EC2::VPCEndpoint").items():
        assert endpoint["Condition"] in {
            "MakeInterfaceEndpoints", "MakeS3GatewayEndpoint", "MakeDynamoDbGatewayEndpoint"
        }, name
    ev = Evaluator(TEMPLATE, {"Sources": "rds-proxy:p"})
    assert not ev.condition("MakeInterfaceEndpoints") and not ev.condition("MakeS3GatewayEndpoint")
    assert not ev.condition("MakeDynamoDbGatewayEndpoint")
    (ingress,) = RESOURCES["ApiEndpointSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert ingress["SourceSecurityGroupId"] == {"Ref": "FunctionSecurityGroup"}
    assert ingress["FromPort"] == ingress["ToPort"] == 443


# ---------------------------------------------------------------------------- IAM


def test_functions_are_granted_only_the_calls_they_make():
    for name in FUNCTIONS:
        granted = {a for s in statements(name) for a in actions(s)}
        expected = set(EXPECTED_ACTIONS)
        if name == DEPLOY:
            expected.add("elasticloadbalancing:RemoveTags")
        if name != FAILOVER:
            # Only a Blue/Green switchover event needs the deployment looked up.
            expected.discard("rds:DescribeBlueGreenDeployments")
        assert granted == expected, name


def test_no_wildcard_actions_and_no_wildcard_resources_on_mutating_actions():
    for name in FUNCTIONS:
        for statement in statements(name):
            assert statement["Effect"] == "Allow"
            for action in actions(statement):
                assert "*" not in action, f"{name}: wildcard action {action}"
            mutating = [a for a in actions(statement) if not READ_ONLY.match(a)]
            if mutating:
                for resource in as_list(statement["Resource"]):
                    assert resource != "*", f"{name}: {mutating} on every resource"
            if statement["Resource"] == "*":
                # Only where AWS offers no resource-level scoping.
                assert all(a.startswith("elasticloadbalancing:Describe") for a in actions(statement))


def test_every_function_takes_leases_in_the_stacks_table_only():
    table = RESOURCES["LeaseTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "targetGroup", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "targetGroup", "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["NLB_SYNC_LEASE_TABLE"] == {"Ref": "LeaseTable"}
    for name in FUNCTIONS:
        (statement,) = _statements_with(name, "dynamodb:PutItem")
        assert sorted(actions(statement)) == ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"]
        assert statement["Resource"] == {"Fn::GetAtt": ["LeaseTable", "Arn"]}, name
    assert TEMPLATE["Outputs"]["LeaseTableName"]["Value"] == {"Ref": "LeaseTable"}


def _statements_with(name: str, action: str) -> list[dict]:
    return [s for s in statements(name) if action in actions(s)]


@pytest.mark.parametrize("name", [SCHEDULE, FAILOVER])
def test_sync_functions_change_targets_only_of_groups_carrying_the_sources_tag(name):
    for action in ("elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"):
        (statement,) = _statements_with(name, action)
        assert statement["Condition"] == {"Null": {f"aws:ResourceTag/{SOURCES_TAG}": "false"}}
        resource = Evaluator(TEMPLATE, {"Sources": "rds-proxy:p"}).eval(statement["Resource"])
        assert resource == "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/*/*"


@pytest.mark.parametrize("name", [SCHEDULE, FAILOVER])
def test_sync_functions_may_write_only_the_applied_view_tag_of_managed_groups(name):
    """Applied view: every run writes the applied-view guard, and nothing else."""
    (statement,) = _statements_with(name, "elasticloadbalancing:AddTags")
    assert actions(statement) == ["elasticloadbalancing:AddTags"]
    condition = statement["Condition"]
    assert condition["Null"] == {f"aws:ResourceTag/{SOURCES_TAG}": "false", "aws:TagKeys": "false"}
    assert condition["ForAllValues:StringEquals"] == {"aws:TagKeys": [VIEW_TAG, ABSENT_TAG, SETTLED_TAG]}
    assert not _statements_with(name, "elasticloadbalancing:RemoveTags")


def test_deploy_function_acts_only_on_groups_that_carry_or_receive_the_sources_tag():
    """Fill at deploy, for any stack: the custom resource is scoped by tag, not by one ARN."""
    ev = Evaluator(TEMPLATE, FUNCTIONS_ONLY)
    for action in ("elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"):
        (statement,) = _statements_with(DEPLOY, action)
        assert ev.eval(statement["Resource"]) == TARGET_GROUP_ARNS
        assert statement["Condition"] == {"Null": {f"aws:ResourceTag/{SOURCES_TAG}": "false"}}
    (remove,) = _statements_with(DEPLOY, "elasticloadbalancing:RemoveTags")
    add = _statements_with(DEPLOY, "elasticloadbalancing:AddTags")
    assert len(add) == 2 and remove in add
    (create,) = [s for s in add if s is not remove]
    for statement in add:
        assert ev.eval(statement["Resource"]) == TARGET_GROUP_ARNS
        # ForAllValues is true for a request without tag keys: they must be there.
        assert statement["Condition"]["Null"]["aws:TagKeys"] == "false"
    # Tagged groups: any of the sync tags, nothing else.
    assert remove["Condition"]["Null"] == {f"aws:ResourceTag/{SOURCES_TAG}": "false", "aws:TagKeys": "false"}
    assert set(remove["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]) == SYNC_TAGS
    # Untagged groups: only a request that gives the sources tag (and the port tag).
    assert actions(create) == ["elasticloadbalancing:AddTags"]
    assert create["Condition"]["Null"] == {
        f"aws:ResourceTag/{SOURCES_TAG}": "true",
        f"aws:RequestTag/{SOURCES_TAG}": "false",
        "aws:TagKeys": "false",
    }
    assert set(create["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]) == {SOURCES_TAG, PORT_TAG}


def test_no_function_is_scoped_to_a_resource_of_one_shape():
    """The same policies serve both shapes: none names this stack's target group."""
    for name in FUNCTIONS:
        for statement in statements(name):
            assert not references(statement) & {"TargetGroup", "LoadBalancer", "Listener"}, (name, statement)


def test_rds_reads_are_limited_to_this_account_and_region():
    ev = Evaluator(TEMPLATE, {"Sources": "rds-proxy:p"})
    for name in FUNCTIONS:
        rds = [s for s in statements(name) if any(a.startswith("rds:") for a in actions(s))]
        assert len(rds) == 1
        for arn in ev.eval(rds[0]["Resource"]):
            # Global Database ARNs name no Region: a global cluster spans several.
            region = "" if ":global-cluster:" in arn else "eu-west-1"
            assert arn.startswith(f"arn:aws:rds:{region}:123456789012:"), arn


def test_no_other_iam_resources():
    """All permissions are the functions' inline statements checked above."""
    for resource in RESOURCES.values():
        assert resource["Type"] not in {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User"}


# ----------------------------------------------------------------------- RDS events

# What EventBridge calls the events of each kind of source in EVENT_RULES.
DETAIL_TYPES = {
    "DbCluster": "RDS DB Cluster Event",
    "DbInstance": "RDS DB Instance Event",
    "DbProxy": "RDS DB Proxy Event",
    "BlueGreenDeployment": "RDS Blue Green Deployment Event",
}
# detail.SourceType of each kind, for the sample events below.
SOURCE_TYPES = {"DbCluster": "CLUSTER", "DbInstance": "DB_INSTANCE", "DbProxy": "DB_PROXY",
                "BlueGreenDeployment": "BLUE_GREEN_DEPLOYMENT"}


def failover_event_table() -> set[tuple[str, str]]:
    """(kind, event id) of every row of EVENT_RULES in shared/src/events.rs:
    the events the failover function acts on."""
    text = (ROOT / "shared/src/events.rs").read_text()
    start = text.index("pub const EVENT_RULES")
    table = text[start:text.index("];", start)]
    rows = re.findall(r'rule\(\s*"(RDS-EVENT-\d{4})"\s*,\s*(?:SourceKind::)?(\w+)\s*,', table)
    assert rows, "no rule(\"RDS-EVENT-nnnn\", Kind, ...) rows found in EVENT_RULES"
    assert len(rows) == table.count('"RDS-EVENT-'), "a row of EVENT_RULES is not in the rule(id, kind, ...) form"
    return {(kind, event_id) for event_id, kind in rows}


def source_kinds() -> list[str]:
    text = (ROOT / "shared/src/events.rs").read_text()
    body = re.search(r"pub enum SourceKind \{(.*?)\}", text, re.S).group(1)
    return re.findall(r"^\s*(\w+),?\s*$", body, re.M)


def rds_event_rule() -> dict:
    return RESOURCES["RdsEventRule"]["Properties"]


def sample_event(kind: str, event_id: str) -> dict:
    """An RDS event as EventBridge delivers it (only identifiers adapted)."""
    source_id = {"DbCluster": "orders", "DbInstance": "orders-1", "DbProxy": "orders-proxy",
                 "BlueGreenDeployment": "bgd-0123456789abcdef"}.get(kind, "orders")
    arn_kind = {"DbCluster": "cluster", "DbInstance": "db", "DbProxy": "db-proxy",
                "BlueGreenDeployment": "deployment"}.get(kind, "db")
    arn = f"arn:aws:rds:eu-west-1:123456789012:{arn_kind}:{source_id}"
    return {
        "version": "0",
        "id": "68f6e973-1a0c-d37b-f2f2-94a7f62ffd4e",
        "detail-type": DETAIL_TYPES.get(kind, "RDS DB Instance Event"),
        "source": "aws.rds",
        "account": "123456789012",
        "time": "2024-05-21T10:11:12Z",
        "region": "eu-west-1",
        "resources": [arn],
        "detail": {
            "EventCategories": ["failover"],
            "SourceType": SOURCE_TYPES.get(kind, "DB_INSTANCE"),
            "SourceArn": arn,
            "Date": "2024-05-21T10:11:12.123Z",
            "Message": "an event of the failover function's table",
            "SourceIdentifier": source_id,
            "EventID": event_id,
        },
    }


def test_every_kind_of_source_has_an_eventbridge_detail_type():
    """A new kind in SourceKind needs its detail-type here and in the rule's pattern."""
    kinds = source_kinds()
    assert {"DbCluster", "DbInstance", "DbProxy"} <= set(kinds)
    missing = [k for k in kinds if k not in DETAIL_TYPES]
    assert not missing, f"SourceKind {missing} has no EventBridge detail-type in DETAIL_TYPES"


def test_rds_event_rule_lists_exactly_the_events_of_the_failover_table():
    """Watch after an event: an event in EVENT_RULES that the rule does not deliver is never acted on,
    and the rule delivers nothing the function would ignore."""
    pattern = rds_event_rule()["EventPattern"]
    assert set(pattern) == {"source", "$or"}
    assert pattern["source"] == ["aws.rds"]
    listed: set[tuple[str, str]] = set()
    kind_of = {detail_type: kind for kind, detail_type in DETAIL_TYPES.items()}
    for branch in pattern["$or"]:
        assert set(branch) == {"detail-type", "detail"}, branch
        (detail_type,) = branch["detail-type"]
        assert set(branch["detail"]) == {"EventID"}, branch
        ids = branch["detail"]["EventID"]
        assert len(ids) == len(set(ids)), f"{detail_type}: an event listed twice"
        listed |= {(kind_of[detail_type], event_id) for event_id in ids}
    table = failover_event_table()
    assert listed == table, (
        f"in EVENT_RULES, not in the rule: {sorted(table - listed)}; in the rule only: {sorted(listed - table)}"
    )


def test_rds_event_rule_delivers_each_event_of_the_table_and_no_other():
    """Checked on events shaped as EventBridge delivers them."""
    pattern = rds_event_rule()["EventPattern"]
    table = failover_event_table()
    for kind, event_id in sorted(table):
        assert event_pattern_matches(pattern, sample_event(kind, event_id)), (kind, event_id)
    # A snapshot event, a cluster id on an instance event, an event of another service.
    assert not event_pattern_matches(pattern, sample_event("DbInstance", "RDS-EVENT-0169"))
    if ("DbInstance", "RDS-EVENT-0071") not in table:
        assert not event_pattern_matches(pattern, sample_event("DbInstance", "RDS-EVENT-0071"))
    other = sample_event("DbCluster", "RDS-EVENT-0071")
    other["source"] = "aws.ec2"
    assert not event_pattern_matches(pattern, other)
    snapshot = sample_event("DbInstance", "RDS-EVENT-0049")
    snapshot["detail-type"] = "RDS DB Snapshot Event"
    assert not event_pattern_matches(pattern, snapshot)


def test_rds_event_rule_targets_the_failover_function_with_retries_and_a_dead_letter_queue():
    props = rds_event_rule()
    assert props["State"] == "ENABLED"
    assert "EventBusName" not in props, "AWS events arrive on the default event bus"
    (target,) = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["SyncOnFailoverFunction", "Arn"]}
    retry = target["RetryPolicy"]
    assert 1 <= retry["MaximumRetryAttempts"] <= 185
    assert 60 <= retry["MaximumEventAgeInSeconds"] <= FUNCTIONS[FAILOVER]["Properties"]["EventInvokeConfig"][
        "MaximumEventAgeInSeconds"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]}}
    permission = RESOURCES["RdsEventRuleInvokesFailover"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["RdsEventRule", "Arn"]}
    (statement,) = RESOURCES["FailedInvocationsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["RdsEventRule", "Arn"]}}}


TOPIC = "arn:aws:sns:eu-west-1:123456789012:rds-events"
EVENT_ROUTES = {
    "eventbridge": {"RdsEventRule", "RdsEventRuleInvokesFailover", "FailedInvocationsQueuePolicy"},
    "sns": {"RdsEventTopicSubscription", "RdsEventTopicInvokesFailover"},
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    ("delivery", "expected"),
    [
        ("eventbridge", EVENT_ROUTES["eventbridge"]),
        ("sns", EVENT_ROUTES["sns"]),
        ("eventbridge-and-sns", EVENT_ROUTES["eventbridge"] | EVENT_ROUTES["sns"]),
    ],
)
def test_rds_events_reach_the_failover_function_by_the_chosen_route(shape, delivery, expected):
    """Fast detection, in both shapes: one account-wide rule, no per-database subscription."""
    ev = Evaluator(TEMPLATE, {**SHAPES[shape], "RdsEventDelivery": delivery, "RdsEventTopicArn": TOPIC})
    routes = EVENT_ROUTES["eventbridge"] | EVENT_ROUTES["sns"]
    assert set(created(TEMPLATE, ev)) & routes == expected
    assert not resources_of_type(TEMPLATE, "AWS::RDS::EventSubscription"), "the rule covers every database"
    assert not resources_of_type(TEMPLATE, "AWS::SNS::Topic").keys() - {"AlarmTopic"}


def test_the_sns_route_subscribes_the_failover_function_to_the_given_topic():
    ev = Evaluator(TEMPLATE, {**FUNCTIONS_ONLY, "RdsEventDelivery": "sns", "RdsEventTopicArn": TOPIC})
    subscription = ev.eval(RESOURCES["RdsEventTopicSubscription"]["Properties"])
    assert subscription == {"TopicArn": TOPIC, "Protocol": "lambda",
                            "Endpoint": {"Fn::GetAtt": ["SyncOnFailoverFunction", "Arn"]}}
    permission = ev.eval(RESOURCES["RdsEventTopicInvokesFailover"]["Properties"])
    assert permission["Principal"] == "sns.amazonaws.com"
    assert permission["SourceArn"] == TOPIC
    assert permission["SourceAccount"] == "123456789012"


def _rule_holds(name: str, parameters: dict) -> bool:
    """Whether a template rule lets these parameter values through."""
    ev = Evaluator(TEMPLATE, parameters)
    rule = TEMPLATE["Rules"][name]
    if "RuleCondition" in rule and not ev.eval(rule["RuleCondition"]):
        return True
    return all(ev.eval(a["Assert"]) for a in rule["Assertions"])


def test_the_sns_route_needs_a_topic():
    assert not _rule_holds("SnsDeliveryNeedsTopic", {**FUNCTIONS_ONLY, "RdsEventDelivery": "sns"})
    assert not _rule_holds("SnsDeliveryNeedsTopic", {**FUNCTIONS_ONLY, "RdsEventDelivery": "eventbridge-and-sns"})
    assert _rule_holds("SnsDeliveryNeedsTopic", {**FUNCTIONS_ONLY, "RdsEventDelivery": "sns", "RdsEventTopicArn": TOPIC})
    assert _rule_holds("SnsDeliveryNeedsTopic", FUNCTIONS_ONLY)
    pattern = re.compile(TEMPLATE["Parameters"]["RdsEventTopicArn"]["AllowedPattern"])
    assert pattern.fullmatch(TOPIC) and pattern.fullmatch("")
    assert not pattern.fullmatch("rds-events") and not pattern.fullmatch("arn:aws:sqs:eu-west-1:123456789012:q")


def test_the_full_producer_shape_needs_sources_and_functions_only_does_not():
    assert not _rule_holds("FullProducerNeedsSources", {})
    assert _rule_holds("FullProducerNeedsSources", FULL)
    assert _rule_holds("FullProducerNeedsSources", FUNCTIONS_ONLY)


@pytest.mark.parametrize(
    "sources",
    [
        "rds-cluster:prod",
        "rds-cluster:prod:writer",
        "rds-cluster:prod:readers rds-instance:reporting-1",
        "rds-proxy:app-proxy",
        "rds-proxy:app-proxy:read-only",
        "dns:db.internal.example.com",
    ],
)
def test_sources_parameter_accepts_the_tag_grammar(sources):
    assert re.fullmatch(TEMPLATE["Parameters"]["Sources"]["AllowedPattern"], sources)


@pytest.mark.parametrize(
    "sources",
    [" ", "rds-cluster:", "rds-cluster:prod:primary", "mysql:prod", "rds-proxy:a:b:c", "rds-cluster:prod,rds-proxy:p"],
)
def test_sources_parameter_rejects_what_the_functions_would_reject(sources):
    assert not re.fullmatch(TEMPLATE["Parameters"]["Sources"]["AllowedPattern"], sources)


# ------------------------------------------------------- what the stack may expose

# Each parameter of the installer's policy and the variable the functions read it from.
EXPOSURE_VARIABLES = {
    "AllowedSources": "NLB_SYNC_ALLOWED_SOURCES",
    "AllowedCidrs": "NLB_SYNC_ALLOWED_CIDRS",
    "AllowedTargetGroups": "NLB_SYNC_TARGET_GROUPS",
}
PRIVATE_RANGES = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"}
NARROWED = {"AllowedSources": "rds-proxy:*", "AllowedCidrs": "10.1.0.0/16 fd00:1::/32", "AllowedTargetGroups": "db-*"}


@pytest.mark.parametrize("shape", SHAPES)
def test_every_function_is_held_to_the_stacks_exposure_policy(shape):
    """Who may expose what: the same policy binds all three ways in, in both shapes."""
    ev = Evaluator(TEMPLATE, {**SHAPES[shape], **NARROWED})
    made = created(TEMPLATE, ev)
    for name, function in FUNCTIONS.items():
        assert name in made
        variables = ev.eval(function["Properties"]["Environment"]["Variables"])
        for parameter, variable in EXPOSURE_VARIABLES.items():
            assert variables[variable] == NARROWED[parameter], (name, variable)


def test_the_default_policy_allows_rds_sources_the_private_ranges_and_every_group():
    """A dns: name can point anywhere a private address answers: it must be allowed explicitly."""
    parameters = TEMPLATE["Parameters"]
    sources = parameters["AllowedSources"]["Default"].split()
    assert sources == ["rds-cluster:*", "rds-instance:*", "rds-proxy:*", "rds-cluster-endpoint:*"]
    assert set(parameters["AllowedCidrs"]["Default"].split()) == PRIVATE_RANGES
    assert parameters["AllowedTargetGroups"]["Default"] == "*"
    # The full-producer shape the tests deploy follows a source the default allows.
    assert any(re.fullmatch(pattern.replace("*", ".*"), FULL["Sources"]) for pattern in sources)


@pytest.mark.parametrize(
    ("parameter", "good", "bad"),
    [
        ("AllowedSources", ["", "*", "rds-cluster:prod-* dns:*.db.internal", "rds-cluster:Prod:readers"],
         ["rds-cluster:*,rds-proxy:*", "dns:db?.internal", "rds-proxy:*;"]),
        ("AllowedCidrs", ["", "10.1.0.0/16", "10.1.0.0/16 fd00:1::/32"],
         ["10.0.0.0/8,10.1.0.0/16", "vpc-cidr", "10.0.0.0/8;"]),
        ("AllowedTargetGroups", ["*", "db-* arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/x/*"],
         ["db-a,db-b", "db_a"]),
    ],
)
def test_exposure_parameters_take_space_separated_lists_only(parameter, good, bad):
    """A comma is the likeliest slip (other list parameters use them): refused before deploy."""
    spec = TEMPLATE["Parameters"][parameter]
    pattern = re.compile(spec["AllowedPattern"])
    assert pattern.fullmatch(spec["Default"])
    for value in good:
        assert pattern.fullmatch(value), value
    for value in bad:
        assert not pattern.fullmatch(value), value
    assert spec["MaxLength"] <= 1024, "all of the functions' variables must fit in Lambda's 4 KB"


def _emitted_metrics() -> set[str]:
    """The metric names the decision line declares (`shared/src/report.rs`)."""
    text = (ROOT / "shared" / "src" / "report.rs").read_text()
    return set(re.findall(r'\("([A-Za-z]+)", "(?:Count|Milliseconds)"\)', text))


@pytest.mark.parametrize("shape", SHAPES)
def test_a_refusal_raises_an_alarm_in_both_shapes(shape):
    ev = Evaluator(TEMPLATE, SHAPES[shape])
    alarm = created(TEMPLATE, ev)["ExposureRefusedAlarm"]["Properties"]
    stats = [m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m]
    names = {s["Metric"]["MetricName"] for s in stats}
    assert names == {"SourcesRefused", "AddressesRefused"}
    assert names <= _emitted_metrics(), "the functions emit what the alarm watches"
    for stat in stats:
        assert stat["Metric"]["Namespace"] == "NlbTargetSync"
        # The scheduled run visits every managed group each minute.
        assert stat["Metric"]["Dimensions"] == [{"Name": "Trigger", "Value": "schedule"}]
    [expression] = [m for m in alarm["Metrics"] if m.get("ReturnData")]
    assert "sources" in expression["Expression"] and "addresses" in expression["Expression"]
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["EvaluationPeriods"] == 1


# --------------------------------------------------------------------------- alarms


def _alarms() -> dict[str, dict]:
    return resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")


def test_every_function_has_an_errors_alarm():
    """Fail loudly: the functions fail when a target group fails; the alarm must see it."""
    alarmed = {
        a["Properties"]["Dimensions"][0]["Value"]["Ref"]
        for a in _alarms().values()
        if a["Properties"].get("Namespace") == "AWS/Lambda" and a["Properties"].get("MetricName") == "Errors"
    }
    assert alarmed == set(FUNCTIONS)


def test_a_schedule_that_stops_running_raises_an_alarm():
    props = _alarms()["ScheduleNotRunningAlarm"]["Properties"]
    assert props["MetricName"] == "Invocations"
    assert props["Dimensions"][0]["Value"] == {"Ref": SCHEDULE}
    assert props["ComparisonOperator"] == "LessThanThreshold"
    assert props["TreatMissingData"] == "breaching"
    assert props["EvaluationPeriods"] == {"Ref": "MissedScheduleAlarmMinutes"}


CENTRAL_TOPIC = "arn:aws:sns:eu-west-1:999988887777:central-alarms"


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("given", "expected"), [("", {"Ref": "AlarmTopic"}), (CENTRAL_TOPIC, CENTRAL_TOPIC)])
def test_every_alarm_notifies_the_stacks_topic_or_the_given_one(shape, given, expected):
    ev = Evaluator(TEMPLATE, {**SHAPES[shape], "ExistingAlarmTopicArn": given})
    made = created(TEMPLATE, ev)
    alarms = {n: r for n, r in made.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert len(alarms) >= 5
    for name, alarm in alarms.items():
        actions_ = ev.eval(alarm["Properties"])
        assert actions_["AlarmActions"] == [expected], name
        assert actions_.get("OKActions", [expected]) == [expected], name
    assert ("AlarmTopic" in made) == (given == "")
    assert ev.eval(TEMPLATE["Outputs"]["AlarmTopicArn"]["Value"]) == expected


def test_an_alarm_email_needs_the_stacks_own_topic():
    assert _rule_holds("AlarmEmailNeedsOwnTopic", {**FUNCTIONS_ONLY, "AlarmEmail": "dba@example.com"})
    assert not _rule_holds(
        "AlarmEmailNeedsOwnTopic",
        {**FUNCTIONS_ONLY, "AlarmEmail": "dba@example.com", "ExistingAlarmTopicArn": CENTRAL_TOPIC},
    )
    ev = Evaluator(TEMPLATE, {**FUNCTIONS_ONLY, "AlarmEmail": "dba@example.com"})
    assert "AlarmEmailSubscription" in created(TEMPLATE, ev)


# --------------------------------------------------------------------- parameters


def test_every_parameter_is_described_and_used():
    text = (ROOT / "template.yaml").read_text()
    for name, spec in TEMPLATE["Parameters"].items():
        assert len(spec.get("Description", "")) > 20, f"{name} needs a description"
        uses = len(re.findall(rf"\b{name}\b", text))
        assert uses >= 2, f"{name} is declared but not used"


@pytest.mark.parametrize("env", ["default", "functions-only"])
def test_samconfig_defaults(env):
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())[env]
    assert config["validate"]["parameters"]["lint"] is True
    deploy = config["deploy"]["parameters"]
    assert "CAPABILITY_IAM" in deploy["capabilities"]
    assert deploy["confirm_changeset"] is True
    assert deploy["resolve_s3"] is True
    assert config["build"]["parameters"]["cached"] is False
    overrides = dict(item.split("=", 1) for item in deploy.get("parameter_overrides", "").split())
    assert overrides == ({} if env == "default" else {"StackShape": "functions-only"})
    assert set(overrides) <= set(TEMPLATE["Parameters"])


def test_every_security_scan_suppression_is_explained():
    """A checkov finding is only suppressed with the reason next to it."""
    for path in ("template.yaml", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.yaml"))):
        for name, resource in load(path)["Resources"].items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (path, name, skip)
                assert len(skip.get("comment", "")) > 30, f"{path} {name}: {skip['id']} needs its reason"


def test_a_change_held_back_for_long_raises_an_alarm_for_this_target_group():
    """No removal on doubt: holding back is right for a while, never for good."""
    props = _alarms()["ChangesHeldBackAlarm"]["Properties"]
    assert props["Namespace"] == "NlbTargetSync"
    assert props["MetricName"] == "TargetsHeldBack"
    assert props["Dimensions"] == [{"Name": "TargetGroup", "Value": {"Fn::GetAtt": ["TargetGroup", "TargetGroupName"]}}]


# ------------------------------------------------------------------------- shapes

PRODUCER_ONLY = {
    "LoadBalancerSecurityGroup", "LoadBalancer", "TargetGroup", "Listener", "EndpointService",
    "EndpointServicePermissions", "TargetSync", "ChangesHeldBackAlarm", "NoHealthyTargetAlarm",
}
WITH_ENDPOINTS = {"CreateInterfaceEndpoints": "true", "CreateS3GatewayEndpoint": "true",
                  "CreateDynamoDbGatewayEndpoint": "true", "RouteTableIds": "rtb-0a1b2c"}
EVERY_OPTION = {**WITH_ENDPOINTS, "RdsEventDelivery": "eventbridge-and-sns", "RdsEventTopicArn": TOPIC,
                "AllowedAccountIds": "111122223333", "AlarmEmail": "dba@example.com",
                "TopicKmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/k"}


def test_stack_shape_is_asked_first_and_defaults_to_the_full_producer_stack():
    parameters = TEMPLATE["Parameters"]
    assert next(iter(parameters)) == "StackShape"
    assert parameters["StackShape"]["AllowedValues"] == ["full-producer", "functions-only"]
    assert parameters["StackShape"]["Default"] == "full-producer"


@pytest.mark.parametrize("options", [{}, EVERY_OPTION], ids=["defaults", "every-option"])
def test_the_full_producer_shape_creates_the_whole_producer_stack(options):
    made = created(TEMPLATE, Evaluator(TEMPLATE, {**FULL, **options}))
    expected = PRODUCER_ONLY if options else PRODUCER_ONLY - {"EndpointServicePermissions"}
    assert expected <= set(made)
    assert "ChangesHeldBackInSomeGroupAlarm" not in made
    assert set(FUNCTIONS) <= set(made)


@pytest.mark.parametrize("options", [{}, WITH_ENDPOINTS, EVERY_OPTION], ids=["defaults", "endpoints", "every-option"])
def test_the_functions_only_shape_creates_no_load_balancer_and_only_the_functions_networking(options):
    made = created(TEMPLATE, Evaluator(TEMPLATE, {**FUNCTIONS_ONLY, **options}))
    kinds = {r["Type"] for r in made.values()}
    assert not any(k.startswith("AWS::ElasticLoadBalancingV2::") for k in kinds), kinds
    assert not kinds & {"AWS::EC2::VPCEndpointService", "AWS::EC2::VPCEndpointServicePermissions",
                        "Custom::NlbTargetSync"}
    assert not PRODUCER_ONLY & set(made)
    networking = {n for n, r in made.items() if r["Type"].startswith("AWS::EC2::")}
    optional = {
        "ApiEndpointSecurityGroup", "ElbApiEndpoint", "RdsApiEndpoint", "S3GatewayEndpoint", "DynamoDbGatewayEndpoint"
    }
    assert networking == {"FunctionSecurityGroup"} | (optional if options else set())
    assert set(FUNCTIONS) <= set(made)
    assert "ChangesHeldBackInSomeGroupAlarm" in made


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("options", [{}, EVERY_OPTION], ids=["defaults", "every-option"])
def test_nothing_created_refers_to_something_the_shape_does_not_create(shape, options):
    """A shape that left out a resource another one still names would fail to deploy."""
    ev = Evaluator(TEMPLATE, {**SHAPES[shape], **options})
    made = created(TEMPLATE, ev)
    known = set(made) | set(TEMPLATE["Parameters"]) | {"AWS::Region", "AWS::AccountId", "AWS::Partition",
                                                       "AWS::StackName", "AWS::NoValue", "AWS::URLSuffix"}
    for name, resource in made.items():
        node = {k: v for k, v in resource.items() if k != "Condition"}
        missing = references(ev.eval(node)) - known
        missing |= {d for d in ([resource["DependsOn"]] if isinstance(resource.get("DependsOn"), str)
                                else resource.get("DependsOn", [])) if d not in made}
        assert not missing, f"{shape}: {name} refers to {missing}"
    for name, output in created_outputs(TEMPLATE, ev).items():
        missing = references(ev.eval(output["Value"])) - known
        assert not missing, f"{shape}: output {name} refers to {missing}"
    functions_config = references(ev.eval(TEMPLATE["Globals"]))
    assert not functions_config - known, functions_config - known


def _used_by(shape: str, options: dict | None = None) -> set[str]:
    """Parameters that what the shape creates (and its outputs) refer to."""
    ev = Evaluator(TEMPLATE, {**SHAPES[shape], **(options or {})})
    # Refs are followed before evaluation: evaluation replaces them by values.
    nodes = list(created(TEMPLATE, ev).values()) + list(created_outputs(TEMPLATE, ev).values())
    nodes.append(TEMPLATE["Globals"])
    used: set[str] = set()
    for node in nodes:
        used |= references(_conditions_resolved(ev, node))
    return used & set(TEMPLATE["Parameters"])


def _conditions_resolved(ev: Evaluator, node):
    """The node with each Fn::If replaced by its chosen branch, Refs kept."""
    if isinstance(node, list):
        return [_conditions_resolved(ev, n) for n in node]
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, yes, no = node["Fn::If"]
            return _conditions_resolved(ev, yes if ev.condition(name) else no)
        return {k: _conditions_resolved(ev, v) for k, v in node.items() if k != "Condition"}
    return node


def test_sam_deploy_guided_needs_answers_only_for_what_each_shape_uses():
    """`sam deploy --guided` asks for every parameter; only those without a default
    need an answer, and those are the ones both shapes use."""
    required = {name for name, spec in TEMPLATE["Parameters"].items() if "Default" not in spec}
    assert required == {"VpcId", "SubnetIds"}
    assert required <= _used_by("functions-only") & _used_by("full-producer")
    # What only the full producer stack uses says so, for the prompts and the console.
    producer_only = _used_by("full-producer", EVERY_OPTION) - _used_by("functions-only", EVERY_OPTION)
    assert producer_only == {"Sources", "DatabasePort", "DeregistrationDelaySeconds", "WaitForHealthySeconds",
                             "AllowedAccountIds", "AcceptanceRequired"}
    for name in producer_only | {"AllowedPrincipalArns"}:
        assert TEMPLATE["Parameters"][name]["Description"].startswith("full-producer only"), name
    for name in set(TEMPLATE["Parameters"]) - producer_only - {"AllowedPrincipalArns"}:
        assert "full-producer only" not in TEMPLATE["Parameters"][name]["Description"], name
    # Guided deploys ask in template order: the producer's parameters come last.
    order = list(TEMPLATE["Parameters"])
    first_producer_only = min(order.index(n) for n in producer_only | {"AllowedPrincipalArns"})
    assert set(order[first_producer_only:]) == producer_only | {"AllowedPrincipalArns"}, order
    assert order[1:3] == ["VpcId", "SubnetIds"]


def test_console_parameter_groups_list_every_parameter_once():
    groups = TEMPLATE["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    listed = [p for g in groups for p in g["Parameters"]]
    assert sorted(listed) == sorted(TEMPLATE["Parameters"])


# ---------------------------------------------------------- use from other stacks


@pytest.mark.parametrize("shape", SHAPES)
def test_the_custom_resource_is_exported_for_other_stacks(shape):
    ev = Evaluator(TEMPLATE, SHAPES[shape])
    output = created_outputs(TEMPLATE, ev)["ServiceToken"]
    assert output["Value"] == {"Fn::GetAtt": ["SyncOnDeployFunction", "Arn"]}
    assert ev.eval(output["Export"]["Name"]) == "link-ServiceToken"
    assert "FunctionSecurityGroupId" in created_outputs(TEMPLATE, ev)


def test_producer_outputs_exist_only_with_the_producer_stack():
    ev = Evaluator(TEMPLATE, FUNCTIONS_ONLY)
    outputs = created_outputs(TEMPLATE, ev)
    assert not {"EndpointServiceName", "LoadBalancerArn", "TargetGroupArn", "RegisteredTargets"} & set(outputs)


# ----------------------------------------------------- Serverless Application Repository


def test_serverless_repo_metadata_is_complete_and_publishable():
    app = TEMPLATE["Metadata"]["AWS::ServerlessRepo::Application"]
    assert re.fullmatch(r"[a-zA-Z0-9\-]+", app["Name"]) and len(app["Name"]) <= 140
    assert 1 <= len(app["Description"]) <= 256
    assert re.fullmatch(r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?", app["Author"]) and len(app["Author"]) <= 127
    assert app["SpdxLicenseId"] == tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["license"]
    assert len(app["Labels"]) <= 10 and all(re.fullmatch(r"[a-zA-Z0-9+\-_:/@]+", label) for label in app["Labels"])
    assert (ROOT / app["ReadmeUrl"]).is_file(), "sam package uploads the readme from this path"
    # A public application needs its license file; the workspace declares Apache-2.0.
    license_text = (ROOT / app["LicenseUrl"]).read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    for url in ("HomePageUrl", "SourceCodeUrl"):
        assert app[url].startswith("https://"), url
    # The version published is the version of the functions.
    for name in FUNCTIONS:
        crate = ROOT / FUNCTIONS[name]["Properties"]["CodeUri"] / "Cargo.toml"
        assert tomllib.loads(crate.read_text())["package"]["version"] == app["SemanticVersion"], crate
    assert "Fn::" not in str(app) and "Ref" not in str(app), "intrinsic functions are not allowed here"
