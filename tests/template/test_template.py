"""Properties of template.yaml that matter for correctness and safety. Each test
names the guard it checks (docs/architecture.md, "Guards")."""

from __future__ import annotations

import re
import tomllib

import pytest

from cfn_helpers import ROOT, Evaluator, functions, load, resources_of_type

TEMPLATE = load("template.yaml")
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = functions(TEMPLATE)

SOURCES_TAG = "nlb-target-sync:sources"
PORT_TAG = "nlb-target-sync:port"
VIEW_TAG = "nlb-target-sync:applied-view"
SYNC_TAGS = {SOURCES_TAG, PORT_TAG, VIEW_TAG}

# The function each binary is, and what it may do to target groups.
SCHEDULE, FAILOVER, DEPLOY = "SyncOnScheduleFunction", "SyncOnFailoverFunction", "SyncOnDeployFunction"

# Everything the functions call (README of the brief); nothing else is granted.
EXPECTED_ACTIONS = {
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
}
READ_ONLY = re.compile(r"^[a-z0-9-]+:(Describe|List|Get)[A-Za-z]*$")


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


def test_no_principal_means_no_permissions_resource():
    ev = Evaluator(TEMPLATE, {"Sources": "rds-proxy:p"})
    assert not ev.condition(RESOURCES["EndpointServicePermissions"]["Condition"])


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
    (event,) = props["Events"].values()
    assert event == {"Type": "SNS", "Properties": {"Topic": {"Ref": "RdsEventTopic"}}}


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
        assert endpoint["Condition"] in {"MakeInterfaceEndpoints", "MakeS3GatewayEndpoint"}, name
    ev = Evaluator(TEMPLATE, {"Sources": "rds-proxy:p"})
    assert not ev.condition("MakeInterfaceEndpoints") and not ev.condition("MakeS3GatewayEndpoint")
    (ingress,) = RESOURCES["ApiEndpointSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert ingress["SourceSecurityGroupId"] == {"Ref": "FunctionSecurityGroup"}
    assert ingress["FromPort"] == ingress["ToPort"] == 443


# ---------------------------------------------------------------------------- IAM


def test_functions_are_granted_only_the_calls_they_make():
    for name in FUNCTIONS:
        granted = {a for s in statements(name) for a in actions(s)}
        extra = {"elasticloadbalancing:RemoveTags"} if name == DEPLOY else set()
        assert granted == EXPECTED_ACTIONS | extra, name


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
    assert condition["ForAllValues:StringEquals"] == {"aws:TagKeys": [VIEW_TAG]}
    assert not _statements_with(name, "elasticloadbalancing:RemoveTags")


def test_deploy_function_acts_only_on_this_stacks_group_and_the_sync_tag_keys():
    for action in ("elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"):
        (statement,) = _statements_with(DEPLOY, action)
        assert statement["Resource"] == {"Ref": "TargetGroup"}
    for action in ("elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"):
        (statement,) = _statements_with(DEPLOY, action)
        assert statement["Resource"] == {"Ref": "TargetGroup"}
        condition = statement["Condition"]
        assert condition["Null"] == {"aws:TagKeys": "false"}
        assert set(condition["ForAllValues:StringEquals"]["aws:TagKeys"]) == SYNC_TAGS


def test_rds_reads_are_limited_to_this_account_and_region():
    ev = Evaluator(TEMPLATE, {"Sources": "rds-proxy:p"})
    for name in FUNCTIONS:
        rds = [s for s in statements(name) if any(a.startswith("rds:") for a in actions(s))]
        assert len(rds) == 1
        for arn in ev.eval(rds[0]["Resource"]):
            assert arn.startswith("arn:aws:rds:eu-west-1:123456789012:"), arn


def test_no_other_iam_resources():
    """All permissions are the functions' inline statements checked above."""
    for resource in RESOURCES.values():
        assert resource["Type"] not in {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User"}


# ----------------------------------------------------------------------- RDS events


def test_only_rds_of_this_account_may_publish_to_the_event_topic():
    policy = RESOURCES["RdsEventTopicPolicy"]["Properties"]
    assert policy["Topics"] == [{"Ref": "RdsEventTopic"}]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "events.rds.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "aws:SourceArn" in statement["Condition"]["ArnLike"]


# Event categories RDS accepts per source type (RDS user guide, event categories).
VALID_CATEGORIES = {
    "db-cluster": {"configuration change", "creation", "deletion", "failover", "failure", "global-failover",
                   "maintenance", "migration", "notification", "serverless"},
    "db-instance": {"availability", "backup", "configuration change", "creation", "deletion", "failover",
                    "failure", "low storage", "maintenance", "notification", "read replica", "recovery",
                    "restoration", "security", "security patching"},
    "db-proxy": {"configuration change", "creation", "deletion"},
}


def test_event_subscriptions_use_valid_categories_and_the_event_topic():
    subscriptions = resources_of_type(TEMPLATE, "AWS::RDS::EventSubscription")
    assert {s["Properties"]["SourceType"] for s in subscriptions.values()} == set(VALID_CATEGORIES)
    for name, subscription in subscriptions.items():
        props = subscription["Properties"]
        assert props["SnsTopicArn"] == {"Ref": "RdsEventTopic"}
        assert set(props.get("EventCategories", [])) <= VALID_CATEGORIES[props["SourceType"]], name
        assert "RdsEventTopicPolicy" in as_list(subscription["DependsOn"])
    cluster = subscriptions["ClusterEventSubscription"]["Properties"]["EventCategories"]
    assert "failover" in cluster
    instance = subscriptions["InstanceEventSubscription"]["Properties"]["EventCategories"]
    assert {"failover", "availability", "recovery"} <= set(instance)


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        ("rds-cluster:prod:writer", {"ClusterEventSubscription", "InstanceEventSubscription"}),
        ("rds-instance:db1", {"InstanceEventSubscription"}),
        ("rds-proxy:app", {"ProxyEventSubscription"}),
        ("rds-proxy:app:ro rds-cluster:c:readers", {"ProxyEventSubscription", "ClusterEventSubscription",
                                                    "InstanceEventSubscription"}),
        ("dns:db.example.internal", set()),
    ],
)
def test_event_subscriptions_follow_the_kinds_of_sources(sources, expected):
    ev = Evaluator(TEMPLATE, {"Sources": sources})
    subscriptions = resources_of_type(TEMPLATE, "AWS::RDS::EventSubscription")
    created = {name for name, s in subscriptions.items() if ev.condition(s["Condition"])}
    assert created == expected


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
    ["", "rds-cluster:", "rds-cluster:prod:primary", "mysql:prod", "rds-proxy:a:b:c", "rds-cluster:prod,rds-proxy:p"],
)
def test_sources_parameter_rejects_what_the_functions_would_reject(sources):
    assert not re.fullmatch(TEMPLATE["Parameters"]["Sources"]["AllowedPattern"], sources)


