"""The example templates: the consumer side, the end-to-end demo database, and a
target group made outside the stack that uses its exported custom resource."""

from __future__ import annotations

import re
import tomllib

from cfn_helpers import ROOT, Evaluator, functions, load, resources_of_type

TEMPLATE = load("template.yaml")
CONSUMER = load("examples/consumer.yaml")
DEMO = load("examples/demo-database.yaml")


def test_consumer_endpoint_is_an_interface_endpoint_to_the_given_service():
    endpoint = CONSUMER["Resources"]["Endpoint"]["Properties"]
    assert endpoint["VpcEndpointType"] == "Interface"
    assert endpoint["ServiceName"] == {"Ref": "ServiceName"}
    assert endpoint["SecurityGroupIds"] == [{"Ref": "EndpointSecurityGroup"}]
    assert CONSUMER["Parameters"]["UseServicePrivateDns"]["Default"] == "false"
    pattern = CONSUMER["Parameters"]["ServiceName"]["AllowedPattern"]
    # What the provider stack outputs is what the consumer accepts.
    provider_output = Evaluator(TEMPLATE, {"Sources": "rds-proxy:p"}).eval(
        TEMPLATE["Outputs"]["EndpointServiceName"]["Value"]
    ).replace("${EndpointService}", "vpce-svc-0123456789abcdef0")
    assert re.fullmatch(pattern, provider_output)


def test_consumer_security_group_opens_only_the_database_port_to_the_clients():
    ingress = resources_of_type(CONSUMER, "AWS::EC2::SecurityGroupIngress")
    assert set(ingress) == {"IngressFromCidr", "IngressFromClientGroup"}
    for rule in ingress.values():
        props = rule["Properties"]
        assert props["GroupId"] == {"Ref": "EndpointSecurityGroup"}
        assert props["IpProtocol"] == "tcp"
        assert props["FromPort"] == props["ToPort"] == {"Ref": "DatabasePort"}
    assert CONSUMER["Parameters"]["DatabasePort"]["Default"] == TEMPLATE["Parameters"]["DatabasePort"]["Default"]


def test_consumer_private_name_is_optional_and_aliases_the_endpoint():
    for name in ("PrivateZone", "PrivateName"):
        assert CONSUMER["Resources"][name]["Condition"] == "HasPrivateDnsName"
    alias = CONSUMER["Resources"]["PrivateName"]["Properties"]["AliasTarget"]
    assert "Endpoint" in str(alias["DNSName"]) and "DnsEntries" in str(alias["DNSName"])
    assert not Evaluator(CONSUMER, {}).condition("HasPrivateDnsName")


def test_demo_is_an_aurora_postgresql_cluster_with_two_instances_and_a_proxy():
    resources = DEMO["Resources"]
    cluster = resources["Cluster"]["Properties"]
    assert cluster["Engine"] == "aurora-postgresql"
    assert cluster["StorageEncrypted"] is True
    instances = resources_of_type(DEMO, "AWS::RDS::DBInstance")
    assert len(instances) == 2
    assert all(i["Properties"]["DBClusterIdentifier"] == {"Ref": "Cluster"} for i in instances.values())
    proxy = resources["Proxy"]["Properties"]
    assert proxy["EngineFamily"] == "POSTGRESQL"
    assert resources["ProxyTargets"]["Properties"]["DBClusterIdentifiers"] == [{"Ref": "Cluster"}]
    zones = {str(s["Properties"]["AvailabilityZone"]) for s in resources_of_type(DEMO, "AWS::EC2::Subnet").values()}
    assert len(zones) == 2, "the load balancer needs two Availability Zones"


def test_demo_outputs_parameters_the_main_template_accepts():
    text = DEMO["Outputs"]["NlbTargetSyncParameters"]["Value"]["Fn::Sub"]
    pairs = dict(item.split("=", 1) for item in text.split())
    assert set(pairs) <= set(TEMPLATE["Parameters"])
    assert {"VpcId", "SubnetIds", "Sources"} <= set(pairs)
    # The demo VPC has no internet route: the functions need the API endpoints.
    assert pairs["CreateInterfaceEndpoints"] == "true" and pairs["CreateS3GatewayEndpoint"] == "true"
    assert pairs["CreateDynamoDbGatewayEndpoint"] == "true", "the functions take leases in DynamoDB"
    sources = pairs["Sources"].replace("${Proxy}", "nlbsync-demo-proxy")
    assert re.fullmatch(TEMPLATE["Parameters"]["Sources"]["AllowedPattern"], sources)
    for output in ("ClusterWriterSources", "ProxySources"):
        value = DEMO["Outputs"][output]["Value"]["Fn::Sub"]
        value = value.replace("${Cluster}", "nlbsync-demo").replace("${Proxy}", "nlbsync-demo-proxy")
        assert re.fullmatch(TEMPLATE["Parameters"]["Sources"]["AllowedPattern"], value), output


def test_demo_database_only_accepts_the_vpc_on_the_postgres_port():
    groups = resources_of_type(DEMO, "AWS::EC2::SecurityGroup")
    for name in ("DatabaseSecurityGroup", "ProxySecurityGroup"):
        (ingress,) = groups[name]["Properties"]["SecurityGroupIngress"]
        assert ingress["FromPort"] == ingress["ToPort"] == 5432
        assert ingress["CidrIp"] == {"Ref": "VpcCidr"}


EXISTING = load("examples/existing-target-group.yaml")


def test_existing_target_group_imports_the_service_token_the_template_exports():
    sync = EXISTING["Resources"]["DatabaseTargetSync"]
    assert sync["Type"] == "Custom::NlbTargetSync"
    props = sync["Properties"]
    stack = EXISTING["Parameters"]["NlbTargetSyncStack"]["Default"]
    imported = Evaluator(EXISTING, {}).eval(props["ServiceToken"]["Fn::ImportValue"])
    exported = Evaluator(TEMPLATE, {"StackShape": "functions-only"}, stack=stack).eval(
        TEMPLATE["Outputs"]["ServiceToken"]["Export"]["Name"]
    )
    assert imported == exported
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    assert stack == config["functions-only"]["global"]["parameters"]["stack_name"]
    timeout = functions(TEMPLATE)["SyncOnDeployFunction"]["Properties"]["Timeout"]
    assert timeout < props["ServiceTimeout"] <= timeout + 60
    assert props["TargetGroupArn"] == {"Ref": "DatabaseTargetGroup"}


def test_existing_target_group_leaves_targets_and_tags_to_nlb_target_sync():
    group = EXISTING["Resources"]["DatabaseTargetGroup"]["Properties"]
    assert group["TargetType"] == "ip" and group["Protocol"] == "TCP"
    assert "Targets" not in group, "listed targets would fight the functions"
    assert "Tags" not in group, "the custom resource writes the sync tags"
    attributes = {a["Key"]: a["Value"] for a in group["TargetGroupAttributes"]}
    assert attributes["deregistration_delay.connection_termination.enabled"] == "true"