# --------------------------------------------------------------------------- alarms


def _alarms() -> dict[str, dict]:
    return resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")


def test_every_function_has_an_errors_alarm():
    """Fail loudly: the functions fail when a target group fails; the alarm must see it."""
    alarmed = {
        a["Properties"]["Dimensions"][0]["Value"]["Ref"]
        for a in _alarms().values()
        if a["Properties"]["Namespace"] == "AWS/Lambda" and a["Properties"]["MetricName"] == "Errors"
    }
    assert alarmed == set(FUNCTIONS)


def test_a_schedule_that_stops_running_raises_an_alarm():
    props = _alarms()["ScheduleNotRunningAlarm"]["Properties"]
    assert props["MetricName"] == "Invocations"
    assert props["Dimensions"][0]["Value"] == {"Ref": SCHEDULE}
    assert props["ComparisonOperator"] == "LessThanThreshold"
    assert props["TreatMissingData"] == "breaching"
    assert props["EvaluationPeriods"] == {"Ref": "MissedScheduleAlarmMinutes"}


def test_every_alarm_notifies_the_alarm_topic():
    for name, alarm in _alarms().items():
        assert {"Ref": "AlarmTopic"} in alarm["Properties"]["AlarmActions"], name


# --------------------------------------------------------------------- parameters


def test_every_parameter_is_described_and_used():
    text = (ROOT / "template.yaml").read_text()
    for name, spec in TEMPLATE["Parameters"].items():
        assert len(spec.get("Description", "")) > 20, f"{name} needs a description"
        uses = len(re.findall(rf"\b{name}\b", text))
        assert uses >= 2, f"{name} is declared but not used"


def test_samconfig_defaults():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]
    assert config["validate"]["parameters"]["lint"] is True
    deploy = config["deploy"]["parameters"]
    assert "CAPABILITY_IAM" in deploy["capabilities"]
    assert deploy["confirm_changeset"] is True
    assert deploy["resolve_s3"] is True
    assert "cached" in config["build"]["parameters"]


def test_every_security_scan_suppression_is_explained():
    """A checkov finding is only suppressed with the reason next to it."""
    for path in ("template.yaml", "examples/consumer.yaml", "examples/demo-database.yaml"):
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
